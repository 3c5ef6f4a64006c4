import type { Lesson } from "../course/schema.js";
import type { NextStep } from "../progress/next-step.js";
import type { ProgressStore } from "../progress/store.js";
import { type LessonSummary as BaseSummary, summarizeLesson } from "../progress/summary.js";

export type Route =
  | { screen: "map" }
  | { screen: "reader"; lessonId: string; page: number }
  | { screen: "lab"; lessonId: string }
  | { screen: "quiz"; lessonId: string }
  | { screen: "exam" }
  | { screen: "completion" };

/** A route on one lesson's screens (reader, lab, quiz). */
export type LessonRoute = Extract<Route, { lessonId: string }>;

export function isLessonRoute(route: Route): route is LessonRoute {
  return "lessonId" in route;
}

export type LessonScreen = "reader" | "lab" | "quiz";

/** The page a lesson opens at: the last position's page, else the first unread one. */
export function resumePage(lesson: Lesson, progress: ProgressStore): number {
  const last = progress.data.last;
  const count = lesson.pages.length;
  if (last?.lessonId === lesson.id && last.screen === "reader" && last.page < count)
    return last.page;
  const read = new Set(progress.lesson(lesson.id)?.pagesRead ?? []);
  for (let page = 0; page < count; page++) if (!read.has(page)) return page;
  return 0;
}

export function lessonRoute(
  lesson: Lesson,
  screen: LessonScreen,
  progress: ProgressStore,
): LessonRoute {
  if (screen === "reader")
    return { screen, lessonId: lesson.id, page: resumePage(lesson, progress) };
  return { screen, lessonId: lesson.id };
}

/** The route that opens a step of the course (e.g. where "Continue" leads). */
export function stepRoute(step: NextStep): LessonRoute {
  const lessonId = step.lesson.id;
  return step.screen === "reader"
    ? { screen: "reader", lessonId, page: step.page }
    : { screen: step.screen, lessonId };
}

export function describeRoute(route: LessonRoute, lesson: Lesson): string {
  switch (route.screen) {
    case "reader":
      return `reading, page ${route.page + 1} of ${lesson.pages.length}`;
    case "lab":
      return "lab";
    case "quiz":
      return "quiz";
  }
}

export interface LessonSummary extends BaseSummary {
  lesson: Lesson;
}

export function summarize(lesson: Lesson, progress: ProgressStore): LessonSummary {
  return { lesson, ...summarizeLesson(lesson, progress) };
}
