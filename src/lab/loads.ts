import type { ChildProcess } from "node:child_process";

/** Load processes an experiment started and has not seen end yet. */
const live = new Set<ChildProcess>();

/** Counts a load process as running until it exits. */
export function trackLoad(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** Ends every load process at once: the lab closing takes its load with it. */
export function stopLoads(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}
