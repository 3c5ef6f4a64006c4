import { useState } from "react";
import { formatScore } from "../../course/quiz.js";
import type { Exam, LoadedCourse } from "../../course/schema.js";
import { courseResults, remainingText } from "../../progress/completion.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame } from "../components/ScreenFrame.js";
import { useQuizRun } from "../hooks/use-quiz-run.js";
import { wrap } from "../text.js";
import { useTheme } from "../theme.js";
import { type QuizLine, QuizView } from "./QuizView.js";

export interface ExamScreenProps {
  course: LoadedCourse;
  exam: Exam;
  progress: ProgressStore;
  width: number;
  height: number;
  isActive: boolean;
  onBack: () => void;
  /** Opens the completion screen (Enter after a pass that completes the course). */
  onSummary: () => void;
  onError: (message: string) => void;
}

/** The final exam: the quiz machinery over the exam's questions, recorded in progress as the exam. */
export function ExamScreen({
  course,
  exam,
  progress,
  width,
  height,
  isActive,
  onBack,
  onSummary,
  onError,
}: ExamScreenProps) {
  const theme = useTheme();
  // Bumped when a score is saved, so that the completion it may bring shows at once.
  const [, setSaved] = useState(0);
  const results = courseResults(course, progress);
  const passedExam = results.exam?.passed === true;

  let note: QuizLine[] = [];
  if (results.complete) {
    note = wrap(
      `${theme.symbols.correct} Course complete: every lesson's quiz and the exam are passed. Press Enter for your completion summary.`,
      width - 4,
    ).map((text) => ({ text, color: theme.status.success, bold: true }));
  } else if (passedExam) {
    note = wrap(
      `Still to do before the course is complete: ${remainingText(results)}.`,
      width - 4,
    ).map((text) => ({ text, color: theme.status.warning }));
  }

  const { state, score, lines, scroll, viewHeight, keyState } = useQuizRun({
    quiz: exam,
    scope: "exam",
    width,
    height,
    isActive,
    doneState: results.complete ? "complete" : "done",
    resultNote: note,
    onScored: (result) => {
      try {
        progress.recordExam(result.score, result.passed);
      } catch (err) {
        onError(
          `Could not save your exam score: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      setSaved((n) => n + 1);
    },
    onOther: (action) => {
      if (action === "back") onBack();
      else if (action === "summary") onSummary();
    },
  });

  const total = exam.questions.length;
  const question = exam.questions[state.index];
  let footer: string;
  let position: string;
  if (state.phase === "done") {
    position = score ? `score ${formatScore(score.score)}` : "";
    footer = results.complete
      ? "Enter: your completion summary   r: retake"
      : score?.passed
        ? "Enter: back to the course map   r: retake"
        : "r: retake the exam   Enter: back to the map";
  } else {
    position = `question ${state.index + 1} of ${total}`;
    footer =
      state.phase === "asking"
        ? `Press 1-${question?.choices.length ?? 4}, or move with ↑↓ and press Enter`
        : state.index + 1 < total
          ? "Enter: next question"
          : "Enter: see your score";
  }
  const from = question?.lessonId && course.lessons.find((l) => l.id === question.lessonId);
  const title =
    state.phase !== "done" && from ? `${exam.title} · from ${from.meta.title}` : exam.title;

  return (
    <ScreenFrame
      scope="exam"
      state={keyState}
      digits={question?.choices.length}
      width={width}
      height={height}
    >
      <QuizView
        title={title}
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
