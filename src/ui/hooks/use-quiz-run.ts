import { useEffect, useLayoutEffect, useMemo, useReducer, useRef } from "react";
import { type QuizScore, scoreQuiz } from "../../course/quiz.js";
import type { Quiz } from "../../course/schema.js";
import { STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import type { KeyAction, Scope } from "../keys.js";
import { QUIZ_CHROME_LINES, type QuizLine, quizLines } from "../screens/QuizView.js";
import {
  initialQuizState,
  type QuizAction,
  type QuizState,
  quizReducer,
} from "../screens/quiz-state.js";
import { useTheme } from "../theme.js";
import { useKeys } from "./use-keys.js";

export interface QuizRunOptions {
  quiz: Quiz;
  /** The key table's scope: a lesson's quiz or the final exam. */
  scope: Extract<Scope, "quiz" | "exam">;
  width: number;
  /** Including the status bar. */
  height: number;
  isActive: boolean;
  /** Called once per finished attempt, with its score. */
  onScored: (score: QuizScore) => void;
  /** Keys the run does not handle itself (back, and e.g. the exam's summary). */
  onOther: (action: KeyAction) => void;
  /** The state the key table sees once the score shows; "done" unless given. */
  doneState?: string;
  /** Lines shown under the score and the pass mark, before the questions to review. */
  resultNote?: QuizLine[];
}

export interface QuizRun {
  state: QuizState;
  score: QuizScore | undefined;
  /** The body's lines, wrapped to the view's width. */
  lines: QuizLine[];
  scroll: number;
  /** The view's height: the screen's without the status bar. */
  viewHeight: number;
  /** The screen state for the status bar. */
  keyState: string;
}

/**
 * One quiz run: the questions one by one, feedback after each answer, then the score and the
 * questions to review; the keys that drive it. Shared by a lesson's quiz and the final exam.
 */
export function useQuizRun({
  quiz,
  scope,
  width,
  height,
  isActive,
  onScored,
  onOther,
  doneState = "done",
  resultNote,
}: QuizRunOptions): QuizRun {
  const theme = useTheme();
  const [state, dispatch] = useReducer(
    (s: QuizState, a: QuizAction) => quizReducer(quiz, s, a),
    undefined,
    () => initialQuizState(),
  );
  const score = useMemo(
    () => (state.phase === "done" ? scoreQuiz(quiz, state.answers) : undefined),
    [quiz, state.phase, state.answers],
  );

  const latest = useRef(onScored);
  useLayoutEffect(() => {
    latest.current = onScored;
  });
  const recorded = useRef(-1);
  useEffect(() => {
    if (!score || recorded.current === state.attempt) return;
    recorded.current = state.attempt;
    latest.current(score);
  }, [score, state.attempt]);

  let lines = quizLines(quiz, state, score, width - 4, theme, scope);
  if (state.phase === "done" && resultNote && resultNote.length > 0) {
    lines = [...lines.slice(0, 2), { text: "" }, ...resultNote, ...lines.slice(2)];
  }
  const viewHeight = height - STATUS_BAR_LINES;
  const bodyHeight = Math.max(1, viewHeight - QUIZ_CHROME_LINES);
  const maxScroll = Math.max(0, lines.length - bodyHeight);
  const scroll = Math.min(state.scroll, maxScroll);
  const keyState = state.phase === "done" ? doneState : state.phase;

  useKeys(
    scope,
    ({ action, digit }) => {
      switch (action) {
        case "choose":
          if (digit !== undefined) dispatch({ type: "choose", choice: digit - 1 });
          break;
        case "up":
        case "down": {
          const delta = action === "up" ? -1 : 1;
          dispatch(
            state.phase === "asking"
              ? { type: "move", delta }
              : { type: "scroll", delta, max: maxScroll },
          );
          break;
        }
        case "answer":
          dispatch({ type: "answer" });
          break;
        case "next":
          dispatch({ type: "next" });
          break;
        case "retake":
          dispatch({ type: "retake" });
          break;
        default:
          onOther(action);
      }
    },
    { isActive, state: keyState },
  );

  return { state, score, lines, scroll, viewHeight, keyState };
}
