import { createServer } from "node:net";

/** Every budget line reported so far, for the verdict at the end of a run. */
export const results = [];

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Prints one measurement: against a baseline measured in the same run (as a ratio) when one is
 * given, and against its budget when one is given (`better`: "lower" or "higher").
 */
export function report(name, value, unit, baseline, limit, better = "lower") {
  const ratio = baseline > 0 ? value / baseline : undefined;
  const measured = ratio ?? value;
  const ok =
    limit === undefined ? undefined : better === "lower" ? measured <= limit : measured >= limit;
  results.push({ name, value, unit, baseline, ratio, limit, ok });
  const parts = [`${name}: ${value.toFixed(1)} ${unit}`];
  if (ratio !== undefined)
    parts.push(`baseline ${baseline.toFixed(1)} ${unit}`, `ratio ${ratio.toFixed(2)}x`);
  if (limit !== undefined) {
    const sign = better === "lower" ? "<=" : ">=";
    parts.push(
      `budget ${sign} ${limit}${ratio !== undefined ? "x" : ` ${unit}`}`,
      ok ? "OK" : "OVER",
    );
  }
  console.log(parts.join("  |  "));
}

/** Prints the verdict over every budget reported, and sets the exit code from it. */
export function verdict() {
  const over = results.filter((r) => r.ok === false);
  console.log(over.length ? `\n${over.length} over budget` : "\nall budgets met");
  process.exitCode = over.length ? 1 : 0;
  return over.length;
}

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
