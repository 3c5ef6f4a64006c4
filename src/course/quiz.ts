import type { Quiz } from "./schema.js";

export interface QuizScore {
  correct: number;
  total: number;
  /** 0 to 1. */
  score: number;
  passed: boolean;
  /** Indices of the questions answered wrongly or not at all. */
  missed: number[];
}

/** Absorbs float error, so that 7 of 10 against a pass mark of 0.7 passes. */
const EPSILON = 1e-9;

export function scoreQuiz(quiz: Quiz, answers: (number | undefined)[]): QuizScore {
  const missed: number[] = [];
  quiz.questions.forEach((question, i) => {
    if (answers[i] !== question.answer) missed.push(i);
  });
  const total = quiz.questions.length;
  const correct = total - missed.length;
  const score = total === 0 ? 0 : correct / total;
  return { correct, total, score, passed: score + EPSILON >= quiz.passMark, missed };
}

/** A score as a whole percentage, rounded down so that a fail never reads as the pass mark. */
export function formatScore(score: number): string {
  const clamped = Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
  return `${Math.floor(clamped * 100 + EPSILON)}%`;
}
