import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { CLI, cliEnv, ROOT } from "../cli/helpers.js";

export const PACK = join(ROOT, "examples", "static-workshop");

export interface Host {
  child: ChildProcess;
  port: number;
  code: string;
  key: string;
  instructorUrl: string;
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (the host saves and exits 0); SIGKILL if it has not exited within 5 s. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `classroom host --json` (port 0 unless given) and waits for its JSON line. */
export async function startHost(opts: {
  home: string;
  data: string;
  port?: number;
  extra?: string[];
}): Promise<Host> {
  const args = [
    CLI,
    "--lessons",
    PACK,
    "classroom",
    "host",
    "--port",
    String(opts.port ?? 0),
    "--data",
    opts.data,
    "--json",
    ...(opts.extra ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: cliEnv(opts.home),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const deadline = Date.now() + 10_000;
  while (!out.includes("\n")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the host did not start; stdout: ${out}; stderr: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const info = JSON.parse(out.slice(0, out.indexOf("\n"))) as {
    port: number;
    code: string;
    instructorUrl: string;
    url: string;
  };
  const key = new URL(info.instructorUrl).hash.replace(/^#key=/, "");
  return {
    child,
    port: info.port,
    code: info.code,
    key,
    instructorUrl: info.instructorUrl,
    url: info.url,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One HTTP request; `body` as an object is sent as JSON. */
export function call(
  port: number,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; host?: string } = {},
): Promise<Reply> {
  const raw =
    opts.body === undefined
      ? undefined
      : typeof opts.body === "string" || Buffer.isBuffer(opts.body)
        ? opts.body
        : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: opts.host ?? "127.0.0.1",
        port,
        method,
        path,
        agent: false,
        headers: {
          ...(raw !== undefined ? { "Content-Type": "application/json" } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(raw);
  });
}

export async function joinAs(
  port: number,
  code: string,
  name: string,
): Promise<{ learner: string; token: string }> {
  const r = await call(port, "POST", "/api/join", { body: { code, name } });
  if (r.status !== 201) throw new Error(`join failed: ${r.status} ${r.text}`);
  return r.json as { learner: string; token: string };
}

export function postEvents(
  port: number,
  who: { learner: string; token: string },
  code: string,
  events: unknown[],
  sentAt = Date.now(),
): Promise<Reply> {
  return call(port, "POST", `/api/learners/${who.learner}/events`, {
    body: { code, sentAt, events },
    headers: { Authorization: `Bearer ${who.token}` },
  });
}

export interface RoomLearner {
  id: string;
  name: string;
  lastActive: number;
  lastSeen: number;
  position: { lesson: string; screen: string; page: number } | null;
  lessons: Record<
    string,
    {
      pagesRead: number;
      missions: number;
      labOpened: boolean;
      quiz: { best: number; passed: boolean; attempts: number } | null;
    }
  >;
  exam: { best: number; last: number; attempts: number; passed: boolean } | null;
}

export async function readRoom(host: { port: number; key: string }): Promise<RoomLearner[]> {
  const r = await call(host.port, "GET", "/api/room", {
    headers: { Authorization: `Bearer ${host.key}` },
  });
  if (r.status !== 200) throw new Error(`reading the room failed: ${r.status} ${r.text}`);
  return (r.json as { learners: RoomLearner[] }).learners;
}

/** A learner taking the course in plain mode through a pipe that stays open. */
export interface Learner {
  child: ChildProcess;
  out(): string;
  err(): string;
  type(...lines: string[]): void;
  /** Waits until stdout holds `text` after `from` (an index into the output). */
  waitFor(text: string | RegExp, from?: number, ms?: number): Promise<void>;
  /** Ends the input (plain mode then quits through the one exit path) and waits for the exit. */
  quit(): Promise<number | null>;
}

export function startLearner(home: string, args: string[]): Learner {
  const child = spawn(process.execPath, [CLI, "--lessons", PACK, ...args, "--plain"], {
    cwd: ROOT,
    env: cliEnv(home),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  child.stdin?.on("error", () => {});
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return {
    child,
    out: () => out,
    err: () => err,
    type: (...lines) => {
      child.stdin?.write(lines.map((l) => `${l}\n`).join(""));
    },
    waitFor: async (text, from = 0, ms = 10_000) => {
      const deadline = Date.now() + ms;
      const found = () => {
        const rest = out.slice(from);
        return typeof text === "string" ? rest.includes(text) : text.test(rest);
      };
      while (!found()) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(
            `the learner never printed ${String(text)}; stdout: ${out.slice(-1500)}; stderr: ${err}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    quit: async () => {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 8000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function until<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  ms = 8000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
