import type { Lesson } from "../course/schema.js";
import type { ProgressStore } from "./store.js";

/** What "Continue" needs from the progress store; reads only. */
export type ProgressView = Pick<ProgressStore, "data" | "lesson" | "lessonState">;

export interface NextStep {
  lesson: Lesson;
  screen: "reader" | "lab" | "quiz";
  /** The page to open in the reader; 0 for the lab and the quiz. */
  page: number;
  /** True when this is the saved position, false when it is the first lesson not done yet. */
  resumed: boolean;
}

/** Where a lesson that is not done goes on: its first unread page, else its lab while missions remain, else its quiz. */
export function lessonStep(lesson: Lesson, progress: ProgressView): NextStep {
  const p = progress.lesson(lesson.id);
  const read = new Set(p?.pagesRead ?? []);
  const unread = lesson.pages.findIndex((_, page) => !read.has(page));
  if (unread >= 0) return { lesson, screen: "reader", page: unread, resumed: false };
  const met = new Set(p?.missionsMet ?? []);
  if (lesson.lab.missions.some((m) => !met.has(m.id)))
    return { lesson, screen: "lab", page: 0, resumed: false };
  return { lesson, screen: "quiz", page: 0, resumed: false };
}

/**
 * The next useful step of the course: the saved position, unless its lesson is done or what it
 * points at is finished (the quiz passed, every mission of the lab met). A finished lab goes on
 * in its own lesson (its unread pages, then its quiz); otherwise the first lesson not done (see
 * `lessonStep`).
 * Undefined when every lesson is done.
 */
export function nextStep(lessons: readonly Lesson[], progress: ProgressView): NextStep | undefined {
  const last = progress.data.last;
  const lesson = last && lessons.find((l) => l.id === last.lessonId);
  if (last && lesson && last.screen !== "map" && progress.lessonState(lesson) !== "done") {
    const p = progress.lesson(lesson.id);
    const quizPassed = p?.quiz?.passed === true;
    const missionsMet = lesson.lab.missions.every((m) => p?.missionsMet.includes(m.id));
    const finished = last.screen === "quiz" ? quizPassed : last.screen === "lab" && missionsMet;
    if (!finished) {
      const page =
        last.screen === "reader" ? Math.max(0, Math.min(last.page, lesson.pages.length - 1)) : 0;
      return { lesson, screen: last.screen, page, resumed: true };
    }
    // Its lab finished: the same lesson goes on (pages left unread, then its quiz).
    if (last.screen === "lab" && !quizPassed) return lessonStep(lesson, progress);
  }
  const next = lessons.find((l) => progress.lessonState(l) !== "done");
  return next ? lessonStep(next, progress) : undefined;
}
