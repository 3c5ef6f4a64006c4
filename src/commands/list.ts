import { STATE_LABEL, summarizeLesson } from "../progress/summary.js";
import { openCourse, openProgress, percent, table } from "./common.js";
import { PROGRAM } from "./errors.js";

export async function listCommand(opts: { json?: boolean; lessons?: string }): Promise<void> {
  const course = await openCourse(opts.lessons);
  const progress = await openProgress({ notice: true });
  const rows = course.lessons.map((lesson) => summarizeLesson(lesson, progress));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const lines = [
    ["#", "Lesson", "Title", "Status", "Quiz best"],
    ...rows.map((r, i) => [
      String(i + 1),
      r.id,
      r.title,
      STATE_LABEL[r.state],
      percent(r.quizBest),
    ]),
  ];
  process.stdout.write(
    `${course.course.title}\n\n${table(lines)}\n\nOpen one with: ${PROGRAM} lesson <id>\n`,
  );
}
