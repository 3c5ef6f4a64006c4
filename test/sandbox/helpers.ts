import { type ChildProcess, fork, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ListeningEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { checkEnvelope } from "../../src/lab/events.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const copies = new Map<string, string>();

/**
 * The built sandbox `name`, copied once to a temporary folder so that a rebuild of dist/ while
 * the tests run (the build starts by deleting dist/) cannot pull it away from under them.
 */
export function builtSandbox(name: string): string {
  const known = copies.get(name);
  if (known) return known;
  const built = join(ROOT, "dist", "sandboxes", `${name}.js`);
  if (!existsSync(built)) {
    throw new Error(`${built} is missing: run node scripts/build.mjs (npm test does it first)`);
  }
  const copy = join(mkdtempSync(join(tmpdir(), `lws-${name}-entry-`)), `${name}.js`);
  copyFileSync(built, copy);
  copies.set(name, copy);
  return copy;
}

/** Removes the copy `builtSandbox(name)` made (call it in afterAll). */
export function removeBuiltSandbox(name: string): void {
  const copy = copies.get(name);
  if (copy) rmSync(dirname(copy), { recursive: true, force: true });
  copies.delete(name);
}

export const staticEntry = (): string => builtSandbox("static");
export const removeStaticEntry = (): void => removeBuiltSandbox("static");

export interface Running {
  child: ChildProcess;
  port: number;
  host: string;
  stdout(): string;
  stderr(): string;
  /** IPC messages received so far (only with `ipc: true`). */
  messages: unknown[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `test` holds for the collected output; rejects after `ms`. */
  waitFor(test: () => boolean, ms?: number, what?: string): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  ipc?: boolean;
  env?: Record<string, string>;
  cwd?: string;
  /** Wait for the banner and read the port from it (default true). */
  waitForBanner?: boolean;
}

export async function startStatic(args: string[], options: StartOptions = {}): Promise<Running> {
  const entry = staticEntry();
  const env = { ...process.env, ...options.env };
  const child = options.ipc
    ? fork(entry, args, { stdio: ["ignore", "pipe", "pipe", "ipc"], env, cwd: options.cwd })
    : spawn(process.execPath, [entry, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env,
        cwd: options.cwd,
      });
  let out = "";
  let err = "";
  const messages: unknown[] = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  child.on("message", (m) => messages.push(m));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const waitFor = async (test: () => boolean, ms = 5000, what = "condition") => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; stdout: ${out}; stderr: ${err.slice(-2000)}`,
        );
      }
      await sleep(done ? 20 : 5);
    }
  };
  const running: Running = {
    child,
    port: 0,
    host: "",
    stdout: () => out,
    stderr: () => err,
    messages,
    exited,
    waitFor,
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  if (options.waitForBanner !== false) {
    await waitFor(() => /Serving HTTP on .* port \d+ /.test(out) || done, 8000, "the banner");
    const m = /Serving HTTP on (\S+) port (\d+) /.exec(out);
    if (!m) throw new Error(`no banner; exit ${child.exitCode}; stderr: ${err}`);
    running.host = m[1] ?? "";
    running.port = Number(m[2]);
  }
  return running;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RawResult {
  bytes: Buffer;
  error?: string;
  ms: number;
}

/** Writes `data` (latin-1 for strings), half-closes unless `end: false`, reads until close. */
export function raw(
  port: number,
  data: string | Buffer,
  options: { end?: boolean; timeoutMs?: number; host?: string } = {},
): Promise<RawResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const socket = connect(port, options.host ?? "127.0.0.1", () => {
      const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
      if (options.end === false) socket.write(bytes);
      else socket.end(bytes);
    });
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    const timer = setTimeout(() => {
      error ??= "TIMEOUT";
      socket.destroy();
    }, options.timeoutMs ?? 4000);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), error, ms: performance.now() - started });
    });
  });
}

export interface Parsed {
  statusLine: string;
  status: number;
  headers: [string, string][];
  body: Buffer;
}

export function parse(bytes: Buffer): Parsed {
  const text = bytes.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (!text.startsWith("HTTP/") || end < 0) {
    return { statusLine: "", status: 0, headers: [], body: bytes };
  }
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(": ");
    return [line.slice(0, colon), line.slice(colon + 2)];
  });
  return {
    statusLine,
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: bytes.subarray(end + 4),
  };
}

export function header(parsed: Parsed, name: string): string | undefined {
  return parsed.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

export async function get(port: number, target: string, extra = ""): Promise<Parsed> {
  const r = await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);
  return parse(r.bytes);
}

/** True while the process runs; a zombie nobody has reaped yet counts as gone. */
export function isAlive(pid: number): boolean {
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

/**
 * Whether the port can be bound again within `ms`: nothing holds it any more. The kernel lets go
 * of a dead process's sockets a moment after the process is gone, so this asks more than once.
 */
export async function portFreeWithin(port: number, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen({ port, host: "127.0.0.1", exclusive: true }, () =>
        server.close(() => resolve(true)),
      );
    });
    if (free || Date.now() > deadline) return free;
    await sleep(50);
  }
}

/** What a test sees of a sandbox child: its output, its checked events, its exit. */
export interface Watched {
  stdout(): string;
  stderr(): string;
  /** Envelopes that passed the lab's check, in order. */
  events: SandboxEvent[];
  /** Envelopes that did not, with the reason: a test expects none. */
  invalid: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Polls `test` until it holds; after `ms` fails with the last output. */
  waitFor(test: () => boolean, ms?: number, what?: string): Promise<void>;
  /** True once the child exited. */
  done(): boolean;
  /** The first listening event, waited for; throws with stderr when the child exits first. */
  listening(ms: number): Promise<ListeningEvent>;
  /** SIGKILL unless it exited already, then the exit. */
  stop(): Promise<void>;
}

/** Collects a sandbox child's stdout, stderr and IPC events, checked as the lab checks them. */
export function watchChild(child: ChildProcess, defaultWaitMs = 6000): Watched {
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
    else invalid.push(`${checked.problem}: ${JSON.stringify(m).slice(0, 300)}`);
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const waitFor = async (test: () => boolean, ms = defaultWaitMs, what = "condition") => {
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
  return {
    stdout: () => out,
    stderr: () => err,
    events,
    invalid,
    exited,
    waitFor,
    done: () => done,
    listening: async (ms) => {
      await waitFor(() => done || events.some((e) => e.type === "listening"), ms, "listening");
      const listening = events.find((e) => e.type === "listening");
      if (listening?.type !== "listening") {
        throw new Error(`no listening event; exit ${child.exitCode}; stderr: ${err}`);
      }
      return listening;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
