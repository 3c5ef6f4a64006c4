import { readSync, writeSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { httpDateNow, pyRepr } from "../shared/python.js";
import {
  demoApp,
  type Environ,
  exitIfOrphaned,
  type Headers,
  ImportFailure,
  importedLine,
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

/** Gunicorn's limit_request_line, limit_request_fields and limit_request_field_size. */
const LIMIT_REQUEST_LINE = 4094;
const MAX_HEADERS = 100;
const LIMIT_FIELD_SIZE = 8190;
/** Gunicorn's max_buffer_headers: request line and headers together may not be longer. */
const MAX_HEAD = MAX_HEADERS * (LIMIT_FIELD_SIZE + 2) + 4;
/** Gunicorn's sync worker reads the socket this many bytes at a time. */
const READ_CHUNK = 8192;
/** uWSGI's --buffer-size: the request's variables (the uwsgi packet) must fit in it. */
const UWSGI_BUFFER_SIZE = 4096;
/** Gunicorn's TOKEN_RE: what a method or a header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-zA-Z]+$/;
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

/** The request line, or the message Gunicorn 20.1's parse_request_line fails with. */
function parseRequestLine(
  line: string,
  gunicorn: boolean,
): Pick<ParsedHead, "method" | "target" | "version"> | string {
  const first = line.indexOf(" ");
  const second = first < 0 ? -1 : line.indexOf(" ", first + 1);
  if (second < 0) return `Invalid Request Line '${`Invalid HTTP request line: ${pyRepr(line)}`}'`;
  const method = line.slice(0, first);
  const target = line.slice(first + 1, second);
  const versionText = line.slice(second + 1);
  if (!TOKEN.test(method)) return `Invalid Method '${`Invalid HTTP method: ${pyRepr(method)}`}'`;
  // uWSGI's router takes any third word as the protocol, passes the method on as written and
  // answers in that protocol; Gunicorn wants HTTP/x.y, upper-cases the method and answers
  // "HTTP/%s.%s" of the two numbers it read.
  if (!gunicorn) return /\s/.test(versionText) ? "" : { method, target, version: versionText };
  const v = /^HTTP\/(\d+)\.(\d+)$/.exec(versionText);
  if (!v) return `Invalid HTTP Version '${`Invalid HTTP Version: ${pyRepr(versionText)}`}'`;
  return { method: method.toUpperCase(), target, version: `HTTP/${Number(v[1])}.${Number(v[2])}` };
}

/**
 * Parses the request line and headers as Gunicorn 20.1 does; a string is the message of its
 * 400 page. (uWSGI's router drops a request it cannot parse without a word.)
 */
function parseHead(buf: Buffer, end: number, gunicorn: boolean): ParsedHead | string {
  const text = buf.subarray(0, end).toString("latin1");
  const lines = text.split("\r\n");
  const requestLine = parseRequestLine(lines.shift() ?? "", gunicorn);
  if (typeof requestLine === "string") return requestLine;
  const headers: [string, string][] = [];
  while (lines.length > 0) {
    // Gunicorn's limits; uWSGI's is on the request's variables as a whole (see respond).
    if (gunicorn && headers.length >= MAX_HEADERS)
      return "Error parsing headers: 'limit request headers fields'";
    const line = lines.shift() ?? "";
    let size = line.length + 2;
    const colon = line.indexOf(":");
    if (colon <= 0) return `Invalid HTTP Header: ${pyRepr(line)}`;
    const name = line.slice(0, colon);
    if (gunicorn && !TOKEN.test(name))
      return `Invalid HTTP header name: ${pyRepr(name.toUpperCase())}`;
    const value = [line.slice(colon + 1).replace(/^[ \t]+/, "")];
    while (lines[0]?.startsWith(" ") || lines[0]?.startsWith("\t")) {
      const more = lines.shift() ?? "";
      size += more.length + 2;
      value.push(more.replace(/^[ \t]+|[ \t]+$/g, ""));
    }
    if (gunicorn && size > LIMIT_FIELD_SIZE)
      return "Error parsing headers: 'limit request headers fields size'";
    const joined = value.join(" ");
    headers.push([name, gunicorn ? joined : joined.trim()]);
  }
  return { ...requestLine, headers, bodyStart: end + 4 };
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

/**
 * A whole request, or the error it gets instead (with the head when Gunicorn had parsed it far
 * enough to write an access-log line for it).
 */
type Reading =
  | { head: ParsedHead; body: Buffer; extra: boolean }
  | { status: number; detail: string; head?: ParsedHead };

/**
 * What the bytes received so far amount to; undefined while more are needed. Gunicorn reads
 * the request line first, READ_CHUNK bytes at a time, and judges it as soon as it ends.
 */
function examine(buffered: Buffer, gunicorn: boolean): Reading | undefined {
  const firstRead = buffered.subarray(0, READ_CHUNK);
  const lineEnd = firstRead.indexOf("\r\n");
  const lineSize =
    lineEnd >= 0 ? lineEnd : firstRead.length - 2 > LIMIT_REQUEST_LINE ? firstRead.length : 0;
  // uWSGI has no such limit: its own is on the variables the request makes (see respond).
  if (gunicorn && lineSize > LIMIT_REQUEST_LINE) {
    return {
      status: 400,
      detail: `Request Line is too large (${lineSize} > ${LIMIT_REQUEST_LINE})`,
    };
  }
  if (gunicorn && lineEnd >= 0) {
    const line = parseRequestLine(firstRead.subarray(0, lineEnd).toString("latin1"), true);
    if (typeof line === "string") return { status: 400, detail: line };
  }
  const headEnd = buffered.indexOf("\r\n\r\n");
  if (headEnd < 0 ? buffered.length > MAX_HEAD : headEnd > MAX_HEAD)
    return { status: 400, detail: "Error parsing headers: 'max buffer headers'" };
  if (headEnd < 0) return undefined;
  const head = parseHead(buffered, headEnd, gunicorn);
  if (typeof head === "string") return { status: 400, detail: head };
  const lengths = head.headers.filter(([k]) => k.toLowerCase() === "content-length");
  const lengthText = lengths[0]?.[1];
  // Gunicorn refuses a Content-Length that is not digits, or given twice; uWSGI reads it as 0.
  if (gunicorn && (lengths.length > 1 || (lengthText !== undefined && !/^\d+$/.test(lengthText))))
    return { status: 400, detail: "Invalid HTTP Header: 'CONTENT-LENGTH'", head };
  const length = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : 0;
  if (length > MAX_BODY) return { status: 413, detail: "Request body too large" };
  const bodyEnd = head.bodyStart + length;
  if (buffered.length < bodyEnd) return undefined;
  return {
    head,
    body: buffered.subarray(head.bodyStart, bodyEnd),
    extra: buffered.length > bodyEnd,
  };
}

/** html.escape(text, quote=True). */
function htmlEscape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");
}

/** Gunicorn's util.write_error: its HTML page, the message escaped. */
function errorResponse(status: number, detail: string): Buffer {
  const text = STATUS_TEXT[status];
  const body = `<html>\n  <head>\n    <title>${text}</title>\n  </head>\n  <body>\n    <h1><p>${text}</p></h1>\n    ${htmlEscape(detail)}\n  </body>\n</html>\n`;
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
  /** Empty for a Unix socket: its client has no address. */
  address: string;
  port: number;
  /** The Unix socket's path as bound, when the connection came over one. */
  unix?: string;
  /** Our end; asked only when the app reads it. */
  local(): Address;
}

/**
 * An accepted connection as libuv hands it to Node, before Node wraps it in a net.Socket: a
 * TCP handle, or a pipe handle (a Unix socket's), which has no getpeername or getsockname.
 */
interface ClientHandle {
  /** The descriptor: a number >= 0 on POSIX, -1 on Windows. */
  readonly fd: number;
  getpeername?(out: Address): number;
  getsockname?(out: Address): number;
  close(): void;
}

/** A listening handle: libuv calls `onconnection` from its accept loop, once per connection. */
interface ListenHandle {
  onconnection(err: number, client?: ClientHandle): void;
}

function socketPeer(socket: Socket): Peer {
  return {
    address: socket.remoteAddress ?? "127.0.0.1",
    port: socket.remotePort ?? 0,
    local: () => ({ address: socket.localAddress, port: socket.localPort }),
  };
}

/** The peer of a connection accepted on a TCP socket, or on the Unix socket bound at `unix`. */
function handlePeer(client: ClientHandle, unix: string | undefined): Peer {
  // accept() on a Unix socket gives Python '' for the client's address.
  if (unix !== undefined) return { address: "", port: 0, unix, local: () => ({ address: unix }) };
  const out: Address = {};
  client.getpeername?.(out);
  return {
    address: out.address ?? "127.0.0.1",
    port: out.port ?? 0,
    local: () => {
      const local: Address = {};
      client.getsockname?.(local);
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
function readRequest(fd: number, gunicorn: boolean, onWait: () => void): Reading | undefined {
  let buffered = Buffer.alloc(0);
  const patience = new Patience(READ_TIMEOUT_MS);
  let waited = false;
  const began = performance.now();
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (err) {
      if (code(err) !== "EAGAIN") return undefined;
      // A request still on its way (part of it here, or nothing after a moment): the worker is
      // taken from here on.
      if (!waited && (buffered.length > 0 || performance.now() - began > 50)) {
        waited = true;
        onWait();
      }
      if (patience.wait()) continue;
      return undefined;
    }
    if (n === 0) return undefined;
    patience.progress();
    const got = Buffer.from(chunk.subarray(0, n));
    buffered = buffered.length === 0 ? got : Buffer.concat([buffered, got]);
    const reading = examine(buffered, gunicorn);
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
    if (settings.preloaded !== undefined) greeting = settings.preloaded;
    else {
      greeting = importGreeting(settings.directory, settings.app);
      // app.py's print(..., flush=True) at import, on the worker's own stdout.
      process.stdout.write(importedLine(pid, greeting));
    }
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

  /** A server per listening socket the master sent, by its index. */
  const servers = new Map<number, Server>();
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
    for (const server of servers.values()) server.close();
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
   * the worker reads and writes its descriptor, and libuv closes it. `unix` is the path of the
   * Unix socket it came over.
   */
  function serveSync(err: number, client: ClientHandle | undefined, unix?: string): void {
    if (err || !client) return;
    // Connections may come one after another without the event loop turning (and so without
    // the IPC channel's "disconnect"): look at the parent from here too, now and then.
    if (performance.now() - orphanChecked > 100) {
      exitIfOrphaned();
      orphanChecked = performance.now();
    }
    const fd = client.fd;
    const peer = handlePeer(client, unix);
    let waiting = false;
    const reading = readRequest(fd, gunicorn, () => {
      waiting = true;
      send({ t: "reading", startedAt: Date.now(), remote: peer.address });
    });
    if (waiting && (!reading || "status" in reading)) send({ t: "idle" });
    if (reading) {
      // uWSGI's router closes a request it cannot parse without an answer.
      const answered =
        "status" in reading
          ? refuse(reading, peer.address) &&
            writeAll(fd, errorResponse(reading.status, reading.detail))
          : respond(peer, reading.head, reading.body, (bytes) => writeAll(fd, bytes));
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
      const reading = examine(buffered, gunicorn);
      if (!reading) return;
      finish(() => {
        if ("status" in reading) {
          if (refuse(reading, socketPeer(socket).address))
            socket.end(errorResponse(reading.status, reading.detail));
          else socket.destroy();
        } else if (
          !respond(socketPeer(socket), reading.head, reading.body, (bytes) => socket.end(bytes))
        ) {
          socket.destroy();
        }
      });
    };
    socket.on("data", onData);
    socket.once("end", () => finish());
    socket.once("close", () => finish());
    socket.resume();
  }

  /** Gunicorn's access-log line. */
  function accessLine(remote: string, head: ParsedHead, code: number, size: number): void {
    if (!gunicorn || !settings.accessLog) return;
    const header = (name: string) =>
      head.headers.find(([k]) => k.toLowerCase() === name)?.[1] ?? "-";
    process.stdout.write(
      `${remote} - - [${accessTime()}] "${head.method} ${head.target} ${head.version}" ${code} ${size} "${header("referer")}" "${header("user-agent")}"\n`,
    );
  }

  /**
   * A request that could not be parsed: true when Gunicorn answers it with its 400 page (and
   * logs it when it got as far as the request line and headers); uWSGI's router just closes.
   */
  function refuse(reading: { status: number; head?: ParsedHead }, remote: string): boolean {
    if (!gunicorn) return false;
    if (reading.head) accessLine(remote, reading.head, reading.status, 0);
    return true;
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
    const scheme = gunicorn ? gunicornScheme(head, peer) : "http";
    if (scheme === undefined) {
      // Gunicorn refuses it while parsing: no app, no access-log line; the worker is free again.
      send({ t: "idle" });
      return deliver(errorResponse(400, "Contradictory scheme headers")) !== false;
    }
    const environ = buildEnviron(settings, head, body, peer, scheme);
    const cgi = gunicorn
      ? []
      : (Object.entries(environ).filter(([k, v]) => typeof v === "string" && !k.includes(".")) as [
          string,
          string,
        ][]);
    const varsBytes = cgi.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v) + 4, 0);
    if (!gunicorn && varsBytes > UWSGI_BUFFER_SIZE) {
      // The router's packet is too big for the worker's buffer: it is skipped, unanswered.
      // ...and the router, finding the worker gone, logs the reset with the request's Host.
      const key = head.headers.find(([k]) => k.toLowerCase() === "host")?.[1] ?? hostname();
      process.stderr.write(
        `invalid request block size: ${varsBytes} (max ${UWSGI_BUFFER_SIZE})...skip\n[uwsgi-http key: ${key} client_addr: ${remote} client_port: ${peer.port}] hr_instance_read(): Connection reset by peer [plugins/http/http.c line 647]\n`,
      );
      return false;
    }
    served++;
    if (settings.maxRequests > 0 && served >= settings.maxRequests) {
      exitReason = "max-requests";
      if (gunicorn) log("INFO", "Autorestarting worker after current request.");
    }
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
    // Both servers answer in the version the request line named (HTTP/1.0 gets HTTP/1.0).
    const statusLine = `${head.version} ${status}\r\n`;
    const serverHeaders = gunicorn
      ? `Server: gunicorn\r\nDate: ${dateHeader()}\r\nConnection: close\r\n`
      : "";
    const appHeaders = headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const headText = `${statusLine}${serverHeaders}${appHeaders}\r\n`;
    // Neither Gunicorn 20.1's sync worker nor uWSGI drops the body of a HEAD: the app's is sent.
    const size = chunks.reduce((n, c) => n + c.length, 0);
    const delivered = deliver(Buffer.concat([Buffer.from(headText, "latin1"), ...chunks]));
    const code = Number(status.slice(0, 3));
    accessLine(remote, head, code, size);
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
      varsBytes,
      headerCount: headers.length,
      headerBytes: Buffer.byteLength(statusLine) + Buffer.byteLength(appHeaders) + 2,
      startedAt,
    };
    sendSoon({ t: "done", served, request });
    return delivered !== false;
  }

  process.on("message", (message: MasterMessage, handle: unknown) => {
    if (message.t === "handle" && handle && !servers.has(message.index) && !stopping) {
      const server = createServer({ pauseOnConnect: true }, serveAsync);
      server.on("error", () => {});
      server.listen(handle as Parameters<Server["listen"]>[0]);
      servers.set(message.index, server);
      // On POSIX each connection is taken straight from libuv's accept loop (see serveSync).
      const listening = (server as unknown as { _handle?: ListenHandle })._handle;
      if (listening && process.platform !== "win32") {
        const unix = message.unix;
        listening.onconnection = (err, client) => serveSync(err, client, unix);
      }
      // Booted once it listens on every socket the master has.
      if (servers.size === message.count) send({ t: "booted" });
    } else if (message.t === "stop") {
      stopping = message;
      for (const server of servers.values()) server.close();
      if (!message.graceful || (!current && queue.length === 0)) exit(message.reason);
    }
  });
}

/**
 * Gunicorn's SERVER_NAME and SERVER_PORT. On a TCP socket they are the address it listens on.
 * On a Unix socket (whose name is only a path) they come from the Host header, as
 * gunicorn/http/wsgi.py splits it at ':' (port 80 when it names none); without a Host header
 * they are the socket's path and ''.
 */
function gunicornServer(
  settings: WorkerSettings,
  head: ParsedHead,
  peer: Peer,
  scheme: "http" | "https",
): [string, string] {
  if (peer.unix === undefined) return [settings.host, String(settings.port)];
  let host = "";
  for (const [name, value] of head.headers) if (name.toLowerCase() === "host") host = value;
  if (!host) return [peer.unix, ""];
  const parts = host.split(":");
  return [parts[0] ?? "", parts[1] ?? (scheme === "https" ? "443" : "80")];
}

/** Gunicorn's secure_scheme_headers: a header, and the value that means https. */
const SECURE_SCHEME_HEADERS = new Map([
  ["x-forwarded-protocol", "ssl"],
  ["x-forwarded-proto", "https"],
  ["x-forwarded-ssl", "on"],
]);

/**
 * wsgi.url_scheme as Gunicorn 20.1 sets it: from secure_scheme_headers when the peer is in
 * forwarded_allow_ips (127.0.0.1 by default) or on a Unix socket; undefined when two of them
 * disagree (Gunicorn answers 400 "Contradictory scheme headers").
 */
export function gunicornScheme(head: ParsedHead, peer: Peer): "http" | "https" | undefined {
  if (peer.unix === undefined && peer.address !== "127.0.0.1") return "http";
  let scheme: "http" | "https" | undefined;
  for (const [name, value] of head.headers) {
    const secure = SECURE_SCHEME_HEADERS.get(name.toLowerCase());
    if (secure === undefined) continue;
    const said = value === secure ? "https" : "http";
    if (scheme !== undefined && said !== scheme) return undefined;
    scheme = said;
  }
  return scheme ?? "http";
}

/** The environ of PEP 3333, with what Gunicorn 20.1.0 or uWSGI 2.0.21 adds. */
export function buildEnviron(
  settings: WorkerSettings,
  head: ParsedHead,
  body: Buffer,
  peer: Peer,
  scheme: "http" | "https" = "http",
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
  if (gunicorn) {
    const [name, port] = gunicornServer(settings, head, peer, scheme);
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
        if (peer.unix !== undefined)
          return `<socket.socket fd=9, family=1, type=1, proto=0, laddr=${peer.unix}>`;
        const local = peer.local();
        return `<socket.socket fd=9, family=2, type=1, proto=0, laddr=('${local.address}', ${local.port}), raddr=('${remote}', ${remotePort})>`;
      }),
      QUERY_STRING: query,
      RAW_URI: head.target,
      SERVER_PROTOCOL: head.version,
      "wsgi.input": new WsgiInput(body, "<gunicorn.http.body.Body object at 0x7f3c2a43fd10>"),
      "wsgi.url_scheme": scheme,
      REMOTE_ADDR: remote,
      REMOTE_PORT: remotePort,
      SERVER_NAME: name,
      SERVER_PORT: port,
      PATH_INFO: path,
      SCRIPT_NAME: "",
    };
    // A Unix socket's client has no address, so no port either.
    if (peer.unix !== undefined) delete env.REMOTE_PORT;
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
