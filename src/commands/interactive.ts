import type { Screen } from "../progress/types.js";
import { findLesson, openCourse, openProgress } from "./common.js";
import { formatError } from "./errors.js";

export interface InteractiveOptions {
  lessons?: string;
  plain?: boolean;
  start?: { lessonId: string; screen: Exclude<Screen, "map"> };
  /** Opens the final exam first. */
  exam?: boolean;
  port?: number;
  host?: string;
  join?: string;
  code?: string;
  name?: string;
}

export function wantsPlain(plainFlag: boolean | undefined): boolean {
  return (
    plainFlag === true ||
    !process.stdin.isTTY ||
    !process.stdout.isTTY ||
    process.env.TERM === "dumb"
  );
}

/** The course map, a lesson or a lab, in the TUI or in plain mode; always ends through shutdown. */
export async function interactive(opts: InteractiveOptions): Promise<void> {
  const course = await openCourse(opts.lessons);
  if (opts.start) findLesson(course, opts.start.lessonId);
  const plain = wantsPlain(opts.plain);
  const progress = await openProgress({ notice: plain });
  const { startClassroom } = await import("./classroom.js");
  const classroom = await startClassroom(opts, progress, (line) => {
    process.stderr.write(`${line}\n`);
  });

  const { installExitHandlers, onShutdown, shutdown } = await import("../lab/supervisor.js");
  installExitHandlers();
  if (classroom) onShutdown(classroom.stop);

  let code = 0;
  try {
    if (plain) {
      const { runPlain } = await import("../plain/run.js");
      await runPlain({
        course,
        progress,
        start: opts.start,
        exam: opts.exam,
        input: process.stdin,
        output: process.stdout,
        port: opts.port,
        host: opts.host,
      });
    } else {
      const { runTui } = await import("../ui/run.js");
      await runTui({
        course,
        progress,
        start: opts.start,
        exam: opts.exam,
        port: opts.port,
        host: opts.host,
        ...(classroom ? { classroom: classroom.link } : {}),
      });
    }
  } catch (err) {
    const { text, exitCode } = formatError(err);
    process.stderr.write(text);
    code = exitCode;
  }
  await shutdown(code);
}
