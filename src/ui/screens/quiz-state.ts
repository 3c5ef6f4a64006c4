import type { Quiz } from "../../course/schema.js";

export type QuizPhase = "asking" | "feedback" | "done";

export interface QuizState {
  index: number;
  /** The highlighted choice while asking. */
  cursor: number;
  answers: (number | undefined)[];
  phase: QuizPhase;
  /** Counts retakes, so an attempt's score is recorded once. */
  attempt: number;
  scroll: number;
}

export type QuizAction =
  | { type: "move"; delta: number }
  | { type: "choose"; choice: number }
  | { type: "answer" }
  | { type: "next" }
  | { type: "scroll"; delta: number; max: number }
  | { type: "retake" };

export function initialQuizState(attempt = 0): QuizState {
  return { index: 0, cursor: 0, answers: [], phase: "asking", attempt, scroll: 0 };
}

export function quizReducer(quiz: Quiz, state: QuizState, action: QuizAction): QuizState {
  const question = quiz.questions[state.index];
  switch (action.type) {
    case "move": {
      if (state.phase !== "asking" || !question) return state;
      const count = question.choices.length;
      return { ...state, cursor: (state.cursor + action.delta + count) % count };
    }
    case "choose": {
      if (state.phase !== "asking" || !question) return state;
      if (action.choice < 0 || action.choice >= question.choices.length) return state;
      const answers = [...state.answers];
      answers[state.index] = action.choice;
      return { ...state, cursor: action.choice, answers, phase: "feedback", scroll: 0 };
    }
    case "answer":
      return quizReducer(quiz, state, { type: "choose", choice: state.cursor });
    case "next": {
      if (state.phase !== "feedback") return state;
      if (state.index + 1 >= quiz.questions.length) return { ...state, phase: "done", scroll: 0 };
      return { ...state, index: state.index + 1, cursor: 0, phase: "asking", scroll: 0 };
    }
    case "scroll":
      return { ...state, scroll: Math.max(0, Math.min(action.max, state.scroll + action.delta)) };
    case "retake":
      return initialQuizState(state.attempt + 1);
  }
}
