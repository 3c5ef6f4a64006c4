import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import type { SandboxEvent, WorkerEvent } from "../../sandboxes/shared/protocol.js";
import { checkEnvelope } from "../../src/lab/events.js";
import { builtSandbox, removeBuiltSandbox, sleep } from "./helpers.js";

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

/** Starts the sandbox with an IPC channel, waits for the listening event (or an exit). */
export async function startPrefork(
  args: string[],
  options: { waitForListening?: boolean; cwd?: string } = {},
): Promise<Prefork> {
  const child = fork(preforkEntry(), ["--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    cwd: options.cwd,
  });
  let out = "";
  let err = "";
  const events: SandboxEvent[] = [];
  const invalid: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  child.on("message", (m) => {
    const checked = checkEnvelope(m);
    if (checked.ok) events.push(checked.event);
    else invalid.push(`${checked.problem}: ${JSON.stringify(m)}`);
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const waitFor = async (test: () => boolean, ms = 6000, what = "condition") => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; stdout: ${out.slice(-1500)}; stderr: ${err.slice(-3000)}`,
        );
      }
      await sleep(done ? 20 : 10);
    }
  };
  const workerEvents = () => events.filter((e): e is WorkerEvent => e.type === "worker");
  const running: Prefork = {
    child,
    pid: child.pid ?? 0,
    port: 0,
    stdout: () => out,
    stderr: () => err,
    events,
    invalid,
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
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  if (options.waitForListening !== false) {
    await waitFor(() => events.some((e) => e.type === "listening") || done, 8000, "listening");
    const listening = events.find((e) => e.type === "listening");
    if (listening?.type !== "listening") throw new Error(`no listening event; stderr: ${err}`);
    running.port = listening.port;
  }
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
