/**
 * The app servers the proxy starts behind itself when no --upstream is given: prefork sandboxes
 * (Gunicorn flavour), each on a Unix socket the proxy passes requests to (as the lesson's
 * nginx.conf does) and on a free loopback port for reaching it directly. Their log lines go to
 * the proxy's own output, their events through the proxy's IPC channel, and the lab's master
 * controls to them.
 */

import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type BufferedWriter, stderrOut, stdoutOut } from "../shared/output.js";
import type {
  KillWorkerControl,
  SandboxEvent,
  SignalControl,
  WorkerEvent,
} from "../shared/protocol.js";

/**
 * Names the private folder of an app server's socket: the app server removes it once empty as it
 * exits, so a proxy killed outright leaves nothing behind.
 */
export const SOCKET_DIR_ENV = "LEARN_WEBSERVERS_SOCKET_DIR";

/** How long an app server may take to have every worker answering. */
const READY_TIMEOUT_MS = 8000;
/** How long an app server's output may still come after it exited. */
const OUTPUT_WAIT_MS = 500;
/** How long a stop waits for an app server before killing it. */
const STOP_WAIT_MS = 900;

/** The prefork sandbox's bundle, next to this one in dist/sandboxes/. */
export function preforkEntry(): string {
  return fileURLToPath(new URL("./prefork.js", import.meta.url));
}

export interface AppServerHooks {
  /** An event of the app server's (a request event already carries `upstream`). */
  onEvent(event: SandboxEvent, server: AppServer): void;
  /** The app server exited on its own (not because the proxy stopped it). */
  onExit(server: AppServer, code: number | null, signal: NodeJS.Signals | null): void;
}

/** Passes a child's output on line by line, so its lines never mix with the proxy's. */
function pipeLines(stream: NodeJS.ReadableStream | null, out: BufferedWriter): void {
  if (!stream) return;
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const text = partial + chunk;
    const end = text.lastIndexOf("\n");
    if (end < 0) {
      partial = text;
      return;
    }
    out.write(text.slice(0, end + 1));
    partial = text.slice(end + 1);
  });
  stream.on("end", () => {
    if (partial !== "") out.write(`${partial}\n`);
    partial = "";
  });
}

/** The proxy's environment with `env` on top; a socket folder only when the proxy names one. */
function appServerEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env[SOCKET_DIR_ENV] === undefined) delete merged[SOCKET_DIR_ENV];
  return merged;
}

export class AppServer {
  readonly child: ChildProcess;
  readonly pid: number;
  port = 0;
  /** What the proxy passes requests to: `unix:PATH`, or `http://127.0.0.1:PORT` without a socket. */
  url = "";
  /** `http://127.0.0.1:PORT`: the app server reached directly, without the proxy. */
  directUrl = "";
  /** Worker pids alive now, from the server's worker events. */
  readonly workers = new Set<number>();
  /** The last event of each live worker, to say it is gone when its master dies without a word. */
  readonly #lastWorkerEvent = new Map<number, WorkerEvent>();
  readonly ready: Promise<boolean>;
  #exited = false;
  #stopping = false;
  readonly #done: Promise<void>;

  /** `env`: variables for the app server on top of the proxy's own. */
  constructor(entry: string, args: string[], env: Record<string, string>, hooks: AppServerHooks) {
    this.child = fork(entry, args, {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [],
      env: appServerEnv(env),
    });
    this.pid = this.child.pid ?? 0;
    pipeLines(this.child.stdout, stdoutOut);
    pipeLines(this.child.stderr, stderrOut);
    this.child.on("error", () => {});
    this.#done = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.#exited = true;
        if (!this.#stopping) {
          // A master killed outright sends nothing more; its workers follow it within a second.
          for (const last of this.#lastWorkerEvent.values()) {
            hooks.onEvent(
              {
                type: "worker",
                pid: last.pid,
                index: last.index,
                state: "exited",
                at: Date.now(),
                bootedAt: last.bootedAt,
                served: last.served,
                reason: "shutdown",
              },
              this,
            );
          }
        }
        this.workers.clear();
        this.#lastWorkerEvent.clear();
        if (!this.#stopping) hooks.onExit(this, code, signal);
        // Its workers' last lines ("Worker exiting") come through the pipes after the master's
        // exit: done once every end of them has closed, or after a moment.
        if (this.child.stdout?.closed !== false && this.child.stderr?.closed !== false) resolve();
        else {
          const timer = setTimeout(resolve, OUTPUT_WAIT_MS);
          this.child.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
        }
      });
    });
    let markReady: (ok: boolean) => void = () => {};
    this.ready = new Promise<boolean>((resolve) => {
      markReady = resolve;
      setTimeout(() => resolve(false), READY_TIMEOUT_MS).unref();
      void this.#done.then(() => resolve(false));
    });
    this.child.on("message", (raw: unknown) => {
      const msg = (raw as { v?: unknown; msg?: SandboxEvent } | null)?.msg;
      if ((raw as { v?: unknown } | null)?.v !== 1 || !msg || typeof msg !== "object") return;
      switch (msg.type) {
        case "listening":
          this.port = msg.port;
          this.directUrl = `http://127.0.0.1:${msg.port}`;
          this.url = msg.unix !== undefined ? `unix:${msg.unix}` : this.directUrl;
          markReady(true);
          return;
        case "stopping":
          return;
        case "worker":
          if (msg.state === "exited") {
            this.workers.delete(msg.pid);
            this.#lastWorkerEvent.delete(msg.pid);
          } else {
            this.workers.add(msg.pid);
            this.#lastWorkerEvent.set(msg.pid, msg);
          }
          hooks.onEvent(msg, this);
          return;
        case "request":
          hooks.onEvent({ ...msg, upstream: this.url }, this);
          return;
        case "error":
          // Its failure is not the proxy's: nginx keeps running and answers 502.
          hooks.onEvent({ ...msg, fatal: false }, this);
          return;
        default:
          hooks.onEvent(msg, this);
      }
    });
  }

  get running(): boolean {
    return !this.#exited;
  }

  /** Passes a master control (a signal, a worker to kill) to the app server; false if it is gone. */
  control(control: SignalControl | KillWorkerControl): boolean {
    if (this.#exited || !this.child.connected) return false;
    try {
      return this.child.send({ v: 1, msg: control });
    } catch {
      return false;
    }
  }

  /** Asks it to stop (gracefully unless `quick`), kills it if it is still there after a while. */
  stop(quick = false): Promise<void> {
    this.#stopping = true;
    if (this.#exited) return this.#done;
    let told = false;
    if (this.child.connected) {
      try {
        // false only says the message waits in a full queue: it is still delivered.
        this.child.send({
          v: 1,
          msg: quick ? { type: "signal", signal: "INT" } : { type: "stop" },
        });
        told = true;
      } catch {}
    }
    if (!told) this.child.kill("SIGINT");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), quick ? 300 : STOP_WAIT_MS);
    return this.#done.finally(() => clearTimeout(timer));
  }

  kill(): void {
    this.#stopping = true;
    if (!this.#exited) this.child.kill("SIGKILL");
  }
}

/** Starts `count` app servers; resolves once each answers or failed. */
export async function startAppServers(
  count: number,
  env: Record<string, string>,
  argsFor: (index: number) => string[],
  hooks: AppServerHooks,
): Promise<AppServer[]> {
  const entry = preforkEntry();
  if (!existsSync(entry)) {
    throw new Error(
      `the prefork sandbox is missing (${entry}); build the project (npm run build), or give --upstream URL`,
    );
  }
  const servers = Array.from(
    { length: count },
    (_, i) => new AppServer(entry, argsFor(i), env, hooks),
  );
  await Promise.all(servers.map((s) => s.ready));
  return servers;
}
