import { type ChildProcess, fork, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { ReloadEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { checkEnvelope } from "../../src/lab/events.js";
import { builtSandbox, ROOT, removeBuiltSandbox, sleep } from "./helpers.js";

const BUILT = join(ROOT, "dist", "sandboxes", "dev-reload.js");
const tempDirs: string[] = [];

export const devReloadEntry = (): string => builtSandbox("dev-reload");

/** The built sandbox in dist/, beside the demo workspaces it copies into an empty folder. */
export function builtEntry(): string {
  return BUILT;
}

/** A fresh copy of a demo workspace (`flask-app` or `django-app`). */
export function makeApp(name: "flask-app" | "django-app"): string {
  const dir = mkdtempSync(join(tmpdir(), `lws-${name}-`));
  cpSync(join(ROOT, "sandboxes", "dev-reload", name), dir, { recursive: true });
  tempDirs.push(dir);
  return dir;
}

export function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lws-dev-reload-app-"));
  tempDirs.push(dir);
  return dir;
}

export function cleanUp(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  removeBuiltSandbox("dev-reload");
}

export interface DevServer {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  messages: unknown[];
  events(): SandboxEvent[];
  reloads(n?: number): ReloadEvent[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(test: () => boolean, ms?: number, what?: string): Promise<void>;
  /** Waits for the reload event `phase` of reload `n` (or of any newer one). */
  waitReload(n: number, phases: ReloadEvent["phase"][], ms?: number): Promise<ReloadEvent>;
  lastReload(): number;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  ipc?: boolean;
  env?: Record<string, string>;
  /** The sandbox file to run (default: the copy of the built one). */
  entry?: string;
  /** Wait until the app answers (default true). */
  ready?: boolean;
}

export async function startDev(args: string[], options: StartOptions = {}): Promise<DevServer> {
  const entry = options.entry ?? devReloadEntry();
  const env = { ...process.env, FORCE_COLOR: "0", ...options.env };
  const ipc = options.ipc ?? true;
  const child = ipc
    ? fork(entry, args, { stdio: ["ignore", "pipe", "pipe", "ipc"], env, execArgv: [] })
    : spawn(process.execPath, [entry, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
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
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const events = () =>
    messages.map((m) => (m as { msg: SandboxEvent }).msg).filter((e) => e !== undefined);
  const waitFor = async (test: () => boolean, ms = 8000, what = "condition") => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; stdout: ${out.slice(-1500)}; stderr: ${err.slice(-2500)}`,
        );
      }
      await sleep(done ? 20 : 5);
    }
  };
  const reloads = (n?: number) =>
    events().filter(
      (e): e is ReloadEvent => e.type === "reload" && (n === undefined || e.reload === n),
    );
  const server: DevServer = {
    child,
    port: 0,
    stdout: () => out,
    stderr: () => err,
    messages,
    events,
    reloads,
    exited,
    waitFor,
    lastReload: () => reloads().reduce((max, e) => Math.max(max, e.reload), 0),
    waitReload: async (n, phases, ms = 8000) => {
      let found: ReloadEvent | undefined;
      await waitFor(
        () => {
          found = reloads().find((e) => e.reload >= n && phases.includes(e.phase));
          return found !== undefined;
        },
        ms,
        `reload ${n} ${phases.join("/")}`,
      );
      return found as ReloadEvent;
    },
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  if (options.ready === false) return server;
  if (ipc) {
    await waitFor(() => events().some((e) => e.type === "listening") || done, 10000, "listening");
    const listening = events().find((e) => e.type === "listening");
    if (listening?.type !== "listening") {
      throw new Error(`no listening event; stdout: ${out}; stderr: ${err}`);
    }
    server.port = listening.port;
  } else {
    await waitFor(
      () => /http:\/\/[^\s]+:\d+/.test(out + err) || done,
      10000,
      "the banner with the URL",
    );
    const m = /http:\/\/(?:\[[^\]]+\]|[^\s:/]+):(\d+)/.exec(err + out);
    server.port = Number(m?.[1]);
    await waitForAnswer(server.port);
  }
  return server;
}

/** Connects until the port accepts (the child may still be starting). */
export async function waitForAnswer(port: number, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing answers on port ${port}`);
    await sleep(10);
  }
}

/** Every IPC message the sandbox sent passes the supervisor's validation. */
export function expectValidEvents(server: DevServer): void {
  expect(server.messages.length).toBeGreaterThan(0);
  for (const m of server.messages) {
    const checked = checkEnvelope(m);
    expect(checked.ok ? "ok" : `${checked.problem}: ${JSON.stringify(m)}`).toBe("ok");
  }
}

/** The pids of `pid`'s child processes (Linux). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** True when the port refuses connections on 127.0.0.1. */
export function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}
