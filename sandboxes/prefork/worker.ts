import { readSync, writeSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { httpDateNow } from "../shared/python.js";
import {
  demoApp,
  type Environ,
  exitIfOrphaned,
  type Headers,
  ImportFailure,
  importGreeting,
  nap,
  onBeforeBlocking,
  PyBytes,
  PyObject,
  type Runtime,
  WsgiInput,
} from "./app.js";
import { FolderCache } from "./cache.js";
import { accessTime, gunicornLine } from "./flavours/logging.js";
import type { DoneRequest, MasterMessage, WorkerMessage, WorkerSettings } from "./messages.js";

/** Request line and headers together may not be longer than this. */
const MAX_HEAD = 16384;
const MAX_HEADERS = 100;
const MAX_BODY = 1024 * 1024;
/** A client that has not sent a whole request by then is dropped (slowloris). */
const READ_TIMEOUT_MS = 30000;

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  413: "Request Entity Too Large",
  500: "Internal Server Error",
};

interface ParsedHead {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
  bodyStart: number;
}

/** Parses the request line and headers; a string is the reason the request is bad. */
function parseHead(buf: Buffer, end: number): ParsedHead | string {
  const text = buf.subarray(0, end).toString("latin1");
  const lines = text.split("\r\n");
  const requestLine = lines.shift() ?? "";
  const m = /^([A-Z!#$%&'*+.^_`|~0-9-]+) (\S+) (HTTP\/1\.[01])$/.exec(requestLine);
  if (!m) return `Invalid HTTP request line: ${JSON.stringify(requestLine.slice(0, 100))}`;
  if (lines.length > MAX_HEADERS) return "Too many headers";
  const headers: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon)))
      return `Invalid header: ${JSON.stringify(line.slice(0, 100))}`;
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return {
    method: m[1] ?? "GET",
    target: m[2] ?? "/",
    version: m[3] ?? "HTTP/1.1",
    headers,
    bodyStart: end + 4,
  };
}

let dateSecond = 0;
let dateText = "";

/** The Date header, worked out once a second. */
function dateHeader(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = httpDateNow();
  }
  return dateText;
}

/** How long a finished request's report may wait to share one write with the next ones. */
const BATCH_MS = 5;
let outbox: WorkerMessage[] = [];
let outboxSince = 0;
let flushTimer: NodeJS.Timeout | undefined;

function flush(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (outbox.length === 0) return;
  const messages = outbox;
  outbox = [];
  if (process.connected) {
    process.send?.(messages.length === 1 ? messages[0] : { t: "batch", messages });
  }
}

/** Sends at once, after anything batched (so the master sees every change in order). */
function send(message: WorkerMessage): void {
  flush();
  if (process.connected) process.send?.(message);
}

/**
 * Sends within BATCH_MS, together with whatever else is reported meanwhile. Under a steady
 * stream of connections the event loop (and so the timer) waits, so the age is checked here too.
 */
function sendSoon(message: WorkerMessage): void {
  if (outbox.length === 0) outboxSince = performance.now();
  outbox.push(message);
  if (performance.now() - outboxSince >= BATCH_MS) flush();
  else flushTimer ??= setTimeout(flush, BATCH_MS);
}

/** A whole request, or the error it gets instead. */
type Reading =
  | { head: ParsedHead; body: Buffer; extra: boolean }
  | { status: number; detail: string };

/** What the bytes received so far amount to; undefined while more are needed. */
function examine(buffered: Buffer): Reading | undefined {
  const headEnd = buffered.indexOf("\r\n\r\n");
  if (headEnd < 0 ? buffered.length > MAX_HEAD : headEnd > MAX_HEAD)
    return { status: 400, detail: "Request header fields too large" };
  if (headEnd < 0) return undefined;
  const head = parseHead(buffered, headEnd);
  if (typeof head === "string") return { status: 400, detail: head };
  const lengthText = head.headers.find(([k]) => k.toLowerCase() === "content-length")?.[1];
  const length = lengthText === undefined ? 0 : Number(lengthText);
  if (!Number.isInteger(length) || length < 0)
    return { status: 400, detail: "Invalid Content-Length" };
  if (length > MAX_BODY) return { status: 413, detail: "Request body too large" };
  const bodyEnd = head.bodyStart + length;
  if (buffered.length < bodyEnd) return undefined;
  return {
    head,
    body: buffered.subarray(head.bodyStart, bodyEnd),
    extra: buffered.length > bodyEnd,
  };
}

function errorResponse(status: number, detail: string): Buffer {
  const text = STATUS_TEXT[status];
  const body = `<html><head><title>${text}</title></head><body><h1><p>${text}</p></h1>${detail.replace(/[<>&]/g, "")}</body></html>`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    "latin1",
  );
}

interface Address {
  address?: string;
  port?: number;
}

/** Who is at each end of a connection, as the environ shows it. */
export interface Peer {
  address: string;
  port: number;
  /** Our end; asked only when the app reads it. */
  local(): Address;
}

/** An accepted connection as libuv hands it to Node, before Node wraps it in a net.Socket. */
interface TcpHandle {
  /** The descriptor: a number >= 0 on POSIX, -1 on Windows. */
  readonly fd: number;
  getpeername(out: Address): number;
  getsockname(out: Address): number;
  close(): void;
}

/** A listening handle: libuv calls `onconnection` from its accept loop, once per connection. */
interface ListenHandle {
  onconnection(err: number, client?: TcpHandle): void;
}

function socketPeer(socket: Socket): Peer {
  return {
    address: socket.remoteAddress ?? "127.0.0.1",
    port: socket.remotePort ?? 0,
    local: () => ({ address: socket.localAddress, port: socket.localPort }),
  };
}

function handlePeer(client: TcpHandle): Peer {
  const out: Address = {};
  client.getpeername(out);
  return {
    address: out.address ?? "127.0.0.1",
    port: out.port ?? 0,
    local: () => {
      const local: Address = {};
      client.getsockname(local);
      return local;
    },
  };
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Waiting on a non-blocking descriptor the way a blocking call waits: the whole process sleeps,
 * a little longer each time (20 µs, doubling up to 1 ms), until `ms` have passed in all. It looks
 * at the parent pid meanwhile, as the app's blocking routes do.
 */
class Patience {
  private readonly deadline: number;
  private tries = 0;
  private checked = performance.now();
  constructor(ms: number) {
    this.deadline = this.checked + ms;
  }
  /** False once the time is up. */
  wait(): boolean {
    const now = performance.now();
    if (now > this.deadline) return false;
    if (now - this.checked >= 100) {
      exitIfOrphaned();
      this.checked = now;
    }
    nap(Math.min(1, 0.02 * 2 ** this.tries++));
    return true;
  }
  /** Something arrived: the next wait starts short again. */
  progress(): void {
    this.tries = 0;
  }
}

const chunk = Buffer.allocUnsafe(65536);

/**
 * Reads one request as a sync worker's recv() does: the worker does nothing else meanwhile.
 * Undefined when the client goes away or has not sent a whole request within READ_TIMEOUT_MS.
 */
function readRequest(fd: number): Reading | undefined {
  let buffered = Buffer.alloc(0);
  const patience = new Patience(READ_TIMEOUT_MS);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (err) {
      if (code(err) === "EAGAIN" && patience.wait()) continue;
      return undefined;
    }
    if (n === 0) return undefined;
    patience.progress();
    const got = Buffer.from(chunk.subarray(0, n));
    buffered = buffered.length === 0 ? got : Buffer.concat([buffered, got]);
    const reading = examine(buffered);
    if (reading) return reading;
  }
}

/** Writes all of `data` as sendall() does; false when the client is gone or stops reading. */
function writeAll(fd: number, data: Buffer): boolean {
  const patience = new Patience(READ_TIMEOUT_MS);
  for (let offset = 0; offset < data.length; ) {
    try {
      offset += writeSync(fd, data, offset, data.length - offset);
      patience.progress();
    } catch (err) {
      if (code(err) !== "EAGAIN" || !patience.wait()) return false;
    }
  }
  return true;
}

/** Discards what the client sent beyond its request, so that closing sends FIN, not RST. */
function drain(fd: number): void {
  for (let i = 0; i < 16; i++) {
    try {
      if (readSync(fd, chunk, 0, chunk.length, null) === 0) return;
    } catch {
      return;
    }
  }
}

/** Runs one worker: imports the app, then serves one request at a time until told to stop. */
export function runWorker(settings: WorkerSettings): void {
  const pid = process.pid;
  const gunicorn = settings.flavour === "gunicorn";
  const log = (level: string, message: string) =>
    process.stderr.write(gunicornLine(pid, level, message));

  process.on("disconnect", () => process.exit(0));
  // The master stops workers over IPC; signals from the terminal's Ctrl+C go to the master.
  process.on("SIGINT", () => {});
  process.on("SIGHUP", () => {});

  let greeting: string;
  try {
    greeting = settings.preloaded ?? importGreeting(settings.directory, settings.app);
  } catch (err) {
    const traceback = err instanceof ImportFailure ? err.traceback : String(err);
    if (gunicorn) {
      log("ERROR", "Exception in worker process");
      process.stderr.write(traceback);
      log("INFO", `Worker exiting (pid: ${pid})`);
    }
    send({ t: "boot-failed" });
    setTimeout(() => process.exit(3), 50);
    return;
  }

  const runtime: Runtime = { pid };
  if (settings.cache) {
    const cache = new FolderCache(settings.cache.folder, settings.cache.items);
    runtime.cacheGet = (key) => cache.get(key);
    runtime.cacheSet = (key, value) => cache.set(key, value);
  }
  const app = demoApp(greeting, runtime);

  let server: Server | undefined;
  /** The fallback path's connection in hand, and those that came meanwhile. */
  let current: Socket | undefined;
  const queue: Socket[] = [];
  let served = 0;
  let nextId = 0;
  let stopping: Extract<MasterMessage, { t: "stop" }> | undefined;
  let exitReason: "max-requests" | undefined;
  let exiting = false;
  let orphanChecked = 0;

  const exit = (reason: "max-requests" | "shutdown" | "reload" | "ttou") => {
    if (exiting) return;
    exiting = true;
    send({ t: "exiting", reason });
    if (gunicorn) log("INFO", `Worker exiting (pid: ${pid})`);
    server?.close();
    setImmediate(() => process.exit(0));
  };

  const afterRequest = () => {
    current = undefined;
    if (exitReason) return exit(exitReason);
    const next = queue.shift();
    if (next) return serveAsync(next);
    if (stopping) exit(stopping.reason);
  };

  /**
   * A sync worker's loop body: accept, then handle the connection fully before accepting the
   * next. libuv calls this from its accept loop, so until it returns this worker accepts
   * nothing and the kernel hands new connections to the other workers (or keeps them in the
   * backlog for whichever worker frees first). The connection never becomes a net.Socket:
   * the worker reads and writes its descriptor, and libuv closes it.
   */
  function serveSync(err: number, client?: TcpHandle): void {
    if (err || !client) return;
    // Connections may come one after another without the event loop turning (and so without
    // the IPC channel's "disconnect"): look at the parent from here too, now and then.
    if (performance.now() - orphanChecked > 100) {
      exitIfOrphaned();
      orphanChecked = performance.now();
    }
    const fd = client.fd;
    const reading = readRequest(fd);
    if (reading) {
      const answered =
        "status" in reading
          ? writeAll(fd, errorResponse(reading.status, reading.detail))
          : respond(handlePeer(client), reading.head, reading.body, (bytes) => writeAll(fd, bytes));
      if (answered && ("status" in reading || reading.extra)) drain(fd);
    }
    client.close();
    afterRequest();
  }

  /**
   * Where a socket has no descriptor to read synchronously (Windows): read it with events, one
   * connection at a time; those accepted meanwhile wait here rather than in the kernel.
   */
  function serveAsync(socket: Socket): void {
    socket.on("error", () => {});
    if (current) {
      queue.push(socket);
      return;
    }
    current = socket;
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (reply?: () => void) => {
      if (current !== socket) return;
      clearTimeout(timer);
      socket.off("data", onData);
      if (reply) reply();
      else socket.destroy();
      afterRequest();
    };
    const timer = setTimeout(() => finish(), READ_TIMEOUT_MS);
    const onData = (data: Buffer) => {
      buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data]);
      const reading = examine(buffered);
      if (!reading) return;
      finish(() => {
        if ("status" in reading) socket.end(errorResponse(reading.status, reading.detail));
        else respond(socketPeer(socket), reading.head, reading.body, (bytes) => socket.end(bytes));
      });
    };
    socket.on("data", onData);
    socket.once("end", () => finish());
    socket.once("close", () => finish());
    socket.resume();
  }

  /** Runs the app on one request, hands the response to `deliver`, then reports it. */
  function respond(
    peer: Peer,
    head: ParsedHead,
    body: Buffer,
    deliver: (bytes: Buffer) => unknown,
  ): boolean {
    const startedAt = Date.now();
    const started = performance.now();
    const id = ++nextId;
    const remote = peer.address;
    let announced = false;
    onBeforeBlocking(() => {
      if (announced) return;
      announced = true;
      send({ t: "busy", id, method: head.method, target: head.target, startedAt, remote });
    });
    served++;
    if (settings.maxRequests > 0 && served >= settings.maxRequests) {
      exitReason = "max-requests";
      if (gunicorn) log("INFO", "Autorestarting worker after current request.");
    }
    const environ = buildEnviron(settings, head, body, peer);
    let status = "500 Internal Server Error";
    let headers: Headers = [];
    const startResponse = (s: string, h: Headers) => {
      status = s;
      headers = h;
    };
    let chunks: Uint8Array[];
    try {
      chunks = [...app(environ, startResponse)];
    } catch {
      status = "500 Internal Server Error";
      headers = [["Content-Type", "text/plain"]];
      chunks = [Buffer.from("Internal Server Error")];
    }
    const statusLine = `HTTP/1.1 ${status}\r\n`;
    const serverHeaders = gunicorn
      ? `Server: gunicorn\r\nDate: ${dateHeader()}\r\nConnection: close\r\n`
      : "";
    const appHeaders = headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const headText = `${statusLine}${serverHeaders}${appHeaders}\r\n`;
    const bodyBytes = head.method === "HEAD" ? [] : chunks;
    const size = chunks.reduce((n, c) => n + c.length, 0);
    const delivered = deliver(Buffer.concat([Buffer.from(headText, "latin1"), ...bodyBytes]));
    const code = Number(status.slice(0, 3));
    const header = (name: string) =>
      head.headers.find(([k]) => k.toLowerCase() === name)?.[1] ?? "-";
    if (gunicorn && settings.accessLog) {
      process.stdout.write(
        `${remote} - - [${accessTime()}] "${head.method} ${head.target} ${head.version}" ${code} ${size} "${header("referer")}" "${header("user-agent")}"\n`,
      );
    }
    const cgi = gunicorn
      ? []
      : (Object.entries(environ).filter(([k, v]) => typeof v === "string" && !k.includes(".")) as [
          string,
          string,
        ][]);
    const request: DoneRequest = {
      id,
      time: new Date(startedAt).toISOString(),
      remote,
      method: head.method,
      target: head.target,
      path: String(environ.PATH_INFO),
      version: head.version,
      status: code,
      reason: status.slice(4),
      requestHeaders: Object.fromEntries(head.headers.map(([k, v]) => [k.toLowerCase(), v])),
      responseHeaders: Object.fromEntries(headers),
      bytes: size,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      vars: cgi.length * 2,
      varsBytes: cgi.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v) + 4, 0),
      headerCount: headers.length,
      headerBytes: Buffer.byteLength(statusLine) + Buffer.byteLength(appHeaders) + 2,
      startedAt,
    };
    sendSoon({ t: "done", served, request });
    return delivered !== false;
  }

  process.on("message", (message: MasterMessage, handle: unknown) => {
    if (message.t === "handle" && handle && !server && !stopping) {
      server = createServer({ pauseOnConnect: true }, serveAsync);
      server.on("error", () => {});
      server.listen(handle as Parameters<Server["listen"]>[0]);
      // On POSIX each connection is taken straight from libuv's accept loop (see serveSync).
      const listening = (server as unknown as { _handle?: ListenHandle })._handle;
      if (listening && process.platform !== "win32") listening.onconnection = serveSync;
      send({ t: "booted" });
    } else if (message.t === "stop") {
      stopping = message;
      server?.close();
      if (!message.graceful || (!current && queue.length === 0)) exit(message.reason);
    }
  });
}

/** The environ of PEP 3333, with what Gunicorn 20.1.0 or uWSGI 2.0.21 adds. */
export function buildEnviron(
  settings: WorkerSettings,
  head: ParsedHead,
  body: Buffer,
  peer: Peer,
): Environ {
  const q = head.target.indexOf("?");
  const rawPath = q < 0 ? head.target : head.target.slice(0, q);
  const query = q < 0 ? "" : head.target.slice(q + 1);
  let path: string;
  try {
    path = Buffer.from(decodeURIComponent(rawPath), "utf8").toString("latin1");
  } catch {
    path = rawPath;
  }
  const remote = peer.address;
  const remotePort = String(peer.port);
  let env: Environ;
  const gunicorn = settings.flavour === "gunicorn";
  const host = head.headers.find(([k]) => k.toLowerCase() === "host")?.[1];
  if (gunicorn) {
    const [name, port] = host
      ? [host.replace(/:\d+$/, ""), /:(\d+)$/.exec(host)?.[1] ?? "80"]
      : [settings.host, String(settings.port)];
    env = {
      REQUEST_METHOD: head.method,
      "wsgi.errors": new PyObject(
        "<gunicorn.http.wsgi.WSGIErrorsWrapper object at 0x7f3c2a1b7550>",
      ),
      "wsgi.version": [1, 0],
      "wsgi.multithread": false,
      "wsgi.multiprocess": settings.workers > 1,
      "wsgi.run_once": false,
      "wsgi.file_wrapper": new PyObject("<class 'gunicorn.http.wsgi.FileWrapper'>"),
      "wsgi.input_terminated": true,
      SERVER_SOFTWARE: "gunicorn/20.1.0",
      "gunicorn.socket": new PyObject(() => {
        const local = peer.local();
        return `<socket.socket fd=9, family=2, type=1, proto=0, laddr=('${local.address}', ${local.port}), raddr=('${remote}', ${remotePort})>`;
      }),
      QUERY_STRING: query,
      RAW_URI: head.target,
      SERVER_PROTOCOL: head.version,
      "wsgi.input": new WsgiInput(body, "<gunicorn.http.body.Body object at 0x7f3c2a43fd10>"),
      "wsgi.url_scheme": "http",
      REMOTE_ADDR: remote,
      REMOTE_PORT: remotePort,
      SERVER_NAME: name,
      SERVER_PORT: port,
      PATH_INFO: path,
      SCRIPT_NAME: "",
    };
  } else {
    env = {
      REQUEST_METHOD: head.method,
      REQUEST_URI: head.target,
      PATH_INFO: path,
      QUERY_STRING: query,
      SERVER_PROTOCOL: head.version,
      SCRIPT_NAME: "",
      SERVER_NAME: hostname(),
      SERVER_PORT: String(settings.port),
      UWSGI_ROUTER: "http",
      REMOTE_ADDR: remote,
      REMOTE_PORT: remotePort,
    };
  }
  for (const [name, value] of head.headers) {
    const key = name.toUpperCase().replace(/-/g, "_");
    if (key === "CONTENT_TYPE" || key === "CONTENT_LENGTH") {
      env[key] = value;
      continue;
    }
    const httpKey = `HTTP_${key}`;
    const existing = env[httpKey];
    env[httpKey] = typeof existing === "string" ? `${existing},${value}` : value;
  }
  if (!gunicorn) {
    Object.assign(env, {
      "wsgi.input": new WsgiInput(body, "<uwsgi._Input object at 0x7f83b38537b0>"),
      "wsgi.file_wrapper": new PyObject("<built-in function uwsgi_sendfile>"),
      "wsgi.version": [1, 0],
      "wsgi.errors": new PyObject("<_io.TextIOWrapper name=2 mode='w' encoding='UTF-8'>"),
      "wsgi.run_once": false,
      "wsgi.multithread": false,
      "wsgi.multiprocess": settings.workers > 1,
      "wsgi.url_scheme": "http",
      "uwsgi.version": new PyBytes("2.0.21-debian"),
      "uwsgi.node": new PyBytes(hostname()),
    });
  }
  return env;
}
