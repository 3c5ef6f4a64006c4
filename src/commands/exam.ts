import { openCourse } from "./common.js";
import { usageError } from "./errors.js";
import { type InteractiveOptions, interactive } from "./interactive.js";

/** The final exam, in the TUI or in plain mode; then the course map. */
export async function examCommand(opts: Omit<InteractiveOptions, "start" | "exam">): Promise<void> {
  const course = await openCourse(opts.lessons);
  if (!course.exam) {
    throw usageError(
      `the lesson pack in ${course.dir} has no final exam (course.yaml names none; docs/AUTHORING.md shows how to add one)`,
    );
  }
  await interactive({ ...opts, exam: true });
}
