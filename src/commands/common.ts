import { safeText } from "../course/control.js";
import { formatScore } from "../course/quiz.js";
import type { Lesson, LoadedCourse } from "../course/schema.js";
import { defaultLessonsDir } from "../paths.js";
import type { ProgressStore } from "../progress/store.js";
import { CliError, PROGRAM, shellArg, usageError } from "./errors.js";

/** Problems shown when a pack fails to load; `validate` shows them all. */
const PROBLEMS_SHOWN = 5;

export async function openCourse(dir: string | undefined): Promise<LoadedCourse> {
  const { loadCompiledCourse } = await import("../course/compiled.js");
  const compiled = loadCompiledCourse(dir ?? defaultLessonsDir());
  if (compiled) return compiled;
  const { loadCourse, CoursePackError, formatProblem } = await import("../course/loader.js");
  try {
    return await loadCourse(dir);
  } catch (err) {
    if (!(err instanceof CoursePackError)) throw err;
    const where = dir ?? defaultLessonsDir();
    const problems = err.problems;
    const lines = [
      `the lesson pack in ${where} cannot be loaded (${problems.length} ${problems.length === 1 ? "problem" : "problems"}):`,
      ...problems.slice(0, PROBLEMS_SHOWN).map(formatProblem),
    ];
    if (problems.length > PROBLEMS_SHOWN) {
      lines.push(`... and ${problems.length - PROBLEMS_SHOWN} more`);
    }
    lines.push(`Run: ${PROGRAM} validate ${shellArg(where)}`);
    throw new CliError(lines.join("\n"), 1);
  }
}

export function findLesson(course: LoadedCourse, id: string): Lesson {
  const lesson = course.lessons.find((l) => l.id === id);
  if (!lesson) {
    throw usageError(
      `unknown lesson '${id}'; the lessons are: ${course.lessons.map((l) => l.id).join(", ")}`,
    );
  }
  return lesson;
}

/** With `notice`, a notice about the file (e.g. a corrupt one set aside) goes to stderr. */
export async function openProgress(opts: { notice?: boolean } = {}): Promise<ProgressStore> {
  const { ProgressStore } = await import("../progress/store.js");
  const store = ProgressStore.open();
  if (opts.notice && store.notice) {
    process.stderr.write(`${store.notice}\n`);
    store.notice = undefined;
  }
  return store;
}

export function percent(score: number | null): string {
  return score === null ? "-" : formatScore(score);
}

/**
 * Left-aligned columns separated by two spaces; the last column is not padded. Cells are shown
 * with control characters made visible, whatever a pack or a progress file holds.
 */
export function table(cells: string[][]): string {
  const rows = cells.map((row) => row.map((cell) => safeText(cell).replace(/[\t\n]/g, " ")));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
