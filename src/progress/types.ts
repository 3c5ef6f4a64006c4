export const PROGRESS_VERSION = 1;

export interface QuizRecord {
  best: number;
  last: number;
  attempts: number;
  passed: boolean;
}

/** The final exam's results: a quiz record with dates. */
export interface ExamRecord extends QuizRecord {
  /** When the last attempt was scored (ISO 8601). */
  date: string;
  /** When the exam was first passed (ISO 8601). */
  passedAt?: string;
}

export interface LessonProgress {
  pagesRead: number[];
  pageCount: number;
  missionsMet: string[];
  labOpened: boolean;
  quiz?: QuizRecord;
  /** Active time on the lesson's pages, lab and quiz, in milliseconds (idle stretches bounded). */
  timeMs?: number;
  updatedAt: string;
}

export type Screen = "map" | "reader" | "lab" | "quiz";

export interface Position {
  lessonId: string;
  screen: Screen;
  page: number;
}

export interface ProgressData {
  version: typeof PROGRESS_VERSION;
  lessons: Record<string, LessonProgress>;
  last?: Position;
  exam?: ExamRecord;
  /** Active time on the final exam, in milliseconds. */
  examTimeMs?: number;
}

export type LessonState = "new" | "in-progress" | "done";
