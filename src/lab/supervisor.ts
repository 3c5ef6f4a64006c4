import { type ChildProcess, fork } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import type { Readable } from "node:stream";
import type { ListeningEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { sandboxEntry } from "../paths.js";
import { checkEnvelope } from "./events.js";
import type { StartOptions } from "./types.js";

export const READY_TIMEOUT_MS = 10_000;
const STOP_TERM_AFTER_MS = 1_500;
const STOP_KILL_AFTER_MS = 3_000;
// After "exit", wait this long for the pipes to drain before reporting the exit anyway.
const CLOSE_GRACE_MS = 250;

export class SandboxStartError extends Error {
  override name = "SandboxStartError";
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface SandboxLog {
  stream: "stdout" | "stderr" | "lab";
  text: string;
}

export interface SandboxProcess {
  readonly pid: number;
  readonly sandbox: StartOptions["sandbox"];
  /** Resolves on the first listening event; rejects with a SandboxStartError. */
  readonly ready: Promise<ListeningEvent>;
  readonly exited: boolean;
  on(name: "event", listener: (event: SandboxEvent) => void): this;
  on(name: "log", listener: (line: SandboxLog) => void): this;
  on(name: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(name: "event", listener: (event: SandboxEvent) => void): this;
  once(name: "log", listener: (line: SandboxLog) => void): this;
  once(name: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  off(name: "event", listener: (event: SandboxEvent) => void): this;
  off(name: "log", listener: (line: SandboxLog) => void): this;
  off(name: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  /** Asks the sandbox to stop, then SIGTERM after 1.5 s, SIGKILL after 3 s; resolves once it exited. */
  stop(): Promise<void>;
  /** Sends a signal (e.g. SIGTTIN to a prefork master); false if it could not be sent. */
  kill(signal?: NodeJS.Signals): boolean;
}

function flag(value: string | number | boolean): string {
  return typeof value === "boolean" ? (value ? "on" : "off") : String(value);
}

export function sandboxArgs(opts: StartOptions): string[] {
  const args = ["--port", String(opts.port ?? 0)];
  if (opts.host !== undefined) args.push("--host", opts.host);
  if (opts.directory !== undefined) args.push("--directory", opts.directory);
  if (opts.flavour !== undefined) args.push("--flavour", opts.flavour);
  for (const [key, value] of Object.entries(opts.options ?? {})) {
    args.push(`--${key}`, flag(value));
  }
  return args;
}

function portInUseHint(port: number): string {
  return process.platform === "win32"
    ? `"netstat -ano | findstr :${port}" shows which program holds it.`
    : `"lsof -i :${port}" shows which program holds it.`;
}

const live = new Set<Sandbox>();

class Sandbox extends EventEmitter implements SandboxProcess {
  readonly pid: number;
  readonly ready: Promise<ListeningEvent>;
  readonly sandbox: StartOptions["sandbox"];
  #child: ChildProcess;
  #exited = false;
  #settled = false;
  #resolve!: (e: ListeningEvent) => void;
  #reject!: (e: SandboxStartError) => void;
  #stopping: Promise<void> | undefined;
  #done: Promise<void>;
  #lastStderr: string[] = [];
  #readyTimer: NodeJS.Timeout;

  constructor(
    child: ChildProcess,
    private readonly opts: StartOptions,
  ) {
    super();
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.sandbox = opts.sandbox;
    this.ready = new Promise<ListeningEvent>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers that never look at `ready` must not turn a failed start into an unhandled rejection.
    this.ready.catch(() => {});

    this.#readyTimer = setTimeout(() => {
      this.#fail(
        new SandboxStartError(
          "ETIMEDOUT",
          `The ${opts.sandbox} sandbox did not start listening within ${READY_TIMEOUT_MS / 1000} s.`,
          this.#stderrHint(),
        ),
      );
      void this.stop();
    }, READY_TIMEOUT_MS);
    this.#readyTimer.unref();

    this.#pipeLines(child.stdout, "stdout");
    this.#pipeLines(child.stderr, "stderr");

    child.on("message", (msg: unknown) => {
      const checked = checkEnvelope(msg);
      if (!checked.ok) {
        this.emit("log", {
          stream: "lab",
          text: `Ignored an invalid message from the sandbox (${checked.problem}).`,
        } satisfies SandboxLog);
        return;
      }
      this.#onEvent(checked.event);
    });
    // Without a listener, an IPC write to a dead child would be an uncaught error.
    child.on("error", (err) => {
      this.emit("log", { stream: "lab", text: `Sandbox process error: ${err.message}` });
    });

    this.#done = new Promise<void>((resolve) => {
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (finished) return;
        finished = true;
        this.#finish(code, signal);
        resolve();
      };
      child.once("exit", (code, signal) => {
        this.#exited = true;
        setTimeout(() => finish(code, signal), CLOSE_GRACE_MS).unref();
        child.once("close", () => finish(code, signal));
      });
      child.once("error", () => {
        if (child.pid === undefined) finish(null, null);
      });
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  #pipeLines(stream: Readable | null, name: "stdout" | "stderr"): void {
    if (!stream) return;
    stream.setEncoding("utf8");
    let partial = "";
    stream.on("data", (chunk: string) => {
      const parts = (partial + chunk).split(/\r?\n/);
      partial = parts.pop() ?? "";
      for (const text of parts) this.#line(name, text);
    });
    stream.on("end", () => {
      if (partial !== "") this.#line(name, partial);
      partial = "";
    });
  }

  #line(stream: "stdout" | "stderr", text: string): void {
    if (stream === "stderr" && text.trim() !== "") {
      this.#lastStderr.push(text);
      if (this.#lastStderr.length > 5) this.#lastStderr.shift();
    }
    this.emit("log", { stream, text } satisfies SandboxLog);
  }

  #stderrHint(): string | undefined {
    const last = this.#lastStderr.at(-1);
    return last === undefined ? undefined : `The sandbox said: ${last.trim()}`;
  }

  #onEvent(event: SandboxEvent): void {
    if (!this.#settled) {
      if (event.type === "listening") {
        this.#settled = true;
        clearTimeout(this.#readyTimer);
        this.#resolve(event);
      } else if (event.type === "error" && event.fatal) {
        this.#fail(this.#startError(event.code, event.message, event.hint));
      }
    }
    this.emit("event", event);
  }

  #startError(code: string, message: string, hint: string | undefined): SandboxStartError {
    if (code === "EADDRINUSE") {
      const port = this.opts.port ?? 0;
      const host = this.opts.host ?? "127.0.0.1";
      return new SandboxStartError(
        code,
        `Port ${port} is already in use on ${host}. Stop the program using it, or leave out --port to take a free one.`,
        portInUseHint(port),
      );
    }
    return new SandboxStartError(code, message, hint);
  }

  #fail(err: SandboxStartError): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#readyTimer);
    this.#reject(err);
  }

  #finish(code: number | null, signal: NodeJS.Signals | null): void {
    this.#exited = true;
    live.delete(this);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.#lastStderr.some((l) => /EADDRINUSE|Address already in use/i.test(l))) {
      this.#fail(this.#startError("EADDRINUSE", "", undefined));
    }
    this.#fail(
      new SandboxStartError(
        "EEXITED",
        `The ${this.opts.sandbox} sandbox stopped before it was ready (${how}).`,
        this.#stderrHint(),
      ),
    );
    this.emit("exit", code, signal);
  }

  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (this.#exited) {
      this.#stopping = this.#done;
      return this.#stopping;
    }
    const child = this.#child;
    let sent = false;
    if (child.connected) {
      try {
        sent = child.send({ v: 1, msg: { type: "stop" } });
      } catch {
        sent = false;
      }
    }
    const term = setTimeout(() => this.kill("SIGTERM"), sent ? STOP_TERM_AFTER_MS : 0);
    const kill = setTimeout(() => this.kill("SIGKILL"), STOP_KILL_AFTER_MS);
    this.#stopping = this.#done.finally(() => {
      clearTimeout(term);
      clearTimeout(kill);
    });
    return this.#stopping;
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.#exited) return false;
    try {
      return this.#child.kill(signal);
    } catch {
      return false;
    }
  }

  /** For the synchronous exit fallback only. */
  killNow(): void {
    if (!this.#exited) this.kill("SIGKILL");
  }
}

/**
 * Forks a built sandbox. Throws a SandboxStartError at once when the sandbox is not built;
 * every other failure to start rejects `ready`.
 */
export function startSandbox(opts: StartOptions): SandboxProcess {
  const entry = sandboxEntry(opts.sandbox);
  if (!existsSync(entry)) {
    throw new SandboxStartError(
      "ENOTBUILT",
      `The ${opts.sandbox} sandbox is not built (${entry} is missing).`,
      "Run npm run build in the project folder.",
    );
  }
  const child = fork(entry, sandboxArgs(opts), {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, FORCE_COLOR: "0" },
    detached: false,
    execArgv: [],
  });
  const sandbox = new Sandbox(child, opts);
  live.add(sandbox);
  return sandbox;
}

/** Every sandbox started by this process that has not exited yet. */
export function liveSandboxes(): SandboxProcess[] {
  return [...live];
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}

const shutdownHooks: (() => void | Promise<void>)[] = [];

/** Runs before the children are stopped on shutdown, in registration order (e.g. restore the terminal). */
export function onShutdown(fn: () => void | Promise<void>): () => void {
  shutdownHooks.push(fn);
  return () => {
    const i = shutdownHooks.indexOf(fn);
    if (i >= 0) shutdownHooks.splice(i, 1);
  };
}

let shuttingDown: Promise<never> | undefined;

async function runShutdown(code: number, error?: unknown): Promise<never> {
  for (const fn of shutdownHooks.splice(0)) {
    try {
      await fn();
    } catch {
      // A failing cleanup hook must not keep the children alive.
    }
  }
  if (error !== undefined) {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  try {
    await stopAll();
  } finally {
    process.exit(code);
  }
}

/** The one exit path: run the shutdown hooks, stop every sandbox, exit with `code`. */
export function shutdown(code = 0): Promise<never> {
  shuttingDown ??= runShutdown(code);
  return shuttingDown;
}

function killAllNow(): void {
  for (const s of live) s.killNow();
}

let installed = false;

/**
 * Routes SIGINT, SIGTERM, SIGHUP, uncaught errors and unhandled rejections through `shutdown`;
 * a second signal during shutdown kills the children at once and exits.
 */
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    if (process.platform === "win32" && signal === "SIGHUP") continue;
    process.on(signal, () => {
      const code = codes[signal] ?? 1;
      if (shuttingDown) {
        killAllNow();
        process.exit(code);
      }
      void shutdown(code);
    });
  }
  const crash = (error: unknown) => {
    if (shuttingDown) {
      killAllNow();
      process.exit(1);
    }
    shuttingDown = runShutdown(1, error);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  process.on("exit", killAllNow);
}
