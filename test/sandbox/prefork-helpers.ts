import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import type { SandboxEvent, WorkerEvent } from "../../sandboxes/shared/protocol.js";
import { builtSandbox, removeBuiltSandbox, watchChild } from "./helpers.js";

export const preforkEntry = (): string => builtSandbox("prefork");
export const removePreforkEntry = (): void => removeBuiltSandbox("prefork");

export interface Prefork {
  child: ChildProcess;
  pid: number;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Every event received, each checked with the app's validator (a bad one fails the test). */
  events: SandboxEvent[];
  invalid: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(test: () => boolean, ms?: number, what?: string): Promise<void>;
  /** Pids of workers whose last event is not "exited". */
  liveWorkers(): number[];
  /** Every worker pid ever seen. */
  allWorkers(): number[];
  control(msg: unknown): void;
  stop(): Promise<void>;
}

/**
 * Starts the sandbox with an IPC channel, waits for the listening event (or an exit). With
 * `tcp: false` no `--port 0` is added (so `-b unix:PATH` alone listens on no TCP port).
 */
export async function startPrefork(
  args: string[],
  options: { waitForListening?: boolean; cwd?: string; tcp?: boolean } = {},
): Promise<Prefork> {
  const child = fork(preforkEntry(), [...(options.tcp === false ? [] : ["--port", "0"]), ...args], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    cwd: options.cwd,
  });
  const w = watchChild(child, 6000);
  const { events, waitFor, exited } = w;
  const workerEvents = () => events.filter((e): e is WorkerEvent => e.type === "worker");
  const running: Prefork = {
    child,
    pid: child.pid ?? 0,
    port: 0,
    stdout: w.stdout,
    stderr: w.stderr,
    events,
    invalid: w.invalid,
    exited,
    waitFor,
    liveWorkers: () => {
      const last = new Map<number, string>();
      for (const e of workerEvents()) last.set(e.pid, e.state);
      return [...last].filter(([, s]) => s !== "exited").map(([pid]) => pid);
    },
    allWorkers: () => [...new Set(workerEvents().map((e) => e.pid))],
    control: (msg) => {
      if (child.connected) child.send({ v: 1, msg });
    },
    stop: w.stop,
  };
  if (options.waitForListening !== false) running.port = (await w.listening(8000)).port;
  return running;
}

/** True while the process runs; a zombie counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/** The `pid=N` a response body names. */
export function pidOf(body: Buffer | string): number {
  return Number(/pid=(\d+)/.exec(body.toString())?.[1] ?? 0);
}
