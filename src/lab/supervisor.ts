import { type ChildProcess, fork } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import type { Readable } from "node:stream";
import type {
  KillWorkerControl,
  ListeningEvent,
  SandboxEvent,
  SignalControl,
} from "../../sandboxes/shared/protocol.js";
import { safeText } from "../course/control.js";
import { MANY_SOCKET_SANDBOXES, RESERVED_FLAGS } from "../course/sandboxes.js";
import { sandboxEntry } from "../paths.js";
import { checkEnvelope } from "./events.js";
import { forkWithOpenFiles } from "./nofile.js";
import { optionValue } from "./options.js";
import type { StartOptions } from "./types.js";

export const READY_TIMEOUT_MS = 10_000;
const STOP_TERM_AFTER_MS = 1_500;
const CHANNEL_GONE = new Set(["EPIPE", "ERR_IPC_CHANNEL_CLOSED", "ECONNRESET"]);
const STOP_KILL_AFTER_MS = 3_000;
// After "exit", wait this long for the pipes to drain before reporting the exit anyway.
const CLOSE_GRACE_MS = 250;
/**
 * A start on a port another sandbox is still stopping on waits this long for that stop at most:
 * a stop ends by SIGKILL after STOP_KILL_AFTER_MS.
 */
export const PORT_WAIT_MS = STOP_KILL_AFTER_MS + 500;
/** Each shutdown hook gets this long; a stuck one cannot keep the process from exiting. */
export const SHUTDOWN_HOOK_MS = 1_000;

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
  /** Sends a control message over IPC (a master signal, a worker to kill); false if it could not. */
  control(control: SignalControl | KillWorkerControl): boolean;
}

const OPTION_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * The sandbox's command line. A lab's options come first and the app's own flags last (the
 * sandbox takes the last of a repeated flag); an option naming one of the app's flags is refused.
 */
export function sandboxArgs(opts: StartOptions): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(opts.options ?? {})) {
    if (!OPTION_NAME.test(key) || RESERVED_FLAGS.includes(key)) {
      const why = OPTION_NAME.test(key)
        ? "which only the app sets"
        : "which is not an option name (lower-case letters, digits and dashes)";
      throw new SandboxStartError(
        "EBADOPTION",
        `The lab asks the ${opts.sandbox} sandbox for the option "${safeText(key)}", ${why}.`,
        "The lesson pack is at fault: run learn-webservers validate on it.",
      );
    }
    args.push(`--${key}`, optionValue(value));
  }
  args.push("--port", String(opts.port ?? 0));
  if (opts.host !== undefined) args.push("--host", opts.host);
  if (opts.directory !== undefined) args.push("--directory", opts.directory);
  if (opts.flavour !== undefined) args.push("--flavour", opts.flavour);
  return args;
}

/** Stops in progress, by the port the stopping sandbox holds. */
const pendingStops = new Map<number, Set<Promise<void>>>();

function addPendingStop(port: number, stopping: Promise<void>): void {
  const set = pendingStops.get(port) ?? new Set<Promise<void>>();
  set.add(stopping);
  pendingStops.set(port, set);
  void stopping.finally(() => {
    set.delete(stopping);
    if (set.size === 0 && pendingStops.get(port) === set) pendingStops.delete(port);
  });
}

/** Resolves when every stop pending on `port` is done, or after PORT_WAIT_MS; undefined if none. */
function portReleased(port: number | undefined): Promise<void> | undefined {
  const set = port ? pendingStops.get(port) : undefined;
  if (!set || set.size === 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, PORT_WAIT_MS);
  });
  return Promise.race([Promise.all(set).then(() => {}), waited]).finally(() => clearTimeout(timer));
}

function portInUseHint(port: number): string {
  return process.platform === "win32"
    ? `"netstat -ano | findstr :${port}" shows which program holds it.`
    : `"lsof -i :${port}" shows which program holds it.`;
}

const live = new Set<Sandbox>();

class Sandbox extends EventEmitter implements SandboxProcess {
  readonly ready: Promise<ListeningEvent>;
  readonly sandbox: StartOptions["sandbox"];
  #child: ChildProcess | undefined;
  /** The port it listens on, or was asked to take; undefined for "any free port" until it listens. */
  #port: number | undefined;
  #exited = false;
  #finished = false;
  #settled = false;
  #stopRequested = false;
  #resolve!: (e: ListeningEvent) => void;
  #reject!: (e: SandboxStartError) => void;
  #stopping: Promise<void> | undefined;
  #done: Promise<void>;
  #resolveDone!: () => void;
  #lastStderr: string[] = [];
  #readyTimer: NodeJS.Timeout;

  /** Spawns at once, or once `after` resolves (a stop pending on the same port). */
  constructor(
    private readonly opts: StartOptions,
    spawn: () => ChildProcess,
    after?: Promise<void>,
  ) {
    super();
    this.sandbox = opts.sandbox;
    this.#port = opts.port ? opts.port : undefined;
    this.ready = new Promise<ListeningEvent>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers that never look at `ready` must not turn a failed start into an unhandled rejection.
    this.ready.catch(() => {});
    this.#done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });

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

    if (!after) {
      this.#attach(spawn());
      return;
    }
    void after.then(() => {
      if (this.#stopRequested) return;
      try {
        this.#attach(spawn());
      } catch (err) {
        this.#fail(
          new SandboxStartError(
            "ESPAWN",
            `The ${opts.sandbox} sandbox could not be started: ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
        this.#finish(null, null);
      }
    });
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  get exited(): boolean {
    return this.#exited;
  }

  #attach(child: ChildProcess): void {
    this.#child = child;
    this.#pipeLines(child.stdout, "stdout");
    this.#pipeLines(child.stderr, "stderr");

    child.on("message", (msg: unknown) => {
      const checked = checkEnvelope(msg);
      if (!checked.ok) {
        this.emit("log", {
          stream: "lab",
          text: safeText(`Ignored an invalid message from the sandbox (${checked.problem}).`),
        } satisfies SandboxLog);
        return;
      }
      this.#onEvent(checked.event);
    });
    // Without a listener, an IPC write to a dead child would be an uncaught error.
    child.on("error", (err: NodeJS.ErrnoException) => {
      // Writing to a sandbox that already exited: its exit is reported on its own.
      if (err.code && CHANNEL_GONE.has(err.code)) return;
      this.emit("log", {
        stream: "lab",
        text: safeText(`Sandbox process error: ${err.message}`),
      } satisfies SandboxLog);
      if (child.pid === undefined) this.#finish(null, null);
    });
    child.once("exit", (code, signal) => {
      this.#exited = true;
      setTimeout(() => this.#finish(code, signal), CLOSE_GRACE_MS).unref();
      child.once("close", () => this.#finish(code, signal));
    });
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

  /** Lines reach the log (and the terminal) with their control characters made visible. */
  #line(stream: "stdout" | "stderr", raw: string): void {
    const text = safeText(raw);
    if (stream === "stderr" && text.trim() !== "") {
      this.#lastStderr.push(text);
      if (this.#lastStderr.length > 5) this.#lastStderr.shift();
    }
    this.emit("log", { stream, text } satisfies SandboxLog);
  }

  #stderrHint(): string | undefined {
    const last = this.#lastStderr.at(-1);
    return last === undefined ? undefined : `The sandbox said: ${safeText(last.trim())}`;
  }

  #onEvent(event: SandboxEvent): void {
    if (event.type === "listening") this.#port = event.port;
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
    return new SandboxStartError(
      safeText(code),
      safeText(message),
      hint === undefined ? undefined : safeText(hint),
    );
  }

  #fail(err: SandboxStartError): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#readyTimer);
    this.#reject(err);
  }

  #finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#exited = true;
    live.delete(this);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.#lastStderr.some((l) => /EADDRINUSE|Address already in use/i.test(l))) {
      this.#fail(this.#startError("EADDRINUSE", "", undefined));
    }
    this.#fail(
      new SandboxStartError(
        "EEXITED",
        this.#child
          ? `The ${this.opts.sandbox} sandbox stopped before it was ready (${how}).`
          : `The ${this.opts.sandbox} sandbox was stopped before it started.`,
        this.#stderrHint(),
      ),
    );
    this.emit("exit", code, signal);
    this.#resolveDone();
  }

  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopRequested = true;
    const child = this.#child;
    if (this.#exited || !child) {
      // Not spawned yet: it never will be.
      if (!child) this.#finish(null, null);
      this.#stopping = this.#done;
      return this.#stopping;
    }
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
    // A start on the same port waits for this stop, so it does not find the port still taken.
    if (this.#port !== undefined) addPendingStop(this.#port, this.#stopping);
    return this.#stopping;
  }

  control(control: SignalControl | KillWorkerControl): boolean {
    const child = this.#child;
    if (this.#exited || this.#stopRequested || !child?.connected) return false;
    try {
      return child.send({ v: 1, msg: control });
    } catch {
      return false;
    }
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.#exited || !this.#child) return false;
    try {
      return this.#child.kill(signal);
    } catch {
      return false;
    }
  }

  /** For the synchronous exit fallback only. */
  killNow(): void {
    this.#stopRequested = true;
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
  const args = sandboxArgs(opts);
  const env = { ...process.env, FORCE_COLOR: "0" };
  const stdio: ["ignore", "pipe", "pipe", "ipc"] = ["ignore", "pipe", "pipe", "ipc"];
  const spawn = MANY_SOCKET_SANDBOXES.includes(opts.sandbox)
    ? () => forkWithOpenFiles(entry, args, { stdio, env, detached: false })
    : () => fork(entry, args, { stdio, env, detached: false, execArgv: [] });
  const sandbox = new Sandbox(opts, spawn, portReleased(opts.port));
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
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_HOOK_MS);
    });
    try {
      await Promise.race([Promise.resolve().then(fn), late]);
    } catch {
      // A failing cleanup hook must not keep the children alive.
    } finally {
      clearTimeout(timer);
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
/** True once the app has begun to exit (q, Ctrl+C, a signal): children stopping then are expected. */
export function isShuttingDown(): boolean {
  return shuttingDown !== undefined;
}

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
