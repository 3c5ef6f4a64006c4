import { formatScore } from "../../course/quiz.js";
import type { Lesson } from "../../course/schema.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame } from "../components/ScreenFrame.js";
import { useQuizRun } from "../hooks/use-quiz-run.js";
import { QuizView } from "./QuizView.js";

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
  const { quiz } = lesson;
  const { state, score, lines, scroll, viewHeight, keyState } = useQuizRun({
    quiz,
    scope: "quiz",
    width,
    height,
    isActive,
    onScored: (result) => {
      try {
        progress.recordQuiz(lesson.id, result.score, result.passed);
      } catch (err) {
        onError(
          `Could not save your quiz score: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    },
    onOther: (action) => {
      if (action === "back") onBack();
    },
  });

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
      state={keyState}
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
