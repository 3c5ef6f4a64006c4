/**
 * The async sandbox: one process, one event loop, many connections. A raw `net` server parses
 * HTTP/1.1 itself (so that every byte of the head is the flavour's), routes the few paths of
 * the app, and hands WebSocket upgrades to `ws` in noServer mode after writing the checks of
 * the server it imitates.
 */

import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { WebSocket, WebSocketServer } from "ws";
import {
  exposureWarning,
  isLoopback,
  resolveBindHost,
  urlHost,
  usageError,
} from "../shared/args.js";
import { hasIpc, requestEventsWanted, sendEvent } from "../shared/ipc.js";
import { installLifecycle } from "../shared/lifecycle.js";
import { bindErrorEvent, listenOnce } from "../shared/listen.js";
import { flushOutput, stderrOut, stdoutOut } from "../shared/output.js";
import type { WebSocketEvent } from "../shared/protocol.js";
import {
  acceptFor,
  type Body,
  errorBody,
  etagOf,
  handshakeLines,
  htmlType,
  jsonType,
  reason,
  responseHead,
  textType,
  tornadoAccessLine,
  tornadoPrefix,
  uvicornAccessLine,
  uvicornShutdown,
  uvicornStartup,
  WS_GUID,
  websocketsFailure,
} from "./flavour.js";
import { type AsyncOptions, MAX_BLOCK_MS, MAX_POLL_MS, MAX_SLEEP_MS, PROG } from "./options.js";
import { chatPage } from "./page.js";

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 1024 * 1024;
const MAX_POLLS = 10_000;
const TICK_MS = 250;
/** Events of one kind (request, websocket) sent per second at most; the rest are counted. */
const EVENTS_PER_SECOND = 100;
const LOOP_RESOLUTION_MS = 20;
/** File descriptors kept free under the open-file limit (logs, /proc reads, libuv's reserve). */
const SPARE_FDS = 8;
/** Uvicorn's --timeout-keep-alive; Tornado keeps idle connections for an hour. */
const KEEP_ALIVE_MS = { tornado: 3_600_000, uvicorn: 5_000 } as const;

interface Request {
  method: string;
  target: string;
  path: string;
  query: string;
  version: string;
  headers: Record<string, string>;
  started: number;
}

interface Conn {
  socket: Socket;
  remote: string;
  remotePort: number;
  pending: Buffer | undefined;
  busy: boolean;
  closed: boolean;
  upgraded: boolean;
  /** The client half-closed: answer what is in flight, then close. */
  ended: boolean;
  timer: NodeJS.Timeout | undefined;
  poll: Poll | undefined;
}

interface Poll {
  conn: Conn;
  req: Request;
  timer: NodeJS.Timeout;
}

interface Client {
  ws: WebSocket;
  id: number;
  remote: string;
  origin: string | undefined;
  userAgent: string | undefined;
  lastPong: number;
  /** The close code of the error that made the server close (1002, 1007, 1009). */
  errorCode: number | undefined;
}

/** What the opening of a WebSocket needs from its upgrade request. */
interface Opening {
  remote: string;
  remotePort: number;
  origin: string | undefined;
  userAgent: string | undefined;
  target: string;
  path: string;
  started: number;
  key: string;
  sha1Hex: string;
  accept: string;
}

function remoteOf(socket: Socket): string {
  const address = socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/** Reads the soft open-file limit (Linux); undefined elsewhere. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors in use by this process (Linux); undefined elsewhere. */
function openFiles(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

/** Busy-waits, as time.sleep() in an async handler does; leaves at once if the parent is gone. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  const parent = process.ppid;
  let check = performance.now() + 20;
  while (performance.now() < end) {
    if (performance.now() > check) {
      check = performance.now() + 20;
      if (hasIpc() && process.ppid !== parent) process.exit(0);
    }
  }
}

function parseMs(query: string, fallback: number, max: number): number | undefined {
  const raw = new URLSearchParams(query).get("ms");
  if (raw === null) return fallback;
  if (!/^\d{1,9}$/.test(raw.trim())) return undefined;
  const ms = Number(raw.trim());
  return ms <= max ? ms : undefined;
}

export async function runServer(options: AsyncOptions): Promise<void> {
  const flavour = options.flavour;
  const tornado = flavour === "tornado";
  const started = Date.now();

  // --- counters, sent as the connections event ---
  let httpOpen = 0;
  let accepted = 0;
  let refused = 0;
  let requests = 0;
  let messagesIn = 0;
  let messagesOut = 0;
  let broadcasts = 0;
  let wsSeq = 0;
  let dirty = true;
  let emfileWarned = false;
  const conns = new Set<Conn>();
  const clients = new Set<Client>();
  const polls = new Set<Poll>();
  const changed = () => {
    dirty = true;
  };

  // --- event-loop delay over the last second: four monitors, each reset once a second,
  // a quarter of a second apart, so that at every tick one of them holds exactly the last
  // second (an ELD histogram cannot be merged into another one) ---
  const monitors: IntervalHistogram[] = [];
  for (let i = 0; i < 4; i++) {
    const monitor = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    monitor.enable();
    monitors.push(monitor);
  }
  let current = 0;
  let monitorAge = 1; // ticks the current monitor has been recording
  let lastLoop = { p50Ms: 0, p99Ms: 0, maxMs: 0 };
  const summarise = (h: IntervalHistogram) => {
    if (h.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
    // The monitor's timer is due every LOOP_RESOLUTION_MS: the delay is what comes on top.
    const ms = (ns: number) => Math.round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100;
    return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
  };
  const loopNow = () => lastLoop;

  // --- bounded event rates ---
  let requestBudget = EVENTS_PER_SECOND;
  let wsBudget = EVENTS_PER_SECOND;
  // Per phase, so that the next message event counts only the messages left out.
  const wsSkipped = { open: 0, message: 0, close: 0 };
  let ticks = 0;
  const ipc = requestEventsWanted();
  const sendWsEvent = (event: WebSocketEvent) => {
    if (!ipc) return;
    if (wsBudget <= 0) {
      wsSkipped[event.phase]++;
      return;
    }
    wsBudget--;
    if (wsSkipped[event.phase] > 0) {
      event.skipped = wsSkipped[event.phase];
      wsSkipped[event.phase] = 0;
    }
    sendEvent(event);
  };
  const tick = setInterval(() => {
    // The oldest monitor now holds the last second: report it, then restart it.
    current = (current + 1) % 4;
    const oldest = monitors[current] as IntervalHistogram;
    lastLoop = summarise(oldest);
    const windowMs = Math.min(monitorAge, 4) * TICK_MS;
    monitorAge++;
    if (++ticks % 4 === 0) {
      requestBudget = EVENTS_PER_SECOND;
      wsBudget = EVENTS_PER_SECOND;
    }
    oldest.reset();
    if (!ipc) return;
    sendEvent({ type: "loop", ...lastLoop, windowMs, at: Date.now() });
    if (dirty) {
      dirty = false;
      sendEvent({
        type: "connections",
        http: httpOpen,
        websockets: clients.size,
        accepted,
        refused,
        requests,
        polls: polls.size,
        at: Date.now(),
      });
    }
  }, TICK_MS);
  tick.unref();

  // --- logging ---
  const logAccess = (conn: Conn, req: Request, status: number) => {
    if (!options.accessLog) return;
    if (tornado) {
      const ms = performance.now() - req.started;
      stderrOut.write(tornadoAccessLine(status, req.method, req.target, conn.remote, ms));
    } else {
      stdoutOut.write(
        uvicornAccessLine(
          status,
          req.method,
          req.target,
          req.version,
          conn.remote,
          conn.remotePort,
        ),
      );
    }
  };

  const requestEvent = (
    conn: Conn,
    req: Request,
    status: number,
    responseHeaders: Record<string, string>,
    bytes: number,
  ) => {
    if (!ipc || requestBudget <= 0) return;
    requestBudget--;
    sendEvent({
      type: "request",
      id: requests,
      time: new Date().toISOString(),
      remote: conn.remote,
      method: req.method,
      target: req.target,
      path: req.path,
      version: `HTTP/${req.version}`,
      status,
      reason: reason(status),
      requestHeaders: req.headers,
      responseHeaders,
      bytes,
      durationMs: Math.round((performance.now() - req.started) * 100) / 100,
    });
  };

  // --- HTTP responses ---
  const idle = (conn: Conn) => {
    conn.socket.setTimeout(KEEP_ALIVE_MS[flavour]);
  };

  const respond = (conn: Conn, req: Request, result: Body, forceClose = false) => {
    conn.timer = undefined;
    conn.poll = undefined;
    if (conn.closed) return;
    let { status, body } = result;
    let contentType: string | undefined = result.contentType;
    let etag: string | undefined;
    let length: number | undefined = body.length;
    // Tornado's finish(): an Etag on GET 200, and 304 when If-None-Match matches it.
    if (tornado && status === 200 && req.method === "GET") {
      etag = etagOf(body);
      if (req.headers["if-none-match"] === etag) {
        status = 304;
        body = Buffer.alloc(0);
        contentType = undefined;
        length = undefined;
      }
    }
    const v10 = req.version === "1.0";
    const asked = (req.headers.connection ?? "").toLowerCase();
    // Tornado keeps an HTTP/1.0 connection that asks for keep-alive; h11 (Uvicorn) does not.
    const keepAlive10 = tornado && v10 && asked.includes("keep-alive");
    const askedClose = asked.includes("close");
    const close =
      forceClose || (conn.ended && !conn.pending) || (v10 && !keepAlive10) || askedClose;
    const extra = result.extra ? { extra: result.extra } : {};
    const connection = keepAlive10 ? "Keep-Alive" : askedClose && !v10 ? "close" : undefined;
    const { head, headers } = responseHead(flavour, status, contentType, length, {
      ...(etag !== undefined ? { etag } : {}),
      close: close && !tornado,
      ...(tornado && connection !== undefined ? { connection } : {}),
      ...extra,
    });
    requests++;
    changed();
    const bytes = Buffer.byteLength(head, "latin1") + body.length;
    conn.socket.write(body.length > 0 ? Buffer.concat([Buffer.from(head, "latin1"), body]) : head);
    logAccess(conn, req, status);
    requestEvent(conn, req, status, headers, bytes);
    if (close) {
      conn.closed = true;
      conn.socket.end();
      return;
    }
    conn.busy = false;
    idle(conn);
    if (conn.pending) setImmediate(() => drain(conn));
  };

  const json = (status: number, value: unknown): Body => ({
    status,
    contentType: jsonType(flavour),
    // Tornado's json_encode is json.dumps (", " and ": "); Starlette's JSONResponse is compact.
    body: Buffer.from(tornado ? pyDumps(value).replaceAll("</", "<\\/") : JSON.stringify(value)),
  });
  const text = (value: string): Body => ({
    status: 200,
    contentType: textType(flavour),
    body: Buffer.from(value),
  });

  const page = Buffer.from(chatPage(tornado ? "Tornado" : "Uvicorn"));

  const stats = () => ({
    flavour,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
    connections: {
      http: httpOpen,
      websockets: clients.size,
      accepted,
      refused,
      polls: polls.size,
    },
    requests,
    messages: { received: messagesIn, sent: messagesOut, broadcasts },
    loop: loopNow(),
    memory: (({ rss, heapUsed, external, arrayBuffers }) => ({
      rss,
      heapUsed,
      external,
      arrayBuffers,
    }))(process.memoryUsage()),
  });

  // --- long polls ---
  const deliver = (message: string, from: number) => {
    for (const poll of polls) {
      clearTimeout(poll.timer);
      polls.delete(poll);
      respond(poll.conn, poll.req, json(200, { message, from }));
    }
    changed();
  };

  // --- routes ---
  const route = (conn: Conn, req: Request) => {
    if (req.method !== "GET") return respond(conn, req, errorBody(flavour, 405));
    switch (req.path) {
      case "/":
        return respond(conn, req, { status: 200, contentType: htmlType(flavour), body: page });
      case "/ws":
        // Only a request that is not an upgrade gets here (see upgrade()).
        return tornado
          ? respond(conn, req, {
              status: 400,
              contentType: htmlType(flavour),
              body: Buffer.from('Can "Upgrade" only to "WebSocket".'),
            })
          : respond(conn, req, errorBody(flavour, 404));
      case "/sleep": {
        const ms = parseMs(req.query, 1000, MAX_SLEEP_MS);
        if (ms === undefined) return respond(conn, req, errorBody(flavour, 400));
        conn.socket.setTimeout(0);
        conn.timer = setTimeout(() => respond(conn, req, text(`slept ${ms} ms\n`)), ms);
        return;
      }
      case "/block": {
        const ms = parseMs(req.query, 1000, MAX_BLOCK_MS);
        if (ms === undefined) return respond(conn, req, errorBody(flavour, 400));
        busyWait(ms);
        return respond(conn, req, text(`blocked the event loop for ${ms} ms\n`));
      }
      case "/poll": {
        const ms = parseMs(req.query, options.pollTimeout * 1000, MAX_POLL_MS);
        if (ms === undefined) return respond(conn, req, errorBody(flavour, 400));
        if (polls.size >= MAX_POLLS) return respond(conn, req, errorBody(flavour, 503));
        conn.socket.setTimeout(0);
        const poll: Poll = {
          conn,
          req,
          timer: setTimeout(() => {
            polls.delete(poll);
            changed();
            respond(conn, req, json(200, { message: null, timeout: true }));
          }, ms),
        };
        conn.poll = poll;
        polls.add(poll);
        changed();
        return;
      }
      case "/stats":
        return respond(conn, req, json(200, stats()));
      case "/hello":
        return respond(conn, req, text("hello"));
      default:
        return respond(conn, req, errorBody(flavour, 404));
    }
  };

  // --- WebSockets ---
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxMessageSize,
    perMessageDeflate: false,
  });
  wss.on("headers", (headers, req) => {
    const lines = (req as IncomingMessage & { handshake?: string[] }).handshake;
    if (lines) headers.splice(0, headers.length, ...lines);
  });

  const send = (client: Client, data: string | Buffer, binary = false) => {
    if (client.ws.readyState !== WebSocket.OPEN) return false;
    client.ws.send(data, { binary });
    messagesOut++;
    return true;
  };

  const broadcast = (message: string): number => {
    const data = Buffer.from(message);
    let sent = 0;
    for (const client of clients) if (send(client, data)) sent++;
    broadcasts++;
    return sent;
  };

  // One set of listeners for every WebSocket (`this` is the socket): 10,000 connections do
  // not each need four closures.
  const clientOf = new WeakMap<WebSocket, Client>();
  function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) {
    const client = clientOf.get(this);
    if (!client) return;
    messagesIn++;
    const payload = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    let recipients = 1;
    let toAll = false;
    let textIn = "";
    if (isBinary) {
      send(client, payload, true);
    } else {
      textIn = payload.toString("utf8");
      if (textIn.startsWith("all:")) {
        toAll = true;
        recipients = broadcast(`broadcast ${textIn.slice(4)}`);
      } else {
        send(client, `echo ${textIn}`);
      }
      if (polls.size > 0) deliver(textIn, client.id);
    }
    sendWsEvent({
      type: "websocket",
      phase: "message",
      id: client.id,
      remote: client.remote,
      ...(client.userAgent !== undefined ? { userAgent: client.userAgent } : {}),
      at: Date.now(),
      message: {
        text: textIn.slice(0, 200),
        bytes: payload.length,
        binary: isBinary,
        broadcast: toAll,
        recipients,
      },
    });
  }
  function onPong(this: WebSocket) {
    const client = clientOf.get(this);
    if (client) client.lastPong = Date.now();
  }
  function onError(this: WebSocket, err: Error & { code?: string }) {
    const client = clientOf.get(this);
    if (client) client.errorCode = closeCodeOf(err.code);
  }
  function onClose(this: WebSocket, code: number, why: Buffer) {
    const client = clientOf.get(this);
    if (!client) return;
    clients.delete(client);
    changed();
    if (!tornado) stderrOut.write("INFO:     connection closed\n");
    sendWsEvent({
      type: "websocket",
      phase: "close",
      id: client.id,
      remote: client.remote,
      ...(client.userAgent !== undefined ? { userAgent: client.userAgent } : {}),
      at: Date.now(),
      code: client.errorCode ?? code,
      reason: why.toString("utf8").slice(0, 123),
    });
  }

  const opened = (ws: WebSocket, info: Opening) => {
    const client: Client = {
      ws,
      id: ++wsSeq,
      remote: info.remote,
      origin: info.origin,
      userAgent: info.userAgent,
      lastPong: Date.now(),
      errorCode: undefined,
    };
    clientOf.set(ws, client);
    clients.add(client);
    changed();
    if (tornado) {
      if (options.accessLog) {
        stderrOut.write(
          tornadoAccessLine(101, "GET", info.target, info.remote, performance.now() - info.started),
        );
      }
    } else {
      stderrOut.write(
        `INFO:     ('${info.remote}', ${info.remotePort}) - "WebSocket ${info.path}" [accepted]\nINFO:     connection open\n`,
      );
    }
    requests++;
    sendWsEvent({
      type: "websocket",
      phase: "open",
      id: client.id,
      remote: client.remote,
      ...(info.origin !== undefined ? { origin: info.origin } : {}),
      ...(info.userAgent !== undefined ? { userAgent: info.userAgent } : {}),
      at: Date.now(),
      handshake: { key: info.key, guid: WS_GUID, sha1Hex: info.sha1Hex, accept: info.accept },
    });
    ws.on("message", onMessage);
    ws.on("pong", onPong);
    ws.on("error", onError);
    ws.on("close", onClose);
  };

  const uvicornFailure = (conn: Conn, message: string) => {
    conn.closed = true;
    conn.socket.end(websocketsFailure(message));
    stderrOut.write("INFO:     connection failed (400 Bad Request)\nINFO:     connection closed\n");
  };

  /** True when the request was taken as a WebSocket upgrade (answered or handed to ws). */
  const upgrade = (conn: Conn, req: Request, head: Buffer): boolean => {
    const h = req.headers;
    const upgradeHeader = (h.upgrade ?? "").toLowerCase();
    const connectionTokens = (h.connection ?? "")
      .toLowerCase()
      .split(",")
      .map((t) => t.trim());
    const key = h["sec-websocket-key"];
    const version = h["sec-websocket-version"];
    if (tornado) {
      // WebSocketHandler.get(), in its order.
      if (req.method !== "GET") return false;
      if (upgradeHeader !== "websocket") return false; // answered 400 by route()
      const fail = (status: number, body: string, extra?: [string, string][]) => {
        respond(conn, req, {
          status,
          contentType: htmlType(flavour),
          body: Buffer.from(body),
          ...(extra ? { extra } : {}),
        });
        return true;
      };
      if (!connectionTokens.includes("upgrade"))
        return fail(400, '"Connection" must be "Upgrade".');
      const origin = h.origin ?? h["sec-websocket-origin"];
      if (origin !== undefined) {
        const netloc = origin.includes("://")
          ? (origin.split("://")[1] ?? "").split("/")[0]?.toLowerCase()
          : "";
        if (netloc !== h.host) return fail(403, "Cross origin websockets not allowed");
      }
      if (version !== "8" && version !== "13") {
        return fail(426, "", [["Sec-Websocket-Version", "7, 8, 13"]]);
      }
      if (h.host === undefined || key === undefined || !/^[+/0-9A-Za-z]{22}==$/.test(key)) {
        return fail(400, "Missing/Invalid WebSocket headers");
      }
    } else {
      // Uvicorn hands the request to the websockets protocol only for these two headers.
      if (req.method !== "GET" || upgradeHeader !== "websocket") return false;
      if (!connectionTokens.includes("upgrade")) return false;
      if (key === undefined) {
        uvicornFailure(conn, "missing Sec-WebSocket-Key header");
        return true;
      }
      if (!/^[+/0-9A-Za-z]{22}==$/.test(key)) {
        uvicornFailure(conn, `invalid Sec-WebSocket-Key header: ${key}`);
        return true;
      }
      if (version === undefined) {
        uvicornFailure(conn, "missing Sec-WebSocket-Version header");
        return true;
      }
      if (version !== "13") {
        uvicornFailure(conn, `invalid Sec-WebSocket-Version header: ${version}`);
        return true;
      }
    }
    // The handshake: from here on the socket belongs to ws.
    const { accept, sha1Hex } = acceptFor(key);
    const origin = h.origin ?? h["sec-websocket-origin"];
    const socket = conn.socket;
    conn.upgraded = true;
    conn.pending = undefined;
    conn.closed = true;
    socket.removeAllListeners("data");
    socket.removeAllListeners("timeout");
    socket.removeAllListeners("end");
    socket.removeAllListeners("close");
    socket.removeAllListeners("error");
    socket.setTimeout(0);
    conns.delete(conn);
    httpOpen--;
    changed();
    const fake = {
      method: req.method,
      url: req.target,
      headers: h,
      socket,
      handshake: handshakeLines(flavour, accept),
    } as unknown as IncomingMessage;
    const info: Opening = {
      remote: conn.remote,
      remotePort: conn.remotePort,
      origin,
      userAgent: h["user-agent"],
      target: req.target,
      path: req.path,
      started: req.started,
      key,
      sha1Hex,
      accept,
    };
    const event = { conn, req };
    wss.handleUpgrade(fake, socket, head, (ws) => {
      opened(ws, info);
      requestEvent(
        event.conn,
        event.req,
        101,
        Object.fromEntries(handshakeHeaderPairs(flavour, accept)),
        0,
      );
    });
    return true;
  };

  // --- pings ---
  if (options.pingInterval > 0) {
    const timeoutMs = options.pingTimeout * 1000;
    const pinger = setInterval(() => {
      const now = Date.now();
      for (const client of clients) {
        if (client.ws.readyState !== WebSocket.OPEN) continue;
        if (now - client.lastPong > timeoutMs + options.pingInterval * 1000) {
          // websockets: fail_connection(1011, "keepalive ping timeout"); Tornado: close().
          if (tornado) client.ws.close();
          else client.ws.close(1011, "keepalive ping timeout");
          const ws = client.ws;
          setTimeout(() => ws.terminate(), 1000).unref();
        } else {
          client.ws.ping();
        }
      }
    }, options.pingInterval * 1000);
    pinger.unref();
  }

  // --- the HTTP/1.1 parser ---
  const badRequest = (conn: Conn, status = 400) => {
    if (conn.closed) return;
    const { head } = responseHead(flavour, status, undefined, 0, { close: true });
    conn.closed = true;
    conn.socket.end(head);
  };

  const drain = (conn: Conn) => {
    while (!conn.busy && !conn.closed && conn.pending) {
      const buf = conn.pending;
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buf.length > MAX_HEAD) badRequest(conn, 431);
        return;
      }
      if (end > MAX_HEAD) return badRequest(conn, 431);
      const lines = buf.toString("latin1", 0, end).split("\r\n");
      // Blank lines before a request line are allowed (RFC 9112 2.2).
      while (lines[0] === "") lines.shift();
      const [method = "", target = "", proto = "", ...more] = (lines[0] ?? "").split(" ");
      const m = /^HTTP\/1\.([01])$/.exec(proto);
      if (more.length > 0 || !method || !target.startsWith("/") || !m) return badRequest(conn);
      const headers: Record<string, string> = {};
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] ?? "";
        const colon = line.indexOf(":");
        if (colon <= 0) return badRequest(conn);
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      let bodyLength = 0;
      if (headers["transfer-encoding"] !== undefined) return badRequest(conn);
      if (headers["content-length"] !== undefined) {
        if (!/^\d{1,9}$/.test(headers["content-length"])) return badRequest(conn);
        bodyLength = Number(headers["content-length"]);
        if (bodyLength > MAX_BODY) return badRequest(conn, 413);
      }
      if (buf.length < end + 4 + bodyLength) return; // wait for the body
      const rest = buf.subarray(end + 4 + bodyLength);
      conn.pending = rest.length > 0 ? rest : undefined;
      const q = target.indexOf("?");
      const req: Request = {
        method,
        target,
        path: q < 0 ? target : target.slice(0, q),
        query: q < 0 ? "" : target.slice(q + 1),
        version: m[1] === "0" ? "1.0" : "1.1",
        headers,
        started: performance.now(),
      };
      conn.busy = true;
      if (req.path === "/ws" && headers.upgrade !== undefined) {
        const head = conn.pending ?? Buffer.alloc(0);
        if (upgrade(conn, req, head)) return;
      }
      // As in Tornado and asyncio, a request read in this turn of the loop is handled in a later
      // callback: every connection that became readable is read first, so a request that waits
      // behind a blocking handler counts that wait in its logged time.
      setImmediate(() => {
        if (!conn.closed) route(conn, req);
      });
    }
  };

  const onConnection = (socket: Socket) => {
    accepted++;
    httpOpen++;
    changed();
    const conn: Conn = {
      socket,
      remote: remoteOf(socket),
      remotePort: socket.remotePort ?? 0,
      pending: undefined,
      busy: false,
      closed: false,
      upgraded: false,
      ended: false,
      timer: undefined,
      poll: undefined,
    };
    conns.add(conn);
    socket.setNoDelay(true);
    idle(conn);
    socket.on("data", (chunk: Buffer) => {
      if (conn.closed) return;
      conn.pending = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk;
      if (conn.pending.length > MAX_HEAD + MAX_BODY + 4) return badRequest(conn, 413);
      if (!conn.busy) drain(conn);
    });
    socket.on("timeout", () => socket.destroy());
    socket.on("end", () => {
      // The client half-closed: finish what is in flight, then close.
      conn.ended = true;
      if (!conn.busy && !conn.pending) socket.end();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (conn.upgraded) return;
      conn.closed = true;
      if (conn.timer) clearTimeout(conn.timer);
      if (conn.poll) {
        clearTimeout(conn.poll.timer);
        polls.delete(conn.poll);
      }
      conns.delete(conn);
      httpOpen--;
      changed();
    });
  };

  // --- listen ---
  let host: string;
  try {
    host = await resolveBindHost(options.hostText);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    sendEvent(bindErrorEvent(code, options.port, options.hostText));
    usageError(PROG, `cannot resolve '${options.hostText}'`);
  }
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, onConnection);
  const limitReached = (code: string) => {
    refused++;
    changed();
    if (emfileWarned) return;
    emfileWarned = true;
    const limit = openFileLimit();
    const what =
      limit === undefined ? "the open-file limit" : `the open-file limit (ulimit -n: ${limit})`;
    const message = `Too many open files: this process reached ${what}, so new connections are refused; the ${clients.size + httpOpen} open ones are still served. Raise the limit in the shell before starting the server, e.g. ulimit -n 20000`;
    stderrOut.write(
      tornado ? `${tornadoPrefix("E", "netutil")}${message}\n` : `ERROR:    ${message}\n`,
    );
    sendEvent({
      type: "error",
      code,
      message: `Too many open files: the process reached ${what}; new connections are refused.`,
      hint: "Raise the limit before starting the server: ulimit -n 20000",
      fatal: false,
    });
  };
  // libuv closes connections it cannot accept for lack of file descriptors without telling
  // anyone, so the server stops short of the limit itself: maxConnections leaves a few
  // descriptors spare, and each connection over it is a 'drop' event, counted and reported.
  server.on("drop", () => limitReached("EMFILE"));
  server.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EMFILE" || err.code === "ENFILE") return limitReached(err.code);
    stderrOut.write(`${err.stack ?? err.message}\n`);
  });

  let address: { port: number; address: string };
  try {
    address = await listenOnce(server, { host, port: options.port, backlog: 4096 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    sendEvent(bindErrorEvent(e.code, options.port, host, e.message));
    if (tornado) {
      stderrOut.write(tornadoBindFailure(`${process.cwd()}/app.py`, e.code, e.message));
    } else if (e.code === "EADDRINUSE") {
      stderrOut.write(
        `${uvicornStartup(process.pid, "").split("\n").slice(0, 3).join("\n")}\nERROR:    [Errno 98] error while attempting to bind on address ('${host}', ${options.port}): address already in use\nINFO:     Waiting for application shutdown.\nINFO:     Application shutdown complete.\n`,
      );
    } else {
      stderrOut.write(`ERROR:    ${e.message}\n`);
    }
    flushOutput();
    process.exit(1);
  }
  const limit = openFileLimit();
  const used = openFiles();
  if (limit !== undefined && used !== undefined) {
    server.maxConnections = Math.max(1, limit - used - SPARE_FDS);
  }
  const url = `http://${urlHost(address.address)}:${address.port}`;
  const appPath = `${process.cwd()}/app.py`;
  installLifecycle({
    closeTimeoutMs: 700,
    onInterrupt() {
      if (tornado) stderrOut.write(tornadoInterrupt(appPath));
    },
    close(why) {
      server.close();
      for (const poll of polls) clearTimeout(poll.timer);
      polls.clear();
      for (const client of clients) client.ws.terminate();
      for (const conn of conns) conn.socket.destroy();
      for (const monitor of monitors) monitor.disable();
      if (!tornado && why !== "parent gone") stderrOut.write(uvicornShutdown(process.pid));
    },
  });
  if (!isLoopback(address.address)) stderrOut.write(`${exposureWarning(address.address)}\n`);
  if (tornado) {
    // Tornado prints no banner; the app's own print() says where it listens.
    stdoutOut.write(`Listening on ${url}\n`);
  } else {
    stderrOut.write(uvicornStartup(process.pid, url));
  }
  flushOutput();
  sendEvent({
    type: "listening",
    sandbox: "async",
    flavour,
    pid: process.pid,
    host: address.address,
    port: address.port,
    url,
    options: {
      "max-message-size": options.maxMessageSize,
      "ping-interval": options.pingInterval,
      "ping-timeout": options.pingTimeout,
      "poll-timeout": options.pollTimeout,
      "access-log": options.accessLog,
    },
  });
}

function handshakeHeaderPairs(
  flavour: AsyncOptions["flavour"],
  accept: string,
): [string, string][] {
  return handshakeLines(flavour, accept)
    .slice(1)
    .map((line): [string, string] => {
      const colon = line.indexOf(": ");
      return [line.slice(0, colon), line.slice(colon + 2)];
    });
}

/** Python's json.dumps(value) with its default separators and ensure_ascii. */
function pyDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyDumps).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const items = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${items.map(([k, v]) => `${pyDumps(k)}: ${pyDumps(v)}`).join(", ")}}`;
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value === "number" && Number.isFinite(value) && !Number.isInteger(value)) {
    return String(value);
  }
  return JSON.stringify(value);
}

/** The close code ws uses for a receiver error (its `code`). */
function closeCodeOf(code: string | undefined): number {
  switch (code) {
    case "WS_ERR_INVALID_UTF8":
      return 1007;
    case "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH":
      return 1009;
    default:
      return 1002;
  }
}

/** Python's traceback when the Tornado app's listen() fails (the port is in use). */
function tornadoBindFailure(appPath: string, code: string | undefined, message: string): string {
  const last =
    code === "EADDRINUSE"
      ? "OSError: [Errno 98] Address already in use"
      : code === "EADDRNOTAVAIL"
        ? "OSError: [Errno 99] Cannot assign requested address"
        : code === "EACCES"
          ? "PermissionError: [Errno 13] Permission denied"
          : `OSError: ${message}`;
  return `Traceback (most recent call last):
  File "${appPath}", line 50, in <module>
    asyncio.run(main())
  File "/usr/lib/python3.11/asyncio/runners.py", line 190, in run
    return runner.run(main)
           ^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/asyncio/runners.py", line 118, in run
    return self._loop.run_until_complete(task)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/asyncio/base_events.py", line 653, in run_until_complete
    return future.result()
           ^^^^^^^^^^^^^^^
  File "${appPath}", line 46, in main
    make_app().listen(options.port, address="127.0.0.1")
  File "/usr/lib/python3/dist-packages/tornado/web.py", line 2156, in listen
    server.listen(
  File "/usr/lib/python3/dist-packages/tornado/tcpserver.py", line 183, in listen
    sockets = bind_sockets(
              ^^^^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/tornado/netutil.py", line 162, in bind_sockets
    sock.bind(sockaddr)
${last}
`;
}

/** What Python 3.11 prints when Ctrl+C ends `asyncio.run(main())` in the Tornado app. */
function tornadoInterrupt(appPath: string): string {
  return `Traceback (most recent call last):
  File "/usr/lib/python3.11/asyncio/runners.py", line 118, in run
    return self._loop.run_until_complete(task)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/asyncio/base_events.py", line 653, in run_until_complete
    return future.result()
           ^^^^^^^^^^^^^^^
  File "${appPath}", line 47, in main
    await asyncio.Event().wait()
  File "/usr/lib/python3.11/asyncio/locks.py", line 213, in wait
    await fut
asyncio.exceptions.CancelledError

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "${appPath}", line 50, in <module>
    asyncio.run(main())
  File "/usr/lib/python3.11/asyncio/runners.py", line 190, in run
    return runner.run(main)
           ^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/asyncio/runners.py", line 123, in run
    raise KeyboardInterrupt()
KeyboardInterrupt
`;
}
