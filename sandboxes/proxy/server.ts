/**
 * The front server: reads each request whole, serves /static/ itself, passes the rest to an
 * upstream with nginx's headers, and answers with the upstream's whole response.
 */

import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { createServer, type Server } from "node:net";
import { performance } from "node:perf_hooks";
import { sendEvent } from "../shared/ipc.js";
import { stderrOut, stdoutOut } from "../shared/output.js";
import type { ProxyAttempt, ProxyEvent, RequestEvent, UpstreamsEvent } from "../shared/protocol.js";
import { httpDateNow } from "../shared/python.js";
import { type CacheStatus, cacheable, type MicroCache } from "./cache.js";
import { acceptHandles, type ClientSocket } from "./client-socket.js";
import { bindings } from "./handles.js";
import {
  accessLine,
  type ErrorContext,
  errorLine,
  errorPage,
  HEADER_TOO_LARGE,
  NGINX,
  reasonOf,
} from "./nginx.js";
import {
  ChunkedDecoder,
  HeadScanner,
  parseHead,
  partialLine,
  type Refusal,
  type RequestHead,
} from "./request.js";
import { Slots } from "./slots.js";
import { closeFd, type StaticRoot, serveStatic } from "./static.js";
import {
  type ExchangeTimes,
  exchange,
  type Upstream,
  type UpstreamFailure,
  type UpstreamPool,
  type UpstreamResponse,
} from "./upstream.js";

export interface ProxyServerOptions {
  pool: UpstreamPool;
  staticRoot: StaticRoot;
  cache?: MicroCache;
  maxBodyBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  keepaliveTimeoutMs: number;
  /** Send events over IPC. */
  events: boolean;
}

/** server_name, as the error log names the server block. */
const SERVER_NAME = "localhost";
/** The upstream block's name, as `proxy_pass http://app_server;` shows in the error log. */
const UPSTREAM_NAME = "app_server";
const STATIC_PREFIX = "/static/";
/** keepalive_requests: after this many requests a connection closes. */
const KEEPALIVE_REQUESTS = 1000;
/** lingering_timeout: after an error answer, what the client still sends is read and dropped this long. */
const LINGERING_MS = 5000;
/** Connections held open at once; one more is closed as it comes (worker_connections 1024). */
const MAX_CONNECTIONS = 1024;
/** send_timeout: a client that takes no bytes for this long is dropped. */
const SEND_TIMEOUT_MS = 60_000;
/** The largest upstream answer held in memory (nginx would spill to a temporary file). */
const MAX_UPSTREAM_BYTES = 16 * 1024 * 1024;
/** What a client may send ahead while its request is being answered (pipelining). */
const PIPELINE_LIMIT = 64 * 1024;
/** How long a proxy event waits for the app server to say which worker answered. */
const WORKER_WAIT_MS = 150;
/** Methods nginx does not pass to a second upstream once the first one got the request. */
const NON_IDEMPOTENT = new Set(["POST", "LOCK", "PATCH"]);
/** Statuses `add_header` (without `always`) adds its header to. */
const ADD_HEADER_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);
/** Upstream headers nginx does not pass on (proxy_hide_header defaults and hop-by-hop ones). */
const HIDDEN = new Set([
  "date",
  "server",
  "x-pad",
  "x-accel-expires",
  "x-accel-redirect",
  "x-accel-limit-rate",
  "x-accel-buffering",
  "x-accel-charset",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-type",
]);
/** Client headers the proxy replaces or drops on the way up. */
const NOT_FORWARDED = new Set([
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "expect",
  "content-length",
  "transfer-encoding",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-request-id",
]);

type ConnState = "idle" | "head" | "body" | "busy" | "closing";

interface Conn {
  /** nginx's connection number, `*N` in the error log. */
  id: number;
  /** Where it sits in the server's connections, or -1. */
  slot: number;
  socket: ClientSocket;
  remote: string;
  buf: Buffer;
  state: ConnState;
  requests: number;
  /** performance.now() by which the current wait (head, body, keep-alive) must end. */
  deadline: number;
  /** Reading stopped: a pipelining client sent more than one waiting request may hold. */
  paused: boolean;
  scanner: HeadScanner | undefined;
  head: RequestHead | undefined;
  chunked: ChunkedDecoder | undefined;
  continueSent: boolean;
  /** Epoch ms and performance.now() of the current request's first byte. */
  start: number;
  startPerf: number;
  closed: boolean;
  /** The client shut its side: once nothing it sent is left to answer, the connection closes. */
  ended: boolean;
}

interface Exchange {
  conn: Conn;
  head: RequestHead;
  body: Buffer;
  id: number;
  readMs: number;
}

/** What one answer to the client is made of. */
interface Answer {
  status: number;
  reason: string;
  early: [string, string][];
  late: [string, string][];
  body?: Buffer;
  file?: { fd: number; start: number; length: number };
  /** Write the body as one chunk and the last chunk. */
  chunked?: boolean;
  /** Close the connection after this answer. */
  close?: boolean;
  /** Close it without a proper end: the upstream's body stopped short. */
  abort?: boolean;
}

interface Outcome {
  route: ProxyEvent["route"];
  cache?: CacheStatus;
  attempts: ProxyAttempt[];
  upstream?: Upstream;
  requestId?: string;
}

/**
 * $request_id: 32 hex digits, unique per request. Random per process, then counted, which costs
 * far less than fresh random bytes for each request.
 */
const requestIdPrefix = randomBytes(8).toString("hex");
let requestIdCount = 0;
function nextRequestId(): string {
  requestIdCount++;
  return requestIdPrefix + requestIdCount.toString(16).padStart(16, "0");
}

function remoteOf(socket: ClientSocket): string {
  const address = socket.remoteAddress ?? "127.0.0.1";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * The User-Agent and Referer of a head refused before it was parsed (too large), as far as it
 * came: nginx has read them by then and logs them.
 */
function headersSeen(buf: Buffer): RequestHead | undefined {
  const text = buf.toString("latin1", 0, Math.min(buf.length, 32 * 1024));
  const ua = /\r?\nUser-Agent:[ \t]*([^\r\n]*)/i.exec(text)?.[1];
  const referer = /\r?\nReferer:[ \t]*([^\r\n]*)/i.exec(text)?.[1];
  if (ua === undefined && referer === undefined) return undefined;
  return {
    method: "",
    target: "",
    uri: "",
    line: "",
    version: "HTTP/1.1",
    headers: [],
    keepAlive: false,
    path: "",
    query: "",
    chunked: false,
    expectContinue: false,
    ...(ua !== undefined ? { userAgent: ua.trim() } : {}),
    ...(referer !== undefined ? { referer: referer.trim() } : {}),
  };
}

function headerOf(head: RequestHead, name: string): string | undefined {
  for (const [k, v] of head.headers)
    if (k.length === name.length && k.toLowerCase() === name) return v;
  return undefined;
}

function ms(fromPerf: number, atPerf = performance.now()): number {
  return Math.round((atPerf - fromPerf) * 10) / 10;
}

export class ProxyServer {
  readonly server: Server;
  readonly #o: ProxyServerOptions;
  readonly #conns = new Slots<Conn>();
  #connSeq = 0;
  #requestSeq = 0;
  #stopping = false;
  /** Proxy events waiting for the worker pid, by X-Request-ID. */
  readonly #awaitingWorker = new Map<string, { event: ProxyEvent; timer: NodeJS.Timeout }>();
  /** Worker pids the app servers reported before the proxy event was ready, by X-Request-ID. */
  readonly #workerOf = new Map<string, number>();
  #stateDirty = false;
  readonly #sweeper: NodeJS.Timeout;
  #stateTimer: NodeJS.Timeout | undefined;
  #lastStateAt = 0;

  constructor(options: ProxyServerOptions) {
    this.#o = options;
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) =>
      this.#accept(socket),
    );
    this.server.maxConnections = MAX_CONNECTIONS;
    const b = bindings;
    if (b) {
      this.server.once("listening", () =>
        acceptHandles(
          this.server,
          b,
          (socket) => this.#accept(socket),
          () => this.#conns.size,
          MAX_CONNECTIONS,
        ),
      );
    }
    // One sweep looks for expired waits, rather than a timer per connection reset per request.
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.#conns) {
        if (now < c.deadline) continue;
        c.deadline = Number.POSITIVE_INFINITY;
        this.#timedOut(c);
      }
    }, 100);
    this.#sweeper.unref();
  }

  // ---- events --------------------------------------------------------------------------------

  /** Takes a request event of an app server the proxy started: names the worker of a proxy event. */
  noteUpstreamRequest(event: RequestEvent): void {
    const rid = event.requestHeaders["x-request-id"];
    if (rid === undefined || event.worker === undefined) return;
    const waiting = this.#awaitingWorker.get(rid);
    if (waiting) {
      clearTimeout(waiting.timer);
      this.#awaitingWorker.delete(rid);
      waiting.event.worker = event.worker;
      sendEvent(waiting.event);
      return;
    }
    this.#workerOf.set(rid, event.worker);
    if (this.#workerOf.size > 512) {
      const oldest = this.#workerOf.keys().next().value;
      if (oldest !== undefined) this.#workerOf.delete(oldest);
    }
  }

  /** Something the upstreams event shows changed: send it soon (at most every 250 ms). */
  stateChanged(): void {
    if (!this.#o.events) return;
    this.#stateDirty = true;
    if (this.#stateTimer) return;
    const wait = Math.max(0, 250 - (Date.now() - this.#lastStateAt));
    this.#stateTimer = setTimeout(() => {
      this.#stateTimer = undefined;
      if (!this.#stateDirty) return;
      this.#stateDirty = false;
      this.#lastStateAt = Date.now();
      sendEvent(this.upstreamsEvent());
    }, wait);
    this.#stateTimer.unref();
  }

  upstreamsEvent(): UpstreamsEvent {
    const now = Date.now();
    let reading = 0;
    for (const c of this.#conns) if (c.state === "head" || c.state === "body") reading++;
    const event: UpstreamsEvent = {
      type: "upstreams",
      at: now,
      clients: { open: this.#conns.size, reading },
      upstreams: this.#o.pool.servers.map((s) => {
        const downUntil = this.#o.pool.downUntil(s, now);
        return {
          upstream: s.url,
          state: downUntil === undefined ? "up" : "down",
          ...(downUntil === undefined ? {} : { downUntil }),
          active: s.active,
          requests: s.requests,
          failures: s.failures,
          ...(s.pid !== undefined ? { pid: s.pid } : {}),
        };
      }),
    };
    const cache = this.#o.cache;
    if (cache) {
      event.cache = {
        entries: cache.size,
        hits: cache.hits,
        misses: cache.misses,
        expired: cache.expired,
      };
    }
    return event;
  }

  // ---- connections ---------------------------------------------------------------------------

  #accept(socket: ClientSocket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    const conn: Conn = {
      id: ++this.#connSeq,
      slot: -1,
      socket,
      remote: remoteOf(socket),
      buf: Buffer.alloc(0),
      state: "idle",
      requests: 0,
      deadline: performance.now() + this.#o.clientHeaderTimeoutMs,
      paused: false,
      scanner: undefined,
      head: undefined,
      chunked: undefined,
      continueSent: false,
      start: 0,
      startPerf: 0,
      closed: false,
      ended: false,
    };
    this.#conns.add(conn);
    this.stateChanged();
    socket.on("error", () => {});
    socket.on("data", (data: Buffer) => this.#onData(conn, data));
    socket.on("end", () => {
      conn.ended = true;
      if (conn.state === "idle" || conn.state === "closing") socket.destroy();
      else if (conn.state === "head" || conn.state === "body") this.#drop(conn);
    });
    socket.on("close", () => {
      conn.closed = true;
      conn.deadline = Number.POSITIVE_INFINITY;
      this.#conns.delete(conn);
      this.stateChanged();
    });
  }

  /** The client went away in the middle of sending its request: nothing to answer. */
  #drop(conn: Conn): void {
    conn.deadline = Number.POSITIVE_INFINITY;
    conn.state = "closing";
    conn.socket.destroy();
  }

  #onData(conn: Conn, data: Buffer): void {
    if (conn.state === "closing") return; // lingering: read and dropped
    conn.buf = conn.buf.length === 0 ? data : Buffer.concat([conn.buf, data]);
    if (conn.state === "body") conn.deadline = performance.now() + this.#o.clientBodyTimeoutMs;
    if (conn.state === "busy") {
      if (conn.buf.length > PIPELINE_LIMIT) {
        conn.paused = true;
        conn.socket.pause();
      }
      return;
    }
    this.#advance(conn);
  }

  /** Moves the connection on as far as the bytes it has allow. */
  #advance(conn: Conn): void {
    for (;;) {
      if (conn.state === "busy" || conn.state === "closing") return;
      if (conn.state === "idle") {
        // Empty lines between requests are skipped, as nginx does.
        let skip = 0;
        while (conn.buf[skip] === 13 || conn.buf[skip] === 10) skip++;
        if (skip > 0) conn.buf = conn.buf.subarray(skip);
        if (conn.buf.length === 0) return;
        conn.state = "head";
        conn.start = Date.now();
        conn.startPerf = performance.now();
        conn.continueSent = false;
        conn.head = undefined;
        conn.chunked = undefined;
        conn.scanner = undefined;
        if (conn.requests > 0) conn.deadline = conn.startPerf + this.#o.clientHeaderTimeoutMs;
        this.stateChanged();
      }
      if (conn.state === "head") {
        conn.scanner ??= new HeadScanner();
        const end = conn.scanner.scan(conn.buf);
        if (typeof end !== "number") {
          this.#refuse(conn, end);
          return;
        }
        if (end < 0) return;
        conn.scanner = undefined;
        const parsed = parseHead(conn.buf, end, this.#o.maxBodyBytes);
        conn.buf = conn.buf.subarray(end);
        if (!("method" in parsed)) {
          this.#refuse(conn, parsed);
          return;
        }
        conn.head = parsed;
        conn.state = "body";
        if (parsed.chunked) conn.chunked = new ChunkedDecoder(this.#o.maxBodyBytes);
        conn.deadline = performance.now() + this.#o.clientBodyTimeoutMs;
      }
      if (conn.state === "body") {
        const head = conn.head as RequestHead;
        let body: Buffer;
        if (conn.chunked) {
          const r = conn.chunked.feed(conn.buf);
          if ("error" in r) {
            if (r.error === "too-large") {
              this.#refuse(conn, {
                status: 413,
                head,
                line: head.line,
                log: `client intended to send too large chunked body: ${r.size} bytes`,
              });
            } else this.#refuse(conn, { status: 400, head, line: head.line });
            return;
          }
          if (!r.done) {
            this.#maybeContinue(conn, head);
            return;
          }
          body = Buffer.from(r.body);
          conn.buf = conn.buf.subarray(r.consumed);
        } else {
          const length = head.contentLength ?? 0;
          if (conn.buf.length < length) {
            this.#maybeContinue(conn, head);
            return;
          }
          body = Buffer.from(conn.buf.subarray(0, length));
          conn.buf = conn.buf.subarray(length);
        }
        conn.deadline = Number.POSITIVE_INFINITY;
        conn.state = "busy";
        conn.requests++;
        this.stateChanged();
        const ex: Exchange = {
          conn,
          head,
          body,
          id: ++this.#requestSeq,
          readMs: ms(conn.startPerf),
        };
        void this.#handle(ex).catch((err: unknown) => {
          stderrOut.write(
            errorLine(
              "alert",
              `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
            ),
          );
          conn.socket.destroy();
        });
        return;
      }
    }
  }

  /** `Expect: 100-continue`: nginx says go ahead before it reads the body. */
  #maybeContinue(conn: Conn, head: RequestHead): void {
    if (!head.expectContinue || conn.continueSent) return;
    conn.continueSent = true;
    conn.socket.write("HTTP/1.1 100 Continue\r\n\r\n");
  }

  /** client_header_timeout or client_body_timeout ran out, or the keep-alive or lingering wait did. */
  #timedOut(conn: Conn): void {
    if (conn.state === "idle" || conn.state === "closing") {
      conn.socket.destroy();
      return;
    }
    if (conn.state !== "head" && conn.state !== "body") return;
    // nginx closes without an answer and logs 408.
    const line = conn.head?.line ?? partialLine(conn.buf);
    this.#finishLog(conn, conn.head, line, 408, 0, {}, "error");
    conn.state = "closing";
    conn.socket.destroy();
  }

  /** Answers a request nginx refuses with its error page and closes the connection. */
  #refuse(conn: Conn, refusal: Refusal): void {
    conn.deadline = Number.POSITIVE_INFINITY;
    const head = refusal.head;
    const line = refusal.line ?? head?.line ?? partialLine(conn.buf);
    if (refusal.log) {
      stderrOut.write(errorLine("error", refusal.log, this.#context(conn, line, head)));
    }
    conn.state = "closing";
    this.stateChanged();
    const page = errorPage(refusal.status);
    const status = refusal.status === HEADER_TOO_LARGE ? 400 : refusal.status;
    const logged =
      head ?? (refusal.status === HEADER_TOO_LARGE ? headersSeen(conn.buf) : undefined);
    const answer: Answer = {
      status,
      reason: reasonOf(status),
      early: [
        ["Content-Type", "text/html"],
        ["Content-Length", String(page.length)],
      ],
      late: [],
      body: page,
      close: true,
    };
    const headers = this.#write(conn, answer, head?.method === "HEAD");
    this.#finishLog(
      conn,
      logged,
      line,
      refusal.status,
      head?.method === "HEAD" ? 0 : page.length,
      headers,
      "error",
    );
    // Lingering close: what the client still sends is read and dropped, so it gets the answer.
    conn.socket.end();
    conn.socket.resume();
    conn.deadline = performance.now() + LINGERING_MS;
  }

  // ---- one request ---------------------------------------------------------------------------

  async #handle(ex: Exchange): Promise<void> {
    const { head } = ex;
    if (head.path.startsWith(STATIC_PREFIX)) return this.#static(ex);
    return this.#proxied(ex);
  }

  async #static(ex: Exchange): Promise<void> {
    const { conn, head } = ex;
    const reply = await serveStatic(this.#o.staticRoot, {
      method: head.method,
      rel: head.path.slice(STATIC_PREFIX.length),
      prefix: STATIC_PREFIX,
      query: head.query,
      ...(head.host !== undefined ? { host: head.host } : {}),
      port: conn.socket.localPort ?? 80,
      header: (name) => headerOf(head, name),
    });
    if (reply.log)
      stderrOut.write(errorLine("error", reply.log, this.#context(conn, head.line, head)));
    const answer: Answer = {
      status: reply.status,
      reason: reasonOf(reply.status),
      early: reply.early,
      late: reply.late,
    };
    if (reply.errorPage) {
      const page = errorPage(reply.status);
      answer.early = [
        ["Content-Type", "text/html"],
        ["Content-Length", String(page.length)],
        ...reply.early.filter(([k]) => k !== "Content-Type"),
      ];
      answer.body = page;
    } else if (reply.file) {
      answer.file = reply.file;
    }
    await this.#respond(ex, answer, {
      route: reply.errorPage && reply.status >= 400 ? "error" : "static",
      attempts: [],
    });
  }

  /** The request as it goes upstream: HTTP/1.0, nginx's headers first, the client's after. */
  #upstreamRequest(ex: Exchange, requestId: string, method: string): Buffer {
    const { head, conn, body } = ex;
    const forwardedFor = head.headers
      .filter(([k]) => k.toLowerCase() === "x-forwarded-for")
      .map(([, v]) => v);
    forwardedFor.push(conn.remote);
    const host = headerOf(head, "host");
    let text = `${method} ${head.uri} HTTP/1.0\r\nX-Forwarded-For: ${forwardedFor.join(", ")}\r\nX-Forwarded-Proto: http\r\n`;
    if (host !== undefined && host !== "") text += `Host: ${host}\r\n`;
    text += `X-Request-ID: ${requestId}\r\nConnection: close\r\n`;
    if (head.contentLength !== undefined || head.chunked)
      text += `Content-Length: ${body.length}\r\n`;
    for (const [name, value] of head.headers) {
      if (!NOT_FORWARDED.has(name.toLowerCase())) text += `${name}: ${value}\r\n`;
    }
    text += "\r\n";
    const bytes = Buffer.from(text, "latin1");
    return body.length > 0 ? Buffer.concat([bytes, body]) : bytes;
  }

  async #proxied(ex: Exchange): Promise<void> {
    const { conn, head } = ex;
    const cache = this.#o.cache;
    const useCache = cache !== undefined && (head.method === "GET" || head.method === "HEAD");
    const now = Date.now();
    let cacheStatus: CacheStatus | undefined;
    if (useCache && cache) {
      const found = cache.lookup(head.uri, now);
      cacheStatus = found.status;
      this.stateChanged();
      if (found.entry) {
        const entry = found.entry;
        const answer: Answer = {
          status: entry.status,
          reason: entry.reason || reasonOf(entry.status),
          early: this.#earlyFrom(entry.headers, ["Content-Length", String(entry.body.length)]),
          late: [...this.#lateFrom(entry.headers), ["X-Cache", "HIT"]],
          body: entry.body,
        };
        await this.#respond(ex, answer, { route: "cache", cache: "HIT", attempts: [] });
        return;
      }
    }

    const requestId = nextRequestId();
    // With a cache, HEAD goes up as GET so that the answer can be stored (proxy_cache_convert_head).
    const upstreamMethod = useCache && head.method === "HEAD" ? "GET" : head.method;
    const request = this.#upstreamRequest(ex, requestId, upstreamMethod);
    const attempts: ProxyAttempt[] = [];
    const tried: Upstream[] = [];
    const pool = this.#o.pool;
    let lastFailure: UpstreamFailure | undefined;
    let response: UpstreamResponse | undefined;
    let answeredBy: Upstream | undefined;
    for (;;) {
      const server = pool.pick(tried, Date.now());
      if (!server) {
        if (tried.length < pool.servers.length) {
          stderrOut.write(
            errorLine(
              "error",
              "no live upstreams while connecting to upstream",
              this.#context(conn, head.line, head, `http://${UPSTREAM_NAME}${head.uri}`),
            ),
          );
          lastFailure = undefined;
        }
        break;
      }
      tried.push(server);
      const attempt: ProxyAttempt = {
        upstream: server.url,
        chosenMs: ms(conn.startPerf),
        outcome: "ok",
      };
      attempts.push(attempt);
      this.stateChanged();
      const times: ExchangeTimes = {};
      const result = await exchange(
        server,
        request,
        {
          connectTimeoutMs: this.#o.connectTimeoutMs,
          readTimeoutMs: this.#o.readTimeoutMs,
          noBody: upstreamMethod === "HEAD",
          maxBytes: MAX_UPSTREAM_BYTES,
        },
        times,
      );
      this.stateChanged();
      const rel = (t: number | undefined) =>
        t === undefined ? undefined : Math.round((t - conn.startPerf) * 10) / 10;
      const connectMs = rel(times.connected);
      const firstByteMs = rel(times.firstByte);
      const doneMs = rel(times.done);
      if (connectMs !== undefined) attempt.connectMs = connectMs;
      if (firstByteMs !== undefined) attempt.firstByteMs = firstByteMs;
      if (doneMs !== undefined) attempt.doneMs = doneMs;
      const failure = result.failure ?? result.response.truncated;
      if (failure) {
        stderrOut.write(
          errorLine(
            failure.level,
            failure.message,
            this.#context(conn, head.line, head, `${server.logName}${head.uri}`),
          ),
        );
      }
      if (result.response) {
        pool.succeeded(server);
        attempt.status = result.response.status;
        if (result.response.truncated) attempt.outcome = result.response.truncated.kind;
        response = result.response;
        answeredBy = server;
        break;
      }
      pool.failed(server, Date.now());
      attempt.outcome = result.failure.kind;
      lastFailure = result.failure;
      // A request the upstream may have acted on is not sent again when its method is not idempotent.
      if (NON_IDEMPOTENT.has(head.method) && result.failure.phase !== "connect") break;
    }

    if (!response || !answeredBy) {
      const status = lastFailure?.kind === "timeout" ? 504 : 502;
      const page = errorPage(status);
      await this.#respond(
        ex,
        {
          status,
          reason: reasonOf(status),
          early: [
            ["Content-Type", "text/html"],
            ["Content-Length", String(page.length)],
          ],
          late: [],
          body: page,
        },
        { route: "error", attempts, requestId, ...(cacheStatus ? { cache: cacheStatus } : {}) },
      );
      return;
    }

    if (
      useCache &&
      cache &&
      !response.truncated &&
      upstreamMethod === "GET" &&
      cacheable(response.status, response.headers)
    ) {
      cache.store(
        head.uri,
        {
          status: response.status,
          reason: response.reason,
          headers: response.headers,
          body: response.body,
        },
        Date.now(),
      );
      this.stateChanged();
    }

    const answer = this.#fromUpstream(response, head);
    if (cacheStatus && ADD_HEADER_STATUSES.has(response.status))
      answer.late.push(["X-Cache", cacheStatus]);
    await this.#respond(ex, answer, {
      route: "proxied",
      attempts,
      upstream: answeredBy,
      requestId,
      ...(cacheStatus ? { cache: cacheStatus } : {}),
    });
  }

  /** Content-Type first, then the length (or chunked): the headers nginx writes before Connection. */
  #earlyFrom(headers: [string, string][], length?: [string, string]): [string, string][] {
    const early: [string, string][] = [];
    const type = headers.find(([k]) => k.toLowerCase() === "content-type");
    if (type) early.push(["Content-Type", type[1]]);
    if (length) early.push(length);
    return early;
  }

  /** The upstream's other headers, in its order, without those nginx hides. */
  #lateFrom(headers: [string, string][]): [string, string][] {
    return headers.filter(([k]) => !HIDDEN.has(k.toLowerCase()));
  }

  #fromUpstream(response: UpstreamResponse, head: RequestHead): Answer {
    const clientHead = head.method === "HEAD";
    const upstreamLength = response.headers.find(
      ([k]) => k.toLowerCase() === "content-length",
    )?.[1];
    const answer: Answer = {
      status: response.status,
      reason: response.reason || reasonOf(response.status),
      early: [],
      late: this.#lateFrom(response.headers),
    };
    const noBody = response.status === 204 || response.status === 304;
    let length: [string, string] | undefined;
    if (
      response.framing === "length" ||
      (response.framing === "none" && upstreamLength !== undefined)
    ) {
      length = ["Content-Length", (upstreamLength ?? "0").trim()];
    } else if (
      !noBody &&
      !clientHead &&
      (response.framing === "chunked" || response.framing === "close")
    ) {
      // nginx streams a body of unknown length: chunked to HTTP/1.1, up to the close to HTTP/1.0.
      if (head.version === "HTTP/1.1") {
        length = ["Transfer-Encoding", "chunked"];
        answer.chunked = true;
      } else answer.close = true;
    }
    answer.early = this.#earlyFrom(response.headers, length);
    if (!clientHead && !noBody) answer.body = response.body;
    if (response.truncated) answer.abort = true;
    return answer;
  }

  /** Writes the status line and headers; returns the headers as sent, for the request event. */
  #write(conn: Conn, answer: Answer, headOnly: boolean): Record<string, string> {
    const keepAlive =
      !answer.close &&
      !answer.abort &&
      !this.#stopping &&
      conn.head?.keepAlive === true &&
      conn.requests < KEEPALIVE_REQUESTS;
    if (!keepAlive) answer.close = true;
    const date = httpDateNow();
    const connection = keepAlive ? "keep-alive" : "close";
    let text = `HTTP/1.1 ${answer.status} ${answer.reason}\r\nServer: ${NGINX}\r\nDate: ${date}\r\n`;
    for (const [k, v] of answer.early) text += `${k}: ${v}\r\n`;
    text += `Connection: ${connection}\r\n`;
    for (const [k, v] of answer.late) text += `${k}: ${v}\r\n`;
    text += "\r\n";
    const body = headOnly ? undefined : answer.body;
    let before = "";
    let after = "";
    if (answer.chunked && !headOnly) {
      if (body && body.length > 0) {
        before = `${body.length.toString(16)}\r\n`;
        after = "\r\n0\r\n\r\n";
      } else if (!answer.abort) after = "0\r\n\r\n";
    }
    // The head and the body in one buffer: one write, one packet for a small answer.
    const size = text.length + before.length + (body?.length ?? 0) + after.length;
    const bytes = Buffer.allocUnsafe(size);
    let at = bytes.write(text, 0, "latin1");
    if (before) at += bytes.write(before, at, "latin1");
    if (body) at += body.copy(bytes, at);
    if (after) bytes.write(after, at, "latin1");
    conn.socket.write(bytes);
    if (!this.#o.events) return {};
    const shown: Record<string, string> = { Server: NGINX, Date: date };
    for (const [k, v] of answer.early) shown[k] = v;
    shown.Connection = connection;
    for (const [k, v] of answer.late) shown[k] = shown[k] === undefined ? v : `${shown[k]}, ${v}`;
    return shown;
  }

  /** Sends the answer, logs it, reports it, and gets the connection ready for the next request. */
  async #respond(ex: Exchange, answer: Answer, outcome: Outcome): Promise<void> {
    const { conn, head } = ex;
    const headOnly = head.method === "HEAD";
    let bytes = 0;
    let status = answer.status;
    let shown: Record<string, string> = {};
    if (conn.closed) {
      // The client left while its request was upstream: nginx logs 499.
      status = 499;
      if (answer.file) closeFd(answer.file.fd);
    } else {
      shown = this.#write(conn, answer, headOnly);
      if (!headOnly && answer.body) {
        bytes = answer.chunked
          ? answer.body.length + answer.body.length.toString(16).length + 9
          : answer.body.length;
        if (answer.chunked && answer.abort) bytes = 0;
      } else if (!headOnly && answer.chunked) bytes = 5;
      if (answer.file) bytes = await this.#sendFile(conn, answer.file);
      else if (conn.socket.writableLength > 0) await this.#flushed(conn);
    }
    const sentMs = ms(conn.startPerf);
    this.#finishLog(
      conn,
      head,
      head.line,
      status,
      bytes,
      shown,
      outcome.route,
      outcome,
      ex,
      sentMs,
    );
    if (conn.closed) return;
    if (answer.abort) {
      conn.state = "closing";
      conn.socket.destroy();
      return;
    }
    if (answer.close) {
      conn.state = "closing";
      conn.socket.end();
      conn.socket.resume();
      conn.deadline = performance.now() + LINGERING_MS;
      return;
    }
    conn.state = "idle";
    conn.deadline = performance.now() + this.#o.keepaliveTimeoutMs;
    if (conn.paused) {
      conn.paused = false;
      conn.socket.resume();
    }
    this.stateChanged();
    // A request the client sent meanwhile (pipelining) is answered next.
    this.#advance(conn);
    // #advance may have moved the connection on.
    const state = conn.state as ConnState;
    if (conn.ended && state === "idle") {
      conn.state = "closing";
      conn.socket.end();
    } else if (conn.ended && (state === "head" || state === "body")) {
      this.#drop(conn);
    }
  }

  /** Resolves once what was written has been handed to the kernel (or the client is gone). */
  #flushed(conn: Conn): Promise<void> {
    const socket = conn.socket;
    if (socket.writableLength === 0 || conn.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      const timer = setTimeout(() => {
        socket.destroy();
        done();
      }, SEND_TIMEOUT_MS);
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  /** Streams a file's bytes after the head; resolves with the bytes sent. */
  #sendFile(conn: Conn, file: { fd: number; start: number; length: number }): Promise<number> {
    return new Promise((resolve) => {
      let sent = 0;
      const stream = createReadStream("", {
        fd: file.fd,
        start: file.start,
        end: file.start + file.length - 1,
        autoClose: true,
      });
      const socket = conn.socket;
      const onClose = () => stream.destroy();
      socket.once("close", onClose);
      stream.on("data", (chunk: Buffer | string) => {
        const data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        sent += data.length;
        if (!socket.write(data)) stream.pause();
      });
      const onDrain = () => stream.resume();
      socket.on("drain", onDrain);
      const finish = () => {
        socket.off("close", onClose);
        socket.off("drain", onDrain);
        void this.#flushed(conn).then(() => resolve(sent));
      };
      stream.once("end", finish);
      stream.once("error", () => {
        socket.destroy();
        finish();
      });
      stream.once("close", () => {
        if (!stream.readableEnded) finish();
      });
    });
  }

  #context(conn: Conn, line: string, head?: RequestHead, upstream?: string): ErrorContext {
    const ctx: ErrorContext = {
      connection: conn.id,
      client: conn.remote,
      server: SERVER_NAME,
      request: line,
    };
    if (upstream !== undefined) ctx.upstream = upstream;
    const host = head ? headerOf(head, "host") : undefined;
    if (host !== undefined) ctx.host = host;
    if (head?.referer !== undefined) ctx.referrer = head.referer;
    return ctx;
  }

  /** The access-log line and the lab's events for one finished request. */
  #finishLog(
    conn: Conn,
    head: RequestHead | undefined,
    line: string,
    status: number,
    bytes: number,
    responseHeaders: Record<string, string>,
    route: ProxyEvent["route"],
    outcome?: Outcome,
    ex?: Exchange,
    sentMs?: number,
  ): void {
    stdoutOut.write(
      accessLine({
        remote: conn.remote,
        request: line,
        status,
        bytes,
        referer: head?.referer,
        userAgent: head?.userAgent,
      }),
    );
    if (!this.#o.events) return;
    const shownStatus = status === HEADER_TOO_LARGE ? 400 : status;
    const id = ex?.id ?? ++this.#requestSeq;
    const requestHeaders: Record<string, string> = {};
    for (const [k, v] of head?.headers ?? []) {
      const key = k.toLowerCase();
      requestHeaders[key] = requestHeaders[key] === undefined ? v : `${requestHeaders[key]}, ${v}`;
    }
    const durationMs = sentMs ?? ms(conn.startPerf);
    const request: RequestEvent = {
      type: "request",
      id,
      time: new Date(conn.start || Date.now()).toISOString(),
      remote: conn.remote,
      method: head?.method || (line.split(" ")[0] ?? ""),
      target: head?.target || (line.split(" ")[1] ?? ""),
      path: head?.path ?? "",
      version: head?.line ? head.version : "",
      status: shownStatus,
      reason: reasonOf(shownStatus),
      requestHeaders,
      responseHeaders,
      bytes,
      durationMs,
    };
    sendEvent(request);
    const proxy: ProxyEvent = {
      type: "proxy",
      id,
      method: request.method,
      target: request.target,
      status: shownStatus,
      route,
      start: conn.start || Date.now(),
      readMs: ex?.readMs ?? durationMs,
      attempts: outcome?.attempts ?? [],
      sentMs: durationMs,
      requestBytes: ex?.body.length ?? 0,
      bytes,
    };
    if (outcome?.cache) proxy.cache = outcome.cache;
    if (outcome?.upstream) proxy.upstream = outcome.upstream.url;
    const rid = outcome?.requestId;
    if (rid !== undefined && outcome?.upstream?.pid !== undefined) {
      const known = this.#workerOf.get(rid);
      if (known !== undefined) {
        this.#workerOf.delete(rid);
        proxy.worker = known;
      } else {
        const timer = setTimeout(() => {
          this.#awaitingWorker.delete(rid);
          sendEvent(proxy);
        }, WORKER_WAIT_MS);
        this.#awaitingWorker.set(rid, { event: proxy, timer });
        return;
      }
    }
    sendEvent(proxy);
  }

  // ---- stopping ------------------------------------------------------------------------------

  /**
   * Stops accepting; a graceful stop lets requests in flight finish and closes idle
   * connections, a quick one drops everything.
   */
  async close(graceful: boolean, waitMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweeper);
    this.server.close();
    for (const pending of this.#awaitingWorker.values()) {
      clearTimeout(pending.timer);
      sendEvent(pending.event);
    }
    this.#awaitingWorker.clear();
    const busy = () => [...this.#conns].filter((c) => c.state === "busy");
    for (const c of this.#conns) if (!graceful || c.state !== "busy") c.socket.destroy();
    if (graceful) {
      const deadline = Date.now() + waitMs;
      while (busy().length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    for (const c of this.#conns) c.socket.destroy();
  }
}
