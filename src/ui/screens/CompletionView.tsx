import { formatScore } from "../../course/quiz.js";
import { IDLE_LIMIT_MS } from "../../progress/active-time.js";
import {
  type CourseResults,
  formatDuration,
  isoDay,
  remainingText,
} from "../../progress/completion.js";
import { padTo, wrap } from "../text.js";
import type { Theme } from "../theme.js";
import type { QuizLine } from "./QuizView.js";

/** Where the summary file stands: written to `path`, or not written and why. */
export type SummaryFile = { path: string } | { error: string };

const SCORE_WIDTH = 7;
const MISSIONS_WIDTH = 10;
const TIME_WIDTH = 12;

function row(title: string, score: string, missions: string, time: string, width: number): string {
  const titleWidth = Math.max(10, width - SCORE_WIDTH - MISSIONS_WIDTH - TIME_WIDTH);
  return `${padTo(title, titleWidth)}${padTo(score, SCORE_WIDTH)}${padTo(missions, MISSIONS_WIDTH)}${time}`;
}

/** The completion screen's body at `width`: the outcome, where the summary is, the scores, the totals. */
export function completionLines(
  results: CourseResults,
  file: SummaryFile | undefined,
  width: number,
  theme: Theme,
): QuizLine[] {
  const lines: QuizLine[] = [];
  const add = (text: string, style: Omit<QuizLine, "text"> = {}) => {
    for (const part of wrap(text, width)) lines.push({ text: part, ...style });
  };
  const { exam } = results;
  if (results.complete) {
    add(
      `${theme.symbols.correct} Every lesson's quiz${exam ? ` and the ${exam.title.toLowerCase()}` : ""} passed: well done.`,
      { color: theme.status.success, bold: true },
    );
  } else {
    add(`Not complete yet. Still to do: ${remainingText(results)}.`, {
      color: theme.status.warning,
      bold: true,
    });
  }
  if (file === undefined) {
    add("Writing your summary…", { color: theme.text.secondary });
  } else if ("path" in file) {
    add("Your summary, in Markdown, to keep:");
    add(`  ${file.path}`, { color: theme.text.link });
  } else {
    add(`${theme.symbols.warning} ${file.error}`, { color: theme.status.error });
  }
  lines.push({ text: "" });
  lines.push({ text: row("Lesson", "Quiz", "Missions", "Time", width), bold: true });
  results.lessons.forEach((l, i) => {
    const best = l.quizBest === null ? "-" : formatScore(l.quizBest);
    lines.push({
      text: row(
        `${i + 1}. ${l.title}`,
        best,
        `${l.missionsMet}/${l.missionCount}`,
        formatDuration(l.timeMs),
        width,
      ),
      color: l.quizPassed ? undefined : theme.status.warning,
    });
  });
  if (exam) {
    const best = exam.best === null ? "-" : formatScore(exam.best);
    lines.push({
      text: row(exam.title, best, "", formatDuration(exam.timeMs), width),
      bold: true,
      color: exam.passed ? undefined : theme.status.warning,
    });
  }
  lines.push({ text: "" });
  add(`Missions met: ${results.missionsMet} of ${results.missionCount}`);
  add(
    `Time spent: ${formatDuration(results.timeMs)} (active time; a pause counts ${IDLE_LIMIT_MS / 60_000} min at most)`,
  );
  if (exam) {
    const attempts = `${exam.attempts} ${exam.attempts === 1 ? "attempt" : "attempts"}`;
    add(
      exam.passedAt
        ? `${exam.title}: best ${formatScore(exam.best ?? 0)} in ${attempts}, first passed on ${isoDay(exam.passedAt)} (pass mark ${formatScore(exam.passMark)})`
        : `${exam.title}: ${exam.attempts === 0 ? "not taken yet" : `best ${formatScore(exam.best ?? 0)} in ${attempts}`} (pass mark ${formatScore(exam.passMark)})`,
    );
  }
  return lines;
}
