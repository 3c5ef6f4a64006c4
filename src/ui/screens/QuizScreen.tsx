import { useEffect, useMemo, useReducer, useRef } from "react";
import { formatScore, scoreQuiz } from "../../course/quiz.js";
import type { Lesson } from "../../course/schema.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { useKeys } from "../hooks/use-keys.js";
import { useTheme } from "../theme.js";
import { QUIZ_CHROME_LINES, QuizView, quizLines } from "./QuizView.js";
import { initialQuizState, type QuizAction, type QuizState, quizReducer } from "./quiz-state.js";

export interface QuizScreenProps {
  lesson: Lesson;
  progress: ProgressStore;
  width: number;
  height: number;
  isActive: boolean;
  onBack: () => void;
  onError: (message: string) => void;
}

export function QuizScreen({
  lesson,
  progress,
  width,
  height,
  isActive,
  onBack,
  onError,
}: QuizScreenProps) {
  const theme = useTheme();
  const { quiz } = lesson;
  const [state, dispatch] = useReducer(
    (s: QuizState, a: QuizAction) => quizReducer(quiz, s, a),
    undefined,
    () => initialQuizState(),
  );
  const score = useMemo(
    () => (state.phase === "done" ? scoreQuiz(quiz, state.answers) : undefined),
    [quiz, state.phase, state.answers],
  );

  const recorded = useRef(-1);
  useEffect(() => {
    if (!score || recorded.current === state.attempt) return;
    recorded.current = state.attempt;
    try {
      progress.recordQuiz(lesson.id, score.score, score.passed);
    } catch (err) {
      onError(
        `Could not save your quiz score: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }, [score, state.attempt, progress, lesson.id, onError]);

  const bodyWidth = width - 4;
  const lines = quizLines(quiz, state, score, bodyWidth, theme);
  const viewHeight = height - STATUS_BAR_LINES;
  const bodyHeight = Math.max(1, viewHeight - QUIZ_CHROME_LINES);
  const maxScroll = Math.max(0, lines.length - bodyHeight);
  const scroll = Math.min(state.scroll, maxScroll);

  useKeys(
    "quiz",
    ({ action, digit }) => {
      switch (action) {
        case "choose":
          if (digit !== undefined) dispatch({ type: "choose", choice: digit - 1 });
          break;
        case "up":
          dispatch(
            state.phase === "asking"
              ? { type: "move", delta: -1 }
              : { type: "scroll", delta: -1, max: maxScroll },
          );
          break;
        case "down":
          dispatch(
            state.phase === "asking"
              ? { type: "move", delta: 1 }
              : { type: "scroll", delta: 1, max: maxScroll },
          );
          break;
        case "answer":
          dispatch({ type: "answer" });
          break;
        case "next":
          dispatch({ type: "next" });
          break;
        case "retake":
          dispatch({ type: "retake" });
          break;
        case "back":
          onBack();
          break;
      }
    },
    { isActive, state: state.phase },
  );

  const total = quiz.questions.length;
  let footer: string;
  let position: string;
  if (state.phase === "done") {
    position = score ? `score ${formatScore(score.score)}` : "";
    footer = score?.passed
      ? "Enter: back to the course map   r: retake"
      : "r: retake the quiz   Enter: back to the map";
  } else {
    position = `question ${state.index + 1} of ${total}`;
    footer =
      state.phase === "asking"
        ? `Press 1-${quiz.questions[state.index]?.choices.length ?? 4}, or move with ↑↓ and press Enter`
        : state.index + 1 < total
          ? "Enter: next question"
          : "Enter: see your score";
  }

  return (
    <ScreenFrame
      scope="quiz"
      state={state.phase}
      digits={quiz.questions[state.index]?.choices.length}
      width={width}
      height={height}
    >
      <QuizView
        title={`Quiz · ${lesson.meta.title}`}
        position={position}
        lines={lines}
        scroll={scroll}
        footer={footer}
        width={width}
        height={viewHeight}
      />
    </ScreenFrame>
  );
}
