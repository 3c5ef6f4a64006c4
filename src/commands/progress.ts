import { createInterface } from "node:readline";
import type { LoadedCourse } from "../course/schema.js";
import {
  completionMarkdown,
  completionText,
  courseResults,
  defaultSummaryPath,
  writeCompletionSummary,
} from "../progress/completion.js";
import type { ProgressStore } from "../progress/store.js";
import { summarizeLesson } from "../progress/summary.js";
import { findLesson, openCourse, openProgress, percent, table } from "./common.js";
import { CliError, PROGRAM } from "./errors.js";

/** Writes the completion summary (Markdown) to `file`, or beside progress.json; says where. */
function summaryCommand(
  course: LoadedCourse,
  progress: ProgressStore,
  file: string | undefined,
  json: boolean,
): void {
  const results = courseResults(course, progress);
  const target = file ?? defaultSummaryPath(progress);
  let path: string;
  try {
    path = writeCompletionSummary(completionMarkdown(results), target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CliError(
      `the summary could not be written to ${target} (${code}); name another file: ${PROGRAM} progress --summary FILE`,
      1,
    );
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ path, ...results }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${completionText(results).join("\n")}\n\nSummary written to ${path}\n`);
}

export async function progressCommand(opts: {
  json?: boolean;
  lessons?: string;
  summary?: string | boolean;
}): Promise<void> {
  const course = await openCourse(opts.lessons);
  const progress = await openProgress({ notice: true });
  if (opts.summary !== undefined && opts.summary !== false) {
    const file = typeof opts.summary === "string" ? opts.summary : undefined;
    summaryCommand(course, progress, file, opts.json === true);
    return;
  }
  const rows = course.lessons.map((lesson) => summarizeLesson(lesson, progress));
  const { classroomStatus } = await import("./classroom.js");
  const classroom = await classroomStatus(progress.home);
  if (opts.json) {
    const out = {
      path: progress.path,
      lessons: rows,
      last: progress.data.last ?? null,
      classroom: classroom?.json ?? null,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = [
    ["Lesson", "Pages", "Missions", "Quiz best", "Attempts"],
    ...rows.map((r) => [
      r.id,
      `${r.pagesRead}/${r.pageCount}`,
      `${r.missionsMet}/${r.missionCount}`,
      percent(r.quizBest),
      String(r.quizAttempts),
    ]),
  ];
  process.stdout.write(
    `Progress file: ${progress.path}\n\n${table(lines)}\n\nStart again: ${PROGRAM} progress reset [<id>]\n${classroom ? `${classroom.line}\n` : ""}`,
  );
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.once("close", () => resolve(undefined));
      rl.once("SIGINT", () => rl.close());
      rl.question(question, resolve);
    });
    return /^y(es)?$/i.test(answer?.trim() ?? "");
  } finally {
    rl.close();
  }
}

export async function resetCommand(
  id: string | undefined,
  opts: { yes?: boolean; lessons?: string },
): Promise<void> {
  const progress = await openProgress({ notice: true });
  let what = "all lessons";
  if (id !== undefined) {
    if (!Object.hasOwn(progress.data.lessons, id)) findLesson(await openCourse(opts.lessons), id);
    what = id;
  }
  if (!opts.yes) {
    if (!process.stdin.isTTY) {
      throw new CliError(
        `not resetting progress for ${what} without confirmation; pass --yes to reset it`,
        1,
      );
    }
    if (!(await confirm(`Reset progress for ${what}? [y/N] `))) {
      process.stdout.write("Nothing reset.\n");
      return;
    }
  }
  if (progress.readOnly) {
    throw new CliError(
      `progress was not reset: ${progress.path} is kept read-only (see the notice above); move it away to start afresh`,
      1,
    );
  }
  progress.reset(id);
  if (progress.notice) throw new CliError(`progress was not reset: ${progress.notice}`, 1);
  process.stdout.write(`Progress reset for ${what}.\n`);
}
