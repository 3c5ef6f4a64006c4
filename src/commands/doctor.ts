import { colorFromEnv } from "../course/markdown.js";
import { formatReport, jsonReport } from "../doctor/report.js";
import { runChecks } from "../doctor/run.js";

export interface DoctorOptions {
  json?: boolean;
  plain?: boolean;
  lessons?: string;
}

/** Colour only on a terminal, and never with --plain, NO_COLOR or TERM=dumb. */
function colorWanted(plain: boolean | undefined): boolean {
  return (
    plain !== true &&
    process.stdout.isTTY === true &&
    process.env.TERM !== "dumb" &&
    colorFromEnv(process.env)
  );
}

/** Checks this machine for the course; exit status 1 when something blocks it. */
export async function doctorCommand(opts: DoctorOptions): Promise<void> {
  const results = await runChecks({ lessons: opts.lessons });
  process.stdout.write(
    opts.json ? jsonReport(results) : formatReport(results, colorWanted(opts.plain)),
  );
  if (results.some((r) => r.status === "fail")) process.exitCode = 1;
}
