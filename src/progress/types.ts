export const PROGRESS_VERSION = 1;

export interface QuizRecord {
  best: number;
  last: number;
  attempts: number;
  passed: boolean;
}

export interface LessonProgress {
  pagesRead: number[];
  pageCount: number;
  missionsMet: string[];
  labOpened: boolean;
  quiz?: QuizRecord;
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
}

export type LessonState = "new" | "in-progress" | "done";
