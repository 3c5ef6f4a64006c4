import { join, resolve } from "node:path";
import { writeFileAtomic } from "../atomic-write.js";
import { safeText } from "../course/control.js";
import { formatScore } from "../course/quiz.js";
import type { LoadedCourse } from "../course/schema.js";
import { IDLE_LIMIT_MS } from "./active-time.js";
import type { ProgressStore } from "./store.js";
import { summarizeLesson } from "./summary.js";

/** The completion summary's file name in the progress home. */
export const COMPLETION_FILE = "completion-summary.md";

export interface LessonResult {
  id: string;
  title: string;
  server: string;
  objectives: string[];
  /** Best quiz score, 0 to 1; null before the first attempt. */
  quizBest: number | null;
  quizAttempts: number;
  quizPassed: boolean;
  missionsMet: number;
  missionCount: number;
  timeMs: number;
}

export interface ExamResult {
  title: string;
  questionCount: number;
  passMark: number;
  /** Best score, 0 to 1; null before the first attempt. */
  best: number | null;
  attempts: number;
  passed: boolean;
  /** ISO 8601 date of the first pass. */
  passedAt?: string;
  timeMs: number;
}

/** Where the learner stands in the whole course: what the completion screen and summary show. */
export interface CourseResults {
  title: string;
  /** Every lesson's quiz passed, and the exam when the course has one. */
  complete: boolean;
  lessons: LessonResult[];
  exam?: ExamResult;
  missionsMet: number;
  missionCount: number;
  /** Active time on the lessons and the exam, in milliseconds. */
  timeMs: number;
  /** What is left before the course is complete, e.g. 'pass the quiz of "Gunicorn"'. */
  remaining: string[];
}

export function courseResults(course: LoadedCourse, progress: ProgressStore): CourseResults {
  const lessons = course.lessons.map((lesson): LessonResult => {
    const s = summarizeLesson(lesson, progress);
    const p = progress.lesson(lesson.id);
    return {
      id: lesson.id,
      title: lesson.meta.title,
      server: lesson.meta.server,
      objectives: lesson.meta.objectives,
      quizBest: s.quizBest,
      quizAttempts: s.quizAttempts,
      quizPassed: p?.quiz?.passed === true,
      missionsMet: s.missionsMet,
      missionCount: s.missionCount,
      timeMs: p?.timeMs ?? 0,
    };
  });
  const record = progress.data.exam;
  let exam: ExamResult | undefined;
  if (course.exam) {
    exam = {
      title: course.exam.title,
      questionCount: course.exam.questions.length,
      passMark: course.exam.passMark,
      best: record ? record.best : null,
      attempts: record?.attempts ?? 0,
      passed: record?.passed === true,
      timeMs: progress.data.examTimeMs ?? 0,
    };
    if (record?.passedAt !== undefined) exam.passedAt = record.passedAt;
  }
  const remaining = lessons
    .filter((l) => !l.quizPassed)
    .map((l) => `pass the quiz of "${l.title}"`);
  if (exam && !exam.passed) remaining.push(`pass the ${exam.title.toLowerCase()}`);
  const sum = (pick: (l: LessonResult) => number) => lessons.reduce((n, l) => n + pick(l), 0);
  const results: CourseResults = {
    title: course.course.title,
    complete: remaining.length === 0,
    lessons,
    missionsMet: sum((l) => l.missionsMet),
    missionCount: sum((l) => l.missionCount),
    timeMs: sum((l) => l.timeMs) + (exam?.timeMs ?? 0),
    remaining,
  };
  if (exam) results.exam = exam;
  return results;
}

/**
 * What is left, in one sentence part: each item while there are a few, else the quizzes counted
 * ('pass the quizzes of 9 lessons, from "HTTP basics" on; pass the final exam').
 */
export function remainingText(results: CourseResults): string {
  const quizzes = results.lessons.filter((l) => !l.quizPassed);
  if (results.remaining.length <= 3 || quizzes.length < 3) return results.remaining.join("; ");
  const rest = results.remaining.slice(quizzes.length);
  return [
    `pass the quizzes of ${quizzes.length} lessons, from "${quizzes[0]?.title}" on`,
    ...rest,
  ].join("; ");
}

/** "2 h 05 min", "12 min", "under a minute". */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.max(0, Number.isFinite(ms) ? ms : 0) / 60_000);
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** The date part of an ISO 8601 timestamp. */
export function isoDay(iso: string): string {
  return iso.slice(0, 10);
}

function cell(text: string): string {
  return safeText(text)
    .replace(/[\t\n]/g, " ")
    .replace(/\|/g, "\\|");
}

function line(text: string): string {
  return safeText(text).replace(/[\t\n]/g, " ");
}

/** The results as lines of plain text (plain mode, the summary command). */
export function completionText(results: CourseResults): string[] {
  const out: string[] = [];
  const { exam } = results;
  out.push(
    results.complete
      ? `Course complete: ${results.title}. Every lesson's quiz${exam ? ` and the ${exam.title.toLowerCase()}` : ""} passed.`
      : `${results.title}: not complete yet. Still to do: ${results.remaining.join("; ")}.`,
  );
  results.lessons.forEach((l, i) => {
    const best =
      l.quizBest === null
        ? "not taken"
        : `best ${formatScore(l.quizBest)}${l.quizPassed ? "" : ", not passed"}`;
    out.push(
      `  ${i + 1}. ${l.title}: quiz ${best}; missions ${l.missionsMet} of ${l.missionCount}; ${formatDuration(l.timeMs)}`,
    );
  });
  if (exam) {
    const best =
      exam.best === null
        ? "not taken"
        : `best ${formatScore(exam.best)} in ${exam.attempts} ${exam.attempts === 1 ? "attempt" : "attempts"}${exam.passed ? "" : ", not passed"}`;
    out.push(
      `  ${exam.title}: ${best} (pass mark ${formatScore(exam.passMark)}); ${formatDuration(exam.timeMs)}`,
    );
  }
  out.push(
    `Missions met: ${results.missionsMet} of ${results.missionCount}. Time spent: ${formatDuration(results.timeMs)} (active time).`,
  );
  return out.map((text) => safeText(text));
}

/** The summary a learner keeps: scores per lesson and exam, missions met, time spent, what was covered. */
export function completionMarkdown(results: CourseResults, writtenAt: Date = new Date()): string {
  const out: string[] = [];
  const { exam } = results;
  out.push(`# ${line(results.title)}: ${results.complete ? "course complete" : "progress so far"}`);
  out.push("");
  if (results.complete) {
    const passed = exam?.passedAt
      ? ` The ${line(exam.title.toLowerCase())} was first passed on ${isoDay(exam.passedAt)}.`
      : "";
    out.push(
      `Every lesson's quiz${exam ? ` and the ${line(exam.title.toLowerCase())}` : ""} passed.${passed}`,
    );
  } else {
    out.push(`Not complete yet. Still to do: ${results.remaining.map(line).join("; ")}.`);
  }
  out.push("");
  out.push("| # | Lesson | Quiz best | Attempts | Missions | Time |");
  out.push("|---:|---|---:|---:|---:|---:|");
  results.lessons.forEach((l, i) => {
    const best = l.quizBest === null ? "-" : formatScore(l.quizBest);
    out.push(
      `| ${i + 1} | ${cell(l.title)} | ${best}${l.quizPassed ? "" : " (not passed)"} | ${l.quizAttempts} | ${l.missionsMet} of ${l.missionCount} | ${formatDuration(l.timeMs)} |`,
    );
  });
  if (exam) {
    const best = exam.best === null ? "-" : formatScore(exam.best);
    out.push(
      `|  | **${cell(exam.title)}** (${exam.questionCount} questions, pass mark ${formatScore(exam.passMark)}) | ${best}${exam.passed ? "" : " (not passed)"} | ${exam.attempts} |  | ${formatDuration(exam.timeMs)} |`,
    );
  }
  out.push("");
  out.push(`- **Missions met:** ${results.missionsMet} of ${results.missionCount}`);
  out.push(
    `- **Time spent:** ${formatDuration(results.timeMs)} of active time (a pause counts ${IDLE_LIMIT_MS / 60_000} minutes at most)`,
  );
  if (exam) {
    const best =
      exam.best === null
        ? "not taken yet"
        : `best ${formatScore(exam.best)} in ${exam.attempts} ${exam.attempts === 1 ? "attempt" : "attempts"}`;
    out.push(
      `- **${line(exam.title)}:** ${best}${exam.passedAt ? `, first passed on ${isoDay(exam.passedAt)}` : ""}`,
    );
  }
  out.push("");
  out.push("## What the course covered");
  results.lessons.forEach((l, i) => {
    out.push("");
    out.push(`### ${i + 1}. ${line(l.title)} (${line(l.server)})`);
    out.push("");
    for (const objective of l.objectives) out.push(`- ${line(objective)}`);
  });
  out.push("");
  out.push(
    `Written by learn-webservers on ${writtenAt.toISOString().slice(0, 16).replace("T", " ")} UTC.`,
  );
  out.push("");
  return out.join("\n");
}

/** Where the summary goes unless the learner names a file: beside progress.json. */
export function defaultSummaryPath(progress: Pick<ProgressStore, "home">): string {
  return join(progress.home, COMPLETION_FILE);
}

/** Writes the summary atomically (a temporary file renamed over the old one); returns the full path. */
export function writeCompletionSummary(markdown: string, file: string): string {
  const path = resolve(file);
  writeFileAtomic(path, markdown);
  return path;
}
