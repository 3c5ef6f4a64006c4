/**
 * The app servers behind the proxy: round-robin with nginx's max_fails/fail_timeout, and one
 * HTTP/1.0 exchange with one of them (connect, send the whole request, read the answer).
 */

import { isAbsolute, resolve } from "node:path";
import { type ErrorLevel, errnoText } from "./nginx.js";
import { ChunkedDecoder, headEnd } from "./request.js";
import { Slots } from "./slots.js";
import { openUpstreamSocket } from "./upstream-socket.js";

/** One server of `upstream app_server { ... }`, and what the proxy knows of it. */
export interface Upstream {
  /** `http://127.0.0.1:8000`, or `unix:/run/gunicorn.sock`. */
  url: string;
  /** How the error log names it before the URI: the url, or `http://unix:/run/gunicorn.sock:`. */
  logName: string;
  host: string;
  /** The IP address connected to: `host`, or what it resolved to at start-up. */
  address: string;
  port: number;
  /** The absolute path of a Unix socket: then host, address and port are unused. */
  path?: string;
  /** Failures counted toward max_fails since the last success. */
  fails: number;
  /** When the last failure was (ms since the epoch). */
  checkedAt: number;
  /** Connections open to it now: with sync workers, the workers this proxy keeps busy. */
  active: number;
  /** Requests sent to it, and how many of those failed. */
  requests: number;
  failures: number;
  /** The master's pid, for an app server the proxy started itself. */
  pid?: number;
}

/**
 * Parses `http://host:port` (a path, if any, is ignored as with `proxy_pass http://app_server`),
 * or a Unix socket as nginx names one: `unix:/run/gunicorn.sock` (a server in an upstream block)
 * or `http://unix:/run/gunicorn.sock:` (proxy_pass). A relative socket path is taken from the
 * current folder.
 */
export function parseUpstreamUrl(text: string): Upstream | undefined {
  const trimmed = text.trim();
  const unix = /^(?:http:\/\/unix:([^:]+)(?::.*)?|unix:(.+))$/s.exec(trimmed);
  if (unix) {
    const given = unix[1] ?? unix[2] ?? "";
    const path = isAbsolute(given) ? given : resolve(given);
    return {
      url: `unix:${path}`,
      logName: `http://unix:${path}:`,
      host: "",
      address: "",
      port: 0,
      path,
      fails: 0,
      checkedAt: 0,
      active: 0,
      requests: 0,
      failures: 0,
    };
  }
  const m = /^(?:http:\/\/)?(\[[0-9a-fA-F:.]+\]|[^/:?#\s]+)(?::(\d{1,5}))?\/?$/.exec(trimmed);
  if (!m) return undefined;
  const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const shown = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shown}:${port}`;
  return {
    url,
    logName: url,
    host,
    address: host,
    port,
    fails: 0,
    checkedAt: 0,
    active: 0,
    requests: 0,
    failures: 0,
  };
}

/**
 * Round-robin over the servers, skipping one that failed `maxFails` times until `failTimeoutMs`
 * have passed since its last failure (then one request tries it again). As in nginx, a single
 * server is never taken out, and maxFails 0 never takes one out.
 */
export class UpstreamPool {
  #next = 0;

  constructor(
    readonly servers: Upstream[],
    readonly maxFails: number,
    readonly failTimeoutMs: number,
  ) {}

  isDown(server: Upstream, now: number): boolean {
    if (this.servers.length === 1 || this.maxFails === 0) return false;
    return server.fails >= this.maxFails && now - server.checkedAt <= this.failTimeoutMs;
  }

  /** Until when a server is out, or undefined when it is in. */
  downUntil(server: Upstream, now: number): number | undefined {
    return this.isDown(server, now) ? server.checkedAt + this.failTimeoutMs : undefined;
  }

  /** The next server in turn that is up and not tried yet for this request. */
  pick(tried: readonly Upstream[], now: number): Upstream | undefined {
    const n = this.servers.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const server = this.servers[index];
      if (!server || tried.includes(server) || this.isDown(server, now)) continue;
      this.#next = (index + 1) % n;
      return server;
    }
    return undefined;
  }

  failed(server: Upstream, now: number): void {
    server.fails++;
    server.failures++;
    server.checkedAt = now;
  }

  succeeded(server: Upstream): void {
    server.fails = 0;
  }
}

export type FailureKind = "refused" | "timeout" | "reset" | "closed" | "invalid" | "error";

/** Why an exchange went wrong, with nginx's error-log message for it and its level. */
export interface UpstreamFailure {
  kind: FailureKind;
  phase: "connect" | "header" | "body";
  message: string;
  level: ErrorLevel;
}

export interface UpstreamResponse {
  status: number;
  /** The reason phrase the upstream sent: nginx passes it on. */
  reason: string;
  headers: [string, string][];
  body: Buffer;
  /** How the body's end was known; "close" means by the upstream closing the connection. */
  framing: "length" | "chunked" | "close" | "none";
  /** The body stopped short: the client gets what came, then its connection closes. */
  truncated?: UpstreamFailure;
}

/** performance.now() at each step of an exchange. */
export interface ExchangeTimes {
  connected?: number;
  firstByte?: number;
  done?: number;
}

export interface ExchangeOptions {
  connectTimeoutMs: number;
  /** Between two reads, as proxy_read_timeout. */
  readTimeoutMs: number;
  /** A HEAD request: the answer has no body whatever its headers say. */
  noBody: boolean;
  /** The most a response may hold (head and body) before it is refused. */
  maxBytes: number;
}

export type ExchangeResult =
  | { response: UpstreamResponse; failure?: undefined }
  | { failure: UpstreamFailure; response?: undefined };

/** When an exchange gives up, and what it does then. */
interface Deadline {
  at: number;
  expire: () => void;
  /** Where it sits in `deadlines`, or -1. */
  slot: number;
}

/**
 * Timeouts of the exchanges in flight, checked by one sweep every 100 ms rather than a timer per
 * connection reset on every read.
 */
const deadlines = new Slots<Deadline>();
let sweeper: NodeJS.Timeout | undefined;

function watch(entry: Deadline): void {
  deadlines.add(entry);
  if (sweeper) return;
  sweeper = setInterval(() => {
    const now = performance.now();
    for (const d of deadlines) if (now >= d.at) d.expire();
    if (deadlines.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }, 100);
  sweeper.unref();
}

/** How long a connection whose answer is complete waits for the upstream to close it. */
const LINGER_MS = 2000;

/** proxy_buffer_size: the upstream's status line and headers must fit. */
const MAX_UPSTREAM_HEAD = 8192;
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function failure(
  kind: FailureKind,
  phase: UpstreamFailure["phase"],
  message: string,
  level: ErrorLevel = "error",
): UpstreamFailure {
  return { kind, phase, message, level };
}

/**
 * connect() to a Unix socket fails at once, and nginx logs that failure by the errno: at error
 * level for these (EAGAIN is Linux's answer when the socket's listen queue is full), at crit for
 * the rest, ENOENT (no such socket file) included.
 */
const UNIX_CONNECT_ERRORS = new Set([
  "ECONNREFUSED",
  "EAGAIN",
  "ECONNRESET",
  "ENETDOWN",
  "ENETUNREACH",
  "EHOSTDOWN",
  "EHOSTUNREACH",
]);

/** Errors of connect() that mean nobody takes connections there: the lab shows them as refused. */
const REFUSED = new Set(["ECONNREFUSED", "ENOENT", "EAGAIN"]);

const PHASE_TEXT: Record<UpstreamFailure["phase"], string> = {
  connect: "while connecting to upstream",
  header: "while reading response header from upstream",
  body: "while reading upstream",
};

/** Sends `request` (head and body, whole) to `server` and reads its whole answer. */
export function exchange(
  server: Upstream,
  request: Buffer,
  opts: ExchangeOptions,
  times: ExchangeTimes,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    server.requests++;
    server.active++;
    let settled = false;
    let phase: UpstreamFailure["phase"] = "connect";
    let received: Buffer = Buffer.alloc(0);
    let head:
      | { status: number; reason: string; headers: [string, string][]; bodyStart: number }
      | undefined;
    let framing: UpstreamResponse["framing"] = "close";
    let length = 0;
    let chunked: ChunkedDecoder | undefined;
    let socket: { write(data: Buffer): void; close(): void } | undefined;
    const deadline: Deadline = {
      slot: -1,
      at: performance.now() + opts.connectTimeoutMs,
      expire: () => fail("timeout", `upstream timed out ${errnoText("ETIMEDOUT")}`),
    };
    watch(deadline);

    let ended = false;
    const finish = (result: ExchangeResult) => {
      if (settled) return;
      settled = true;
      server.active--;
      times.done = performance.now();
      resolve(result);
      if (ended || result.failure || result.response.truncated) {
        deadlines.delete(deadline);
        socket?.close();
        return;
      }
      // The answer is whole; the upstream closes next (it was told Connection: close). Closing
      // after it leaves TIME_WAIT on its side, not on the proxy's ports for the next connects.
      deadline.at = performance.now() + LINGER_MS;
      deadline.expire = () => {
        deadlines.delete(deadline);
        socket?.close();
      };
    };
    const fail = (kind: FailureKind, message: string, level?: ErrorLevel) => {
      const f = failure(kind, phase, `${message} ${PHASE_TEXT[phase]}`, level);
      if (head && phase === "body") {
        // What came of a chunked body is not passed on: its chunks may be cut anywhere.
        const partial = framing === "chunked" ? Buffer.alloc(0) : received.subarray(head.bodyStart);
        finish({ response: responseOf(partial, f) });
      } else finish({ failure: f });
    };
    const responseOf = (body: Buffer, truncated?: UpstreamFailure): UpstreamResponse => {
      const h = head as NonNullable<typeof head>;
      const r: UpstreamResponse = {
        status: h.status,
        reason: h.reason,
        headers: h.headers,
        body,
        framing,
      };
      if (truncated) r.truncated = truncated;
      return r;
    };

    /** Reads the head once it is complete; false when the answer is refused. */
    const readHead = (): boolean => {
      for (;;) {
        const end = headEnd(received);
        if (end < 0) {
          if (received.length > MAX_UPSTREAM_HEAD) {
            fail("invalid", "upstream sent too big header");
            return false;
          }
          return true;
        }
        const text = received.toString("latin1", 0, end);
        let at = text.indexOf("\n");
        const statusLine = text.slice(0, text.charCodeAt(at - 1) === 13 ? at - 1 : at);
        at++;
        const m = STATUS_LINE.exec(statusLine);
        if (!m) {
          fail("invalid", "upstream sent no valid HTTP/1.0 header");
          return false;
        }
        const status = Number(m[3]);
        const headers: [string, string][] = [];
        while (at < text.length) {
          const next = text.indexOf("\n", at);
          const line = text.slice(at, text.charCodeAt(next - 1) === 13 ? next - 1 : next);
          at = next + 1;
          if (line === "") break;
          const colon = line.indexOf(":");
          const name = colon > 0 ? line.slice(0, colon) : "";
          if (!HEADER_NAME.test(name)) {
            fail("invalid", `upstream sent invalid header: "${line.slice(0, 64)}"`);
            return false;
          }
          let v = colon + 1;
          while (line.charCodeAt(v) === 32 || line.charCodeAt(v) === 9) v++;
          let e = line.length;
          while (e > v && (line.charCodeAt(e - 1) === 32 || line.charCodeAt(e - 1) === 9)) e--;
          headers.push([name, line.slice(v, e)]);
        }
        if (status < 200) {
          // An interim answer (100 Continue): the real one follows.
          received = received.subarray(end);
          continue;
        }
        head = { status, reason: m[4] ?? "", headers, bodyStart: end };
        phase = "body";
        let te: string | undefined;
        let cl: string | undefined;
        for (const [k, v] of headers) {
          if (k.length === 14 && k.toLowerCase() === "content-length") cl ??= v;
          else if (k.length === 17 && k.toLowerCase() === "transfer-encoding") te ??= v;
        }
        if (opts.noBody || status === 204 || status === 304) framing = "none";
        else if (te !== undefined && /\bchunked\b/i.test(te)) {
          framing = "chunked";
          chunked = new ChunkedDecoder(opts.maxBytes);
        } else if (cl !== undefined) {
          if (!/^\d{1,15}$/.test(cl.trim())) {
            phase = "header";
            fail(
              "invalid",
              `upstream sent invalid "Content-Length" header: "Content-Length: ${cl}"`,
            );
            return false;
          }
          framing = "length";
          length = Number(cl.trim());
        }
        return true;
      }
    };

    /** True once the whole body is in. */
    const bodyDone = (): boolean => {
      const h = head as NonNullable<typeof head>;
      const got = received.length - h.bodyStart;
      switch (framing) {
        case "none":
          finish({ response: responseOf(Buffer.alloc(0)) });
          return true;
        case "length":
          if (got < length) return false;
          finish({ response: responseOf(received.subarray(h.bodyStart, h.bodyStart + length)) });
          return true;
        case "chunked": {
          const r = (chunked as ChunkedDecoder).feed(received.subarray(h.bodyStart));
          if ("error" in r) {
            fail("invalid", "upstream sent invalid chunked response");
            return true;
          }
          if (!r.done) return false;
          finish({ response: responseOf(r.body) });
          return true;
        }
        default:
          return false;
      }
    };

    const onConnect = () => {
      times.connected = performance.now();
      deadline.at = times.connected + opts.readTimeoutMs;
      // The request was handed over with the connect: sent once connected.
      phase = "header";
    };
    const onData = (data: Buffer) => {
      if (settled) return;
      const now = performance.now();
      times.firstByte ??= now;
      deadline.at = now + opts.readTimeoutMs;
      received = received.length === 0 ? data : Buffer.concat([received, data]);
      if (received.length > opts.maxBytes) {
        fail(
          "invalid",
          `upstream response is larger than the proxy buffers (${opts.maxBytes} bytes)`,
        );
        return;
      }
      if (!head && (!readHead() || !head)) return;
      bodyDone();
    };
    const onEnd = () => {
      ended = true;
      if (settled) {
        deadlines.delete(deadline);
        socket?.close();
        return;
      }
      if (!head) {
        fail("closed", "upstream prematurely closed connection");
        return;
      }
      if (framing === "close") {
        finish({ response: responseOf(received.subarray(head.bodyStart)) });
        return;
      }
      if (!bodyDone()) fail("closed", "upstream prematurely closed connection");
    };
    const onError = (c: string) => {
      if (settled) {
        deadlines.delete(deadline);
        socket?.close();
        return;
      }
      if (phase === "connect" && server.path !== undefined) {
        fail(
          REFUSED.has(c) ? "refused" : "error",
          `connect() to ${server.url} failed ${errnoText(c)}`,
          UNIX_CONNECT_ERRORS.has(c) ? "error" : "crit",
        );
      } else if (phase === "connect") {
        fail(c === "ECONNREFUSED" ? "refused" : "error", `connect() failed ${errnoText(c)}`);
      } else if (phase === "header") {
        fail(c === "ECONNRESET" ? "reset" : "error", `recv() failed ${errnoText(c)}`);
      } else {
        fail(c === "ECONNRESET" ? "reset" : "error", `readv() failed ${errnoText(c)}`);
      }
    };
    socket = openUpstreamSocket(server, { onConnect, onData, onEnd, onError });
    // The whole request at once: libuv sends it as soon as the connection is made.
    socket.write(request);
  });
}
