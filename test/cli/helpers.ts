import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = join(ROOT, "dist", "cli.js");
export const PACKS = join(ROOT, "test", "fixtures", "packs");
export const VERSION = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;

export function assertBuilt(): void {
  if (!existsSync(CLI) || !existsSync(join(ROOT, "dist", "sandboxes", "static.js"))) {
    throw new Error(`${CLI} is missing: run node scripts/build.mjs (npm test does it first)`);
  }
}

const temps: string[] = [];

export function tempDir(prefix = "lw-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

export function removeTemps(): void {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The environment the CLI runs with in tests: its own progress home, no colour, not CI. */
export function cliEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NO_COLOR;
  delete env.CI;
  delete env.COLUMNS;
  return { ...env, LEARN_WEBSERVERS_HOME: home, ...extra };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs `node dist/cli.js ...args` to completion. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<Run> {
  return runNode([CLI, ...args], opts);
}

export function runNode(args: string[], opts: RunOptions = {}): Promise<Run> {
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return finish(child, opts);
}

export function finish(child: ChildProcess, opts: RunOptions = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  child.stdin?.on("error", () => {});
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  else child.stdin?.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 15_000);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A process that still runs; a zombie (exited, not yet reaped) counts as gone. */
export function isAlive(pid: number): boolean {
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids whose parent is `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && fields[0] !== "Z") out.push(Number(name));
    } catch {
      // The process ended while the table was being read.
    }
  }
  return out;
}

export async function waitFor<T>(
  check: () => T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitGone(pid: number, timeoutMs = 5_000): Promise<boolean> {
  try {
    await waitFor(() => !isAlive(pid), `pid ${pid} to exit`, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

export function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}
