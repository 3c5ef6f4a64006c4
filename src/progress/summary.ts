import type { Lesson } from "../course/schema.js";
import type { ProgressStore } from "./store.js";
import type { LessonState } from "./types.js";

export const STATE_LABEL: Record<LessonState, string> = {
  new: "new",
  "in-progress": "in progress",
  done: "done",
};

export interface LessonSummary {
  id: string;
  title: string;
  state: LessonState;
  pagesRead: number;
  pageCount: number;
  missionsMet: number;
  missionCount: number;
  /** Best quiz score, 0 to 1; null before the first attempt. */
  quizBest: number | null;
  quizAttempts: number;
}

/** How far the learner is in one lesson, counting only pages and missions the lesson still has. */
export function summarizeLesson(lesson: Lesson, progress: ProgressStore): LessonSummary {
  const p = progress.lesson(lesson.id);
  const pageCount = lesson.pages.length;
  const missionIds = new Set(lesson.lab.missions.map((m) => m.id));
  return {
    id: lesson.id,
    title: lesson.meta.title,
    state: progress.lessonState(lesson),
    pagesRead: new Set((p?.pagesRead ?? []).filter((i) => i >= 0 && i < pageCount)).size,
    pageCount,
    missionsMet: (p?.missionsMet ?? []).filter((id) => missionIds.has(id)).length,
    missionCount: missionIds.size,
    quizBest: p?.quiz ? p.quiz.best : null,
    quizAttempts: p?.quiz?.attempts ?? 0,
  };
}
