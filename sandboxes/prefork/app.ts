import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pyRepr } from "../shared/python.js";
import { MAX_MS } from "./config.js";

/** A Python object that is shown by its repr only (a socket, a file wrapper...). */
export class PyObject {
  #repr: string | (() => string);
  constructor(repr: string | (() => string)) {
    this.#repr = repr;
  }
  /** Worked out when first shown (a socket's addresses cost system calls). */
  get repr(): string {
    if (typeof this.#repr === "function") this.#repr = this.#repr();
    return this.#repr;
  }
}

/** Bytes, shown as Python's b'...'. */
export class PyBytes {
  constructor(readonly text: string) {}
}

export type EnvironValue = string | boolean | number[] | PyObject | PyBytes | WsgiInput;

/** PEP 3333's environ: CGI variables plus the wsgi.* keys and the server's own. */
export type Environ = Record<string, EnvironValue>;

/** wsgi.input: the request body, read like a file. */
export class WsgiInput {
  #offset = 0;
  constructor(
    private readonly body: Buffer,
    readonly repr: string,
  ) {}
  read(size = -1): Buffer {
    const end = size < 0 ? this.body.length : Math.min(this.body.length, this.#offset + size);
    const chunk = this.body.subarray(this.#offset, end);
    this.#offset = end;
    return chunk;
  }
}

export type Headers = [string, string][];
export type StartResponse = (status: string, headers: Headers) => void;

/** What the server offers the app beyond the environ: uWSGI's cache API. */
export interface Runtime {
  pid: number;
  cacheGet?(key: string): string | null;
  /** False when the cache is full and `key` is not in it yet. */
  cacheSet?(key: string, value: string): boolean;
}

/**
 * A WSGI application: `app(environ, start_response)` returning an iterable of byte chunks.
 * It runs synchronously, as in a sync worker: whatever it waits for blocks the whole process.
 */
export type WsgiApp = (environ: Environ, startResponse: StartResponse) => Iterable<Uint8Array>;

/** Raised when importing the app fails; `traceback` is what Python would print. */
export class ImportFailure extends Error {
  constructor(readonly traceback: string) {
    super("the app failed to import");
  }
}

/** app.py's GREETING when there is no greeting.txt. */
export const BUILT_IN_GREETING = "Hello from a WSGI app!";

// biome-ignore lint/suspicious/noControlCharactersInRegex: the line breaks str.splitlines() knows
const SPLITLINES = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

/** The module-level constant the demo app reads once, when it is imported. */
export function importGreeting(directory: string | undefined, app: "demo" | "broken"): string {
  if (app === "broken") {
    throw new ImportFailure(
      `Traceback (most recent call last):
  File "${directory ? join(directory, "broken.py") : "broken.py"}", line 3, in <module>
    raise RuntimeError("this app fails when it is imported")
RuntimeError: this app fails when it is imported
`,
    );
  }
  if (!directory) return BUILT_IN_GREETING;
  try {
    // app.py: GREETING_FILE.read_text().splitlines()[0], the first line as it is.
    const text = readFileSync(join(directory, "greeting.txt"), "utf8");
    const first = text.split(SPLITLINES)[0] ?? "";
    return first === "" ? BUILT_IN_GREETING : first.slice(0, 200);
  } catch {
    return BUILT_IN_GREETING;
  }
}

const waitCell = new Int32Array(new SharedArrayBuffer(4));
const startingParent = process.ppid;

/**
 * A blocked worker cannot hear its IPC channel close, so while it blocks it looks at its
 * parent pid every slice and exits when the master has gone (the pid changes on reparenting).
 */
export function exitIfOrphaned(): void {
  if (process.ppid !== startingParent) process.exit(1);
}

/** Blocks the process for `ms` (fractions allowed), without telling the master. */
export function nap(ms: number): void {
  Atomics.wait(waitCell, 0, 0, ms);
}

let beforeBlocking: () => void = () => {};

/**
 * Sets what runs just before the app blocks (sleeps, burns CPU or waits): the worker tells its
 * master it is busy then, while it still can; a request answered at once needs no message.
 */
export function onBeforeBlocking(hook: () => void): void {
  beforeBlocking = hook;
}

/** Blocks the whole process, as time.sleep blocks a sync worker. */
export function blockingSleep(ms: number): void {
  beforeBlocking();
  const end = performance.now() + ms;
  for (;;) {
    const left = end - performance.now();
    if (left <= 0) return;
    nap(Math.min(left, 100));
    exitIfOrphaned();
  }
}

/**
 * Keeps a core busy for `ms` of CPU time (the app's `time.process_time()`), not of wall time:
 * workers that share a core take longer, as Python's do.
 */
export function burnCpu(ms: number): number {
  beforeBlocking();
  const start = process.cpuUsage();
  const budget = ms * 1000;
  const used = () => {
    const u = process.cpuUsage(start);
    return u.user + u.system;
  };
  let x = 0;
  let checked = performance.now();
  while (used() < budget) {
    for (let i = 0; i < 10000; i++) x = (x * 31 + i) % 1000003;
    if (performance.now() - checked > 100) {
      exitIfOrphaned();
      checked = performance.now();
    }
  }
  return x;
}

/** parse_qs for the few keys the app reads: the first value of each key, blank values dropped. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0 || eq === part.length - 1) continue;
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, " "));
      } catch {
        return s;
      }
    };
    const key = decode(part.slice(0, eq));
    if (!out.has(key)) out.set(key, decode(part.slice(eq + 1)));
  }
  return out;
}

/**
 * The `ms` parameter as app.py's number() reads it: `max(0, int(text))`, the default when int()
 * refuses the text; capped at MAX_MS here so that a lab cannot block a worker for hours.
 */
function millis(query: Map<string, string>, fallback: number): number {
  const text = (query.get("ms") ?? "").trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(text)) return fallback;
  return Math.min(Math.max(0, Number(text.replace(/_/g, ""))), MAX_MS);
}

/** repr() of an environ value as Python prints it. */
export function environRepr(value: EnvironValue): string {
  if (typeof value === "string") return pyRepr(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (Array.isArray(value)) return `(${value.join(", ")})`;
  if (value instanceof PyBytes) return `b${pyRepr(value.text)}`;
  return value.repr;
}

/**
 * The environ as the app saw it: one `KEY = repr(value)` line per key, sorted, as app.py's
 * `"\\n".join(f"{k} = {v!r}" for k, v in sorted(environ.items())) + "\\n"` gives it.
 */
export function renderEnviron(environ: Environ): string {
  return Object.keys(environ)
    .sort()
    .map((key) => `${key} = ${environRepr(environ[key] as EnvironValue)}\n`)
    .join("");
}

/** app.py's text(): every answer is UTF-8 text. */
const TEXT: Headers = [["Content-Type", "text/plain; charset=utf-8"]];

function reply(start: StartResponse, status: string, text: string): Uint8Array[] {
  const body = Buffer.from(text, "utf8");
  start(status, [...TEXT, ["Content-Length", String(body.length)]]);
  return [body];
}

/** Ends the process at once, as os._exit(1) does: no cleanup, no goodbye. */
function hardExit(): never {
  process.exit(1);
}

/** The line app.py prints (to its stdout, flushed) when a process imports it. */
export function importedLine(pid: number, greeting: string): string {
  return `[app.py imported in pid ${pid}: ${pyRepr(greeting)}]\n`;
}

const WHOAMI_KEYS = [
  "REMOTE_ADDR",
  "HTTP_X_FORWARDED_FOR",
  "HTTP_X_FORWARDED_PROTO",
  "HTTP_HOST",
  "wsgi.url_scheme",
];

/** The demo app (python/app.py), its greeting already imported (a module-level constant). */
export function demoApp(greeting: string, runtime: Runtime): WsgiApp {
  return (environ, start) => {
    const path = String(environ.PATH_INFO ?? "/");
    const query = parseQuery(String(environ.QUERY_STRING ?? ""));
    switch (path) {
      case "/":
        return reply(start, "200 OK", `${greeting}\npid=${runtime.pid}\n`);
      case "/slow": {
        const ms = millis(query, 1000);
        blockingSleep(ms);
        return reply(start, "200 OK", `slept ${ms} ms pid=${runtime.pid}\n`);
      }
      case "/cpu": {
        const ms = millis(query, 200);
        burnCpu(ms);
        return reply(start, "200 OK", `burned ${ms} ms of CPU pid=${runtime.pid}\n`);
      }
      case "/hang":
        for (;;) blockingSleep(1000);
      case "/crash":
        return hardExit();
      case "/environ":
        return reply(start, "200 OK", renderEnviron(environ));
      case "/whoami":
        // The production lesson's python/app.py: the client and scheme the app sees.
        return reply(
          start,
          "200 OK",
          WHOAMI_KEYS.map((key) => `${key} = ${pyRepr(String(environ[key] ?? ""))}\n`).join(""),
        );
      default:
        if (path.startsWith("/cache/")) {
          const answer = cacheRoute(path, query, start, runtime);
          if (answer) return answer;
        }
        return reply(start, "404 Not Found", `no route ${path}\n`);
    }
  };
}

function cacheRoute(
  path: string,
  query: Map<string, string>,
  start: StartResponse,
  runtime: Runtime,
): Uint8Array[] | undefined {
  if (!runtime.cacheGet || !runtime.cacheSet) {
    return reply(start, "501 Not Implemented", "needs uWSGI with --cache2\n");
  }
  if (path === "/cache/set") {
    const keys = [...query.keys()].slice(0, 20);
    for (const key of keys) runtime.cacheSet(key, (query.get(key) ?? "").slice(0, 4096));
    // sorted(query): Python orders str by code point, as a plain comparison of code points does.
    const sorted = keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const list = `[${sorted.map((k) => pyRepr(k)).join(", ")}]`;
    return reply(start, "200 OK", `set ${list} pid=${runtime.pid}\n`);
  }
  if (path !== "/cache/get") return undefined;
  const key = query.get("k") ?? "greeting";
  const value = runtime.cacheGet(key);
  const shown = value === null ? "None" : `b${pyRepr(value)}`;
  return reply(start, "200 OK", `${key}=${shown} pid=${runtime.pid}\n`);
}
