import { existsSync, type FSWatcher, watch } from "node:fs";
import {
  access,
  constants,
  mkdtemp,
  open,
  readFile,
  rm,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { WriteStream } from "node:tty";
import { colorFromEnv } from "../course/markdown.js";
import { packageRoot, sandboxEntry } from "../paths.js";
import { PROGRESS_FILE, progressHome } from "../progress/location.js";
import { runBounded } from "./python.js";
import { type CheckResult, fail, ok, warn } from "./report.js";

const PROGRAM = "learn-webservers";

export const MIN_NODE_MAJOR = 20;
export const MIN_COLUMNS = 80;
export const MIN_ROWS = 24;
/** 10,000 connections open at both ends in one lab, plus the files and pipes around them. */
export const MIN_OPEN_FILES = 21000;
export const LOOPBACK = "127.0.0.1";
/** The ports the real servers default to: python3 -m http.server and runserver 8000, Flask 5000. */
export const DEFAULT_PORTS = [8000, 5000] as const;

function errorCode(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code ?? (error instanceof Error ? error.message : String(error));
}

// ---------------------------------------------------------------- Node

export function nodeCheck(version: string = process.versions.node): CheckResult {
  const major = Number(version.split(".")[0]);
  if (major >= MIN_NODE_MAJOR) return ok("node", `Node ${version}`);
  return fail(
    "node",
    `Node ${version}: the course needs Node ${MIN_NODE_MAJOR} or newer`,
    `install it from https://nodejs.org or with nvm install ${MIN_NODE_MAJOR}`,
  );
}

// ---------------------------------------------------------------- terminal

export interface TerminalInfo {
  /** Which stream is a terminal: stdout, else stderr (stdout piped into a file), else none. */
  stream?: "stdout" | "stderr";
  columns?: number;
  rows?: number;
  /** Bits per colour the terminal supports (1, 4, 8 or 24). */
  colorDepth?: number;
  env: NodeJS.ProcessEnv;
}

export function terminalInfo(env: NodeJS.ProcessEnv = process.env): TerminalInfo {
  const tty: WriteStream | undefined = process.stdout.isTTY
    ? process.stdout
    : process.stderr.isTTY
      ? process.stderr
      : undefined;
  if (!tty) return { env };
  return {
    stream: tty === process.stdout ? "stdout" : "stderr",
    columns: tty.columns,
    rows: tty.rows,
    colorDepth: tty.getColorDepth(env),
    env,
  };
}

function colourText(t: TerminalInfo): string {
  if (!colorFromEnv(t.env)) {
    return t.env.NO_COLOR ? "colour off (NO_COLOR is set)" : "colour off (FORCE_COLOR=0)";
  }
  const depth = t.colorDepth ?? 1;
  if (depth >= 24) return "true colour";
  if (depth >= 8) return "256 colours";
  if (depth >= 4) return "16 colours";
  return "no colour support (marks stay readable)";
}

export function terminalCheck(t: TerminalInfo): CheckResult {
  if (!t.stream) {
    return warn(
      "terminal",
      "no terminal: the output goes to a pipe or a file, so its size is unknown",
      `run ${PROGRAM} doctor straight in the terminal you will use (the full-screen course needs ${MIN_COLUMNS}x${MIN_ROWS}; plain mode, --plain, works anywhere)`,
    );
  }
  const size = `${t.columns ?? 0}x${t.rows ?? 0}`;
  const piped = t.stream === "stderr" ? " (stdout is piped; measured on stderr)" : "";
  const found = `terminal ${size}, ${colourText(t)}${piped}`;
  const fixes: string[] = [];
  const problems: string[] = [];
  if ((t.columns ?? 0) < MIN_COLUMNS || (t.rows ?? 0) < MIN_ROWS) {
    problems.push(`the full-screen course needs ${MIN_COLUMNS}x${MIN_ROWS}`);
    fixes.push(
      `enlarge the window (or a smaller font) to at least ${MIN_COLUMNS}x${MIN_ROWS}, or use --plain: plain mode works at any size`,
    );
  }
  if (t.env.TERM === "dumb") {
    problems.push("TERM=dumb starts plain mode (numbered menus)");
    fixes.push("set TERM=xterm-256color for the full-screen course");
  }
  if (problems.length === 0) return ok("terminal", found);
  return warn("terminal", `${found}: ${problems.join("; ")}`, fixes.join("; "));
}

// ---------------------------------------------------------------- ports

type Listen = { ok: true; port: number } | { ok: false; code: string };

export function tryListen(port: number, host = LOOPBACK): Promise<Listen> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error) => resolve({ ok: false, code: errorCode(error) }));
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const got = typeof address === "object" && address ? address.port : port;
      server.close(() => resolve({ ok: true, port: got }));
    });
  });
}

export async function loopbackCheck(): Promise<CheckResult> {
  const r = await tryListen(0);
  if (r.ok) return ok("loopback", `listening on ${LOOPBACK} works (free port ${r.port})`);
  return fail(
    "loopback",
    `cannot listen on ${LOOPBACK} (${r.code}): every lab serves there`,
    "allow local servers on the loopback address (a firewall, VPN client or security policy forbids them), or use another machine",
  );
}

/** The real server that listens on each default port, for the fix. */
const DEFAULT_PORT_USERS: Record<number, string> = {
  8000: "python3 -m http.server",
  5000: "flask run",
};

export function defaultPortsResult(
  taken: ReadonlyArray<{ port: number; code: string }>,
  platform: NodeJS.Platform = process.platform,
): CheckResult {
  if (taken.length === 0) {
    return ok("default-ports", `ports ${DEFAULT_PORTS.join(" and ")} are free on ${LOOPBACK}`);
  }
  const inUse = taken.filter((t) => t.code === "EADDRINUSE").map((t) => t.port);
  const refused = taken.filter((t) => t.code !== "EADDRINUSE");
  const parts: string[] = [];
  if (inUse.length > 0) {
    parts.push(
      `port${inUse.length === 1 ? " " : "s "}${inUse.join(" and ")} ${inUse.length === 1 ? "is" : "are"} in use on ${LOOPBACK}`,
    );
  }
  for (const t of refused) parts.push(`port ${t.port} cannot be used on ${LOOPBACK} (${t.code})`);
  const first = taken[0]?.port ?? DEFAULT_PORTS[0];
  const user = DEFAULT_PORT_USERS[first] ?? "a real server";
  const fixes = [
    `${PROGRAM} lab <id> picks a free port anyway; to use ${first} (lab <id> --port ${first}, or ${user}) stop what listens there (lsof -i :${first} shows it)`,
  ];
  if (platform === "darwin" && inUse.includes(5000)) {
    fixes.push(
      "on macOS, AirPlay Receiver holds 5000: turn it off in System Settings > General > AirDrop & Handoff",
    );
  }
  return warn("default-ports", parts.join("; "), fixes.join("; "));
}

export async function defaultPortsCheck(): Promise<CheckResult> {
  const tried = await Promise.all(
    DEFAULT_PORTS.map(async (port) => ({ port, r: await tryListen(port) })),
  );
  const taken = tried.flatMap(({ port, r }) => (r.ok ? [] : [{ port, code: r.code }]));
  return defaultPortsResult(taken);
}

// ---------------------------------------------------------------- progress folder

function homeFix(home: string): string {
  return process.env.LEARN_WEBSERVERS_HOME
    ? `LEARN_WEBSERVERS_HOME points there: set it to a folder you can write, or unset it to use the default`
    : `set LEARN_WEBSERVERS_HOME to a folder you can write (e.g. export LEARN_WEBSERVERS_HOME="$HOME/learn-webservers"), or make ${home} writable`;
}

export async function progressFolderCheck(home: string = progressHome()): Promise<CheckResult> {
  const check = "progress-folder";
  let st: Awaited<ReturnType<typeof stat>> | undefined;
  try {
    st = await stat(home);
  } catch (error) {
    if (errorCode(error) !== "ENOENT" && errorCode(error) !== "ENOTDIR") {
      return fail(
        check,
        `progress folder ${home} cannot be read (${errorCode(error)})`,
        homeFix(home),
      );
    }
  }
  if (st) {
    if (!st.isDirectory()) {
      return fail(
        check,
        `progress folder ${home} is a file, not a folder, so progress cannot be saved`,
        `move that file away, or ${homeFix(home)}`,
      );
    }
    const probe = join(home, `.doctor-${process.pid}`);
    try {
      const handle = await open(probe, "wx");
      await handle.close();
      await unlink(probe);
    } catch (error) {
      return fail(
        check,
        `progress folder ${home} is not writable (${errorCode(error)}), so progress cannot be saved`,
        homeFix(home),
      );
    }
    const file = join(home, PROGRESS_FILE);
    if (existsSync(file)) {
      try {
        await access(file, constants.R_OK);
      } catch (error) {
        return fail(
          check,
          `${file} cannot be read (${errorCode(error)}), so progress made now would not be saved`,
          `make it readable (chmod u+rw ${file}) or move it away`,
        );
      }
    }
    return ok(check, `progress folder ${home} is writable`);
  }
  // Not made yet: the course makes it on the first save, so the nearest existing folder above must be writable.
  for (let dir = dirname(home); ; dir = dirname(dir)) {
    let parent: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      parent = await stat(dir);
    } catch {
      parent = undefined;
    }
    if (parent) {
      if (!parent.isDirectory()) {
        return fail(
          check,
          `progress folder ${home} cannot be made: ${dir} is a file, not a folder`,
          homeFix(home),
        );
      }
      try {
        await access(dir, constants.W_OK | constants.X_OK);
      } catch (error) {
        return fail(
          check,
          `progress folder ${home} cannot be made: ${dir} is not writable (${errorCode(error)})`,
          homeFix(home),
        );
      }
      return ok(check, `progress folder ${home} will be made on first use (${dir} is writable)`);
    }
    if (dirname(dir) === dir) {
      return fail(check, `progress folder ${home} cannot be made`, homeFix(home));
    }
  }
}

// ---------------------------------------------------------------- open files

export interface OpenFileLimit {
  /** The limit this process has (Node raises its soft limit to the hard one at start). */
  soft: number;
  hard: number;
}

function limitValue(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (text === "unlimited" || text === "infinity") return Number.POSITIVE_INFINITY;
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The "Max open files" line of /proc/<pid>/limits. */
export function parseProcLimits(text: string): OpenFileLimit | undefined {
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line?.slice("Max open files".length).trim().split(/\s+/) ?? []).map(
    limitValue,
  );
  return soft !== undefined && hard !== undefined ? { soft, hard } : undefined;
}

/** The output of `ulimit -n; ulimit -Hn`. */
export function parseUlimit(text: string): OpenFileLimit | undefined {
  const [soft, hard] = text.trim().split(/\s+/).map(limitValue);
  return soft !== undefined ? { soft, hard: hard ?? soft } : undefined;
}

export async function readOpenFileLimit(): Promise<OpenFileLimit | string> {
  if (process.platform === "linux") {
    try {
      const limit = parseProcLimits(await readFile("/proc/self/limits", "utf8"));
      if (limit) return limit;
    } catch {
      // No /proc (a restricted container): ask the shell below.
    }
  }
  if (!existsSync("/bin/sh")) return "no /proc/self/limits and no /bin/sh to ask";
  const r = await runBounded("/bin/sh", ["-c", "ulimit -n; ulimit -Hn"], 1000);
  if (r.timedOut) return "/bin/sh did not answer";
  const limit = r.code === 0 ? parseUlimit(r.stdout) : undefined;
  return limit ?? `ulimit -n gave ${JSON.stringify(r.stdout.trim() || r.stderr.trim())}`;
}

function limitText(n: number): string {
  return Number.isFinite(n) ? String(n) : "unlimited";
}

export function openFilesResult(
  limit: OpenFileLimit | string,
  platform: NodeJS.Platform = process.platform,
): CheckResult {
  const check = "open-files";
  const need = `the 10,000-connection experiment needs ${MIN_OPEN_FILES}`;
  if (typeof limit === "string") {
    if (platform === "win32") return ok(check, "open-file limit: none to check on Windows");
    return warn(
      check,
      `open-file limit unknown (${limit})`,
      `check it with ulimit -n: ${need}; raise it with ulimit -n ${MIN_OPEN_FILES} before starting`,
    );
  }
  const found = `open-file limit ${limitText(limit.soft)} (hard ${limitText(limit.hard)})`;
  if (limit.soft >= MIN_OPEN_FILES) return ok(check, found);
  let fix: string;
  if (limit.hard >= MIN_OPEN_FILES) {
    fix = `run ulimit -n ${MIN_OPEN_FILES} in the shell before starting ${PROGRAM}`;
  } else if (platform === "darwin") {
    fix = `raise the hard limit: sudo launchctl limit maxfiles 65536 200000, then in a new terminal ulimit -n ${MIN_OPEN_FILES} before starting`;
  } else {
    fix = `raise the hard limit (ulimit -n cannot go above ${limitText(limit.hard)}): a "nofile 65536" line for your user in /etc/security/limits.conf, then log in again (in Docker: --ulimit nofile=65536)`;
  }
  return warn(check, `${found}: ${need}`, fix);
}

export async function openFilesCheck(): Promise<CheckResult> {
  return openFilesResult(await readOpenFileLimit());
}

// ---------------------------------------------------------------- file-system events

export async function fsEventsCheck(waitMs: number): Promise<CheckResult> {
  const check = "fs-events";
  const fallback =
    "the dev-reload labs fall back to polling (they work, reloads come a little later)";
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), "learn-webservers-doctor-"));
  } catch (error) {
    return warn(
      check,
      `cannot make a temporary folder in ${tmpdir()} (${errorCode(error)})`,
      "set TMPDIR to a folder you can write",
    );
  }
  let watcher: FSWatcher | undefined;
  try {
    const started = Date.now();
    const event = new Promise<number | string>((resolve) => {
      try {
        watcher = watch(dir, () => resolve(Date.now() - started));
        watcher.on("error", (error) => resolve(errorCode(error)));
      } catch (error) {
        resolve(errorCode(error));
      }
    });
    const timeout = new Promise<undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), waitMs);
      void event.then(() => clearTimeout(t));
    });
    if (watcher) {
      await writeFile(join(dir, "probe.txt"), "probe\n");
    }
    const got = await Promise.race([event, timeout]);
    if (typeof got === "number") {
      return ok(check, `file-system events arrive in ${tmpdir()} (after ${got} ms)`);
    }
    if (got === undefined) {
      return warn(
        check,
        `no file-system event within ${waitMs / 1000} s of writing a file in ${tmpdir()}`,
        fallback,
      );
    }
    const inotify =
      got === "ENOSPC"
        ? "; to have events, raise the limit: sudo sysctl fs.inotify.max_user_watches=524288"
        : got === "EMFILE"
          ? "; to have events, raise the limit: sudo sysctl fs.inotify.max_user_instances=512"
          : "";
    return warn(check, `cannot watch ${tmpdir()} for changes (${got})`, `${fallback}${inotify}`);
  } finally {
    watcher?.close();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------- sandboxes

export async function sandboxesCheck(lessons: string | undefined): Promise<CheckResult> {
  const check = "sandboxes";
  const { openCourse } = await import("../commands/common.js");
  let names: string[];
  try {
    const course = await openCourse(lessons);
    names = [...new Set(course.lessons.map((l) => l.lab.sandbox))];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where = message.split("\n").at(-1)?.startsWith("Run: ")
      ? (message.split("\n").at(-1) ?? "").slice("Run: ".length)
      : `${PROGRAM} validate`;
    return fail(
      check,
      (message.split("\n")[0] ?? message).replace(/:$/, ""),
      `${where} lists every problem`,
    );
  }
  const root = packageRoot();
  const missing = names.filter((name) => !existsSync(sandboxEntry(name)));
  if (missing.length === 0) return ok(check, `sandboxes built: ${names.join(", ")}`);
  const files = missing.map((name) => relative(root, sandboxEntry(name)));
  const clone = existsSync(join(root, "scripts", "build.mjs"));
  return fail(
    check,
    `${files.join(", ")} missing in ${root}: the labs on ${missing.join(", ")} cannot start`,
    clone
      ? `run npm run build in ${root}`
      : `reinstall ${PROGRAM} (npm install -g ${PROGRAM}, or npx ${PROGRAM}@latest)`,
  );
}
