import { defaultLessonsDir } from "../paths.js";

export async function validateCommand(dir: string | undefined): Promise<void> {
  const { formatProblem, loadCourse, validatePack } = await import("../course/loader.js");
  const where = dir ?? defaultLessonsDir();
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
