import { writeFileSync } from "node:fs";
import { compileCourse, compiledCoursePath } from "../src/course/compiled.js";
import { CoursePackError, formatProblem, loadCourse } from "../src/course/loader.js";

try {
  const course = await loadCourse();
  writeFileSync(process.argv[2] ?? compiledCoursePath(), JSON.stringify(compileCourse(course)));
} catch (err) {
  if (!(err instanceof CoursePackError)) throw err;
  process.stderr.write(
    `The built-in lessons have problems:\n${err.problems.map(formatProblem).join("\n")}\n`,
  );
  process.exit(1);
}
