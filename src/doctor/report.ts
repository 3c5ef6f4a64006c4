import { safeText } from "../course/control.js";

export type Status = "ok" | "warn" | "fail";

/** One check's outcome; `--json` prints these (without `info`). */
export interface CheckResult {
  check: string;
  status: Status;
  /** What was found, as a sentence fragment the learner can read alone. */
  found: string;
  /** What to do about it: set for every warning and problem. */
  fix?: string;
  /** Optional extras (python3 and the real servers): shown as `info`, never a problem. */
  info?: boolean;
}

export function ok(check: string, found: string): CheckResult {
  return { check, status: "ok", found };
}

export function warn(check: string, found: string, fix: string): CheckResult {
  return { check, status: "warn", found, fix };
}

export function fail(check: string, found: string, fix: string): CheckResult {
  return { check, status: "fail", found, fix };
}

export function info(check: string, found: string): CheckResult {
  return { check, status: "ok", found, info: true };
}

/** Marks readable without colour (and by a screen reader); colour only adds to them. */
const MARKS = {
  ok: { text: "ok", sgr: "32" },
  warn: { text: "warn", sgr: "33" },
  fail: { text: "FAIL", sgr: "31" },
  info: { text: "info", sgr: "36" },
} as const;

/** One line per check: the mark, what was found and, for a warning or a problem, the fix. */
export function formatResult(result: CheckResult, color: boolean): string {
  const mark = MARKS[result.info ? "info" : result.status];
  const padded = mark.text.padEnd(4);
  const shown = color ? `\x1b[${mark.sgr}m${padded}\x1b[39m` : padded;
  const text = result.fix ? `${result.found}; ${result.fix}` : result.found;
  return `${shown}  ${safeText(text).replace(/[\t\n]/g, " ")}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function summary(results: readonly CheckResult[]): string {
  const fails = results.filter((r) => r.status === "fail").length;
  const warns = results.filter((r) => r.status === "warn").length;
  if (fails > 0) {
    const also = warns > 0 ? ` (and ${plural(warns, "warning")})` : "";
    return `Not ready: ${plural(fails, "problem")} ${fails === 1 ? "blocks" : "block"} the course${also}; fix the FAIL ${fails === 1 ? "line" : "lines"} above and run doctor again.`;
  }
  if (warns > 0) return `Ready for the course, with ${plural(warns, "warning")}.`;
  return "Ready for the course.";
}

export function formatReport(results: readonly CheckResult[], color: boolean): string {
  return `${results.map((r) => formatResult(r, color)).join("\n")}\n\n${summary(results)}\n`;
}

/** The `--json` shape: {check, status, found, fix?} per check. */
export function jsonReport(results: readonly CheckResult[]): string {
  const rows = results.map(({ check, status, found, fix }) =>
    fix === undefined ? { check, status, found } : { check, status, found, fix },
  );
  return `${JSON.stringify(rows, null, 2)}\n`;
}
