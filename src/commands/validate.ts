import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { defaultLessonsDir } from "../paths.js";
import { CliError } from "./errors.js";

export async function validateCommand(dir: string | undefined): Promise<void> {
  const where = dir ?? defaultLessonsDir();
  if (!existsSync(where) || !statSync(where).isDirectory()) {
    throw new CliError(`${where} is not a folder; give the folder that holds course.yaml`, 1);
  }
  if (!existsSync(join(where, "course.yaml"))) {
    throw new CliError(
      `${where} is not a lesson pack: it has no course.yaml (docs/AUTHORING.md shows the layout)`,
      1,
    );
  }
  const { formatProblem, loadCourse, validatePack } = await import("../course/loader.js");
  const problems = await validatePack(where);
  if (problems.length > 0) {
    process.stdout.write(`${problems.map(formatProblem).join("\n")}\n`);
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    process.stderr.write(`${where}: ${count}\n`);
    process.exitCode = 1;
    return;
  }
  const course = await loadCourse(where);
  const n = course.lessons.length;
  process.stdout.write(`${where}: ${n} ${n === 1 ? "lesson" : "lessons"}, OK\n`);
}
