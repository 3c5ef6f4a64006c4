/**
 * The app child: imports the learner's app module (fresh, since this is a new process), serves
 * it over HTTP as the flavour's server would, and reports to the reloader parent over its IPC
 * channel (never to the supervisor). Flask: listens on the socket the parent owns and hands
 * over, so connections wait in the kernel's queue during a restart. Django: binds the port
 * itself, so the port is closed while no child runs.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { flushOutput, stderrOut } from "../shared/output.js";
import type { RequestEvent } from "../shared/protocol.js";
import {
  badRequestLines,
  DJANGO_CHECKS,
  djangoBanner,
  djangoHostAllowed,
  djangoLogLine,
  djangoWatching,
  flaskDebuggerLines,
  flaskLogLine,
  frameworkFrames,
  importFrames,
  reasonPhrase,
  responseHeaders,
  wantsColour,
} from "./flavour.js";
import type { Flavour, ReloaderKind } from "./options.js";
import {
  badRequestPage,
  consolePage,
  type DjangoRequestInfo,
  djangoTechnical404,
  djangoTechnical500,
  FLASK_METHOD_NOT_ALLOWED,
  FLASK_NOT_FOUND,
  werkzeugDebuggerPage,
} from "./pages.js";
import {
  formatTraceback,
  fromError,
  lastLine,
  locateSyntaxError,
  type Traceback,
} from "./traceback.js";
import { scan } from "./watchers.js";

export const CHILD_ENV = "LEARN_WEBSERVERS_DEV_RELOAD_CHILD";

export interface ChildConfig {
  flavour: Flavour;
  directory: string;
  app: string;
  appRel: string;
  threading: boolean;
  /** The address to bind (Django) or the one bound by the parent (Flask). */
  host: string;
  port: number;
  pin: string;
  failedPin: string;
  reload: boolean;
  reloader: ReloaderKind;
  /** Send a request message per request (the parent has a supervisor to forward them to). */
  events: boolean;
}

/** Messages from the child to the parent. */
export type ChildMessage =
  | { t: "hello" }
  | { t: "ready"; at: number; port: number }
  | { t: "failed"; at: number; error: string }
  | { t: "bind-error"; code: string; message: string }
  | { t: "request"; event: RequestEvent };

/** Messages from the parent to the child. */
export type ParentMessage = { t: "socket" } | { t: "go"; reloader: ReloaderKind } | { t: "stop" };

type Handler = (request: AppRequest) => unknown;
type Route = Handler | { methods?: string[]; handler: Handler };

export interface AppRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  remote: string;
  pid: number;
  thread: string;
}

interface Reply {
  /** Django's XFrameOptionsMiddleware did not run (the request failed before it). */
  noFrameOptions?: boolean;
  status: number;
  body: Buffer;
  contentType: string;
  extra: [string, string][];
  /** Printed before the log line (Django) or after it (Flask). */
  note?: string;
  traceback?: Traceback;
}

const MAX_BODY = 1024 * 1024;
/**
 * Django's start-up (settings, apps, system checks) takes about 0.3 s on the reference machine,
 * and its port stays closed meanwhile (8-9 refused polls per reload in the transcripts). The
 * child spends that time too, so that the closed port is as visible as with the real one.
 */
const DJANGO_CHECKS_MS = 250;
const STOP_GRACE_MS = 300;

function send(msg: ChildMessage): void {
  if (typeof process.send === "function" && process.connected) {
    try {
      process.send(msg);
    } catch {}
  }
}

function html(text: string): Buffer {
  return Buffer.from(text, "utf8");
}

/** Kills this process when the reloader parent is gone, even while an app handler never returns. */
function startOrphanWatchdog(): void {
  if (process.platform === "win32") return;
  try {
    const worker = new Worker(
      `const { workerData } = require("node:worker_threads");
       setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, "SIGKILL"); }, 200);`,
      { eval: true, workerData: process.ppid, stdout: false, stderr: false },
    );
    worker.unref();
    worker.on("error", () => {});
  } catch {}
}

function normalise(result: unknown, flavour: Flavour, path: string): Reply {
  const ok = (body: Buffer, contentType: string, status = 200, extra: [string, string][] = []) => ({
    status,
    body,
    contentType,
    extra,
  });
  if (typeof result === "string") return ok(html(result), "text/html; charset=utf-8");
  if (result instanceof Uint8Array) return ok(Buffer.from(result), "text/html; charset=utf-8");
  if (result === undefined || result === null) {
    throw new TypeError(
      flavour === "flask"
        ? `The view function for '${path}' did not return a valid response. The function either returned None or ended without a return statement.`
        : `The view for '${path}' didn't return an HttpResponse object. It returned None instead.`,
    );
  }
  if (typeof result === "object") {
    const r = result as {
      status?: unknown;
      body?: unknown;
      headers?: unknown;
      contentType?: unknown;
    };
    if ("status" in r || "body" in r || "headers" in r || "contentType" in r) {
      const status = typeof r.status === "number" && Number.isInteger(r.status) ? r.status : 200;
      if (status < 100 || status > 999) throw new RangeError(`invalid status ${String(r.status)}`);
      const body =
        typeof r.body === "string"
          ? html(r.body)
          : r.body instanceof Uint8Array
            ? Buffer.from(r.body)
            : r.body === undefined
              ? Buffer.alloc(0)
              : html(JSON.stringify(r.body));
      const extra: [string, string][] = [];
      let contentType =
        typeof r.contentType === "string" ? r.contentType : "text/html; charset=utf-8";
      if (r.headers && typeof r.headers === "object") {
        for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) {
          const value = String(v);
          if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(value)) {
            throw new ValueError(`invalid header ${JSON.stringify(k)}`);
          }
          if (k.toLowerCase() === "content-type") contentType = value;
          else if (
            !["content-length", "connection", "date", "server", "transfer-encoding"].includes(
              k.toLowerCase(),
            )
          ) {
            extra.push([k, value]);
          }
        }
      }
      return ok(body, contentType, status, extra);
    }
    return ok(html(`${JSON.stringify(result, null, 2)}\n`), "application/json");
  }
  return ok(html(String(result)), "text/html; charset=utf-8");
}

class ValueError extends Error {
  override name = "ValueError";
}

function parseQuery(search: string): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of new URLSearchParams(search)) out.push([k, v]);
  return out;
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size <= MAX_BODY) chunks.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(""));
    req.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

export async function runChild(config: ChildConfig): Promise<void> {
  const { flavour, directory } = config;
  const colour = wantsColour(process.stderr);
  let server: Server | undefined;
  let stopping = false;
  const sockets = new Set<Socket>();
  let threadNo = 0;
  let requestNo = 0;
  let queue: Promise<void> = Promise.resolve();
  let routes: Record<string, Route> | undefined;
  let loadError: Traceback | undefined;

  process.on("SIGINT", () => {}); // Ctrl+C reaches the whole group: the parent decides.
  process.on("disconnect", () => process.exit(0));
  startOrphanWatchdog();

  const stop = () => {
    if (stopping) return;
    stopping = true;
    server?.close();
    const exit = () => {
      flushOutput();
      process.exit(0);
    };
    if (sockets.size === 0) return exit();
    const timer = setTimeout(exit, STOP_GRACE_MS);
    timer.unref();
    const check = setInterval(() => {
      if (sockets.size === 0) exit();
    }, 10);
    check.unref();
  };

  let socketHandle: unknown;
  let started: (reloader: ReloaderKind) => void = () => {};
  // The parent starts each child ahead of time (Node's own start-up is then out of the
  // reload's way); the child loads nothing until told to go.
  const go = new Promise<ReloaderKind>((resolve) => {
    started = resolve;
  });
  const gotSocket = new Promise<void>((resolve) => {
    process.on("message", (msg: ParentMessage, handle?: unknown) => {
      if (msg?.t === "socket") {
        socketHandle = handle;
        resolve();
      } else if (msg?.t === "go") started(msg.reloader);
      else if (msg?.t === "stop") stop();
    });
  });
  send({ t: "hello" });
  config.reloader = await go;
  if (stopping) return;

  if (flavour === "django") {
    if (config.reload) stderrOut.write(djangoWatching(config.reloader));
    // The autoreloader's stderr line comes first, as on a terminal: out before the stdout banner.
    flushOutput();
    process.stdout.write(DJANGO_CHECKS);
  }

  // Import the app, fresh: this process has never loaded it.
  try {
    const mod = (await import(pathToFileURL(config.app).href)) as {
      routes?: unknown;
      default?: unknown;
    };
    const candidate =
      mod.routes ?? (mod.default as { routes?: unknown } | undefined)?.routes ?? mod.default;
    if (!candidate || typeof candidate !== "object") {
      throw Object.assign(
        new Error(
          flavour === "flask"
            ? `Failed to find Flask application or factory in module '${config.appRel}'. Export \`routes\` from it.`
            : `The included URLconf '${config.appRel}' does not appear to have any patterns in it. Export \`routes\` from it.`,
        ),
        { name: flavour === "flask" ? "NoAppException" : "ImproperlyConfigured" },
      );
    }
    routes = candidate as Record<string, Route>;
  } catch (err) {
    const frames = importFrames(flavour);
    if (err instanceof SyntaxError) {
      const files = [
        config.app,
        ...[...scan(directory).files.keys()].filter((f) => f !== config.app),
      ];
      const where = await locateSyntaxError(files.filter((f) => /\.(mjs|js|cjs)$/.test(f)));
      loadError = where
        ? {
            type: "SyntaxError",
            message: where.message,
            frames: [...frames, where.frame],
            caret: where.caret,
          }
        : fromError(err, directory, frames);
    } else {
      loadError = fromError(err, directory, frames);
    }
  }

  if (loadError && flavour === "django") {
    stderrOut.write(`Exception in thread django-main-thread:\n${formatTraceback(loadError)}`);
    flushOutput();
    send({ t: "failed", at: Date.now(), error: lastLine(loadError) });
    return; // Stays up, not listening, until the parent replaces it.
  }
  if (flavour === "django") await new Promise((resolve) => setTimeout(resolve, DJANGO_CHECKS_MS));
  if (loadError) stderrOut.write(formatTraceback(loadError));
  if (flavour === "flask") {
    stderrOut.write(flaskDebuggerLines(loadError ? config.failedPin : config.pin));
  }
  flushOutput();

  const colourLog = colour;
  // Django 3.2's ServerHandler.cleanup_headers: persistent connections need the threading server.
  const keepAlive = flavour === "django" && config.threading;
  const serve = async (req: IncomingMessage, res: ServerResponse, started: number) => {
    const remote = req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "-";
    const target = req.url ?? "/";
    const requestLine = `${req.method} ${target} HTTP/${req.httpVersion}`;
    const q = target.indexOf("?");
    const rawPath = q >= 0 ? target.slice(0, q) : target;
    const path = decodePath(rawPath);
    const query = parseQuery(q >= 0 ? target.slice(q + 1) : "");
    const method = req.method ?? "GET";
    const thread = config.threading
      ? `Thread-${++threadNo} (process_request_thread)`
      : "MainThread";
    const body = await readBody(req);
    const headerRecord: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = (req.rawHeaders[i] ?? "").toLowerCase();
      const v = req.rawHeaders[i + 1] ?? "";
      headerRecord[k] = k in headerRecord ? `${headerRecord[k]}, ${v}` : v;
    }
    const info: DjangoRequestInfo = {
      method,
      url: `http://${req.headers.host ?? `${config.host}:${config.port}`}${rawPath}`,
      path,
      query,
      headers: [],
      remote,
      serverPort: req.socket.localPort ?? config.port,
      cookies: req.headers.cookie,
    };
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      info.headers.push([req.rawHeaders[i] ?? "", req.rawHeaders[i + 1] ?? ""]);
    }
    const queryValue = (name: string) => query.find(([k]) => k === name)?.[1];

    let reply: Reply;
    const fail = (tb: Traceback): Reply =>
      flavour === "flask"
        ? {
            status: 500,
            body: html(werkzeugDebuggerPage(tb)),
            contentType: "text/html; charset=utf-8",
            extra: [],
            traceback: tb,
          }
        : {
            status: 500,
            body: html(djangoTechnical500(tb, info)),
            contentType: "text/html",
            extra: [["Vary", "Cookie"]],
            note: `Internal Server Error: ${path}\n${formatTraceback(tb)}`,
          };

    const route = routes && Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (flavour === "django" && !djangoHostAllowed(req.headers.host)) {
      const hostName = req.headers.host ?? "";
      const message = `Invalid HTTP_HOST header: '${hostName}'. You may need to add '${hostName.replace(/:\d+$/, "")}' to ALLOWED_HOSTS.`;
      reply = {
        status: 400,
        body: html(djangoTechnical500({ type: "DisallowedHost", message, frames: [] }, info)),
        contentType: "text/html",
        extra: [],
        noFrameOptions: true,
        note: `${message}\nBad Request: ${path}\n`,
      };
    } else if (flavour === "flask" && queryValue("__debugger__") === "yes") {
      reply = {
        status: 200,
        body: html(consolePage(queryValue("cmd"))),
        contentType: "text/html; charset=utf-8",
        extra: [],
      };
    } else if (loadError) {
      // flask run's DispatchingApp re-raises the import error on every request.
      const again: Traceback = {
        ...loadError,
        frames: [
          {
            file: "/usr/lib/python3/dist-packages/flask/cli.py",
            line: 906,
            name: "app",
            source: "raise err from None",
            framework: true,
          },
          ...loadError.frames,
        ],
      };
      reply = fail(again);
    } else if (!route) {
      if (flavour === "flask" && path === "/console") {
        reply = {
          status: 200,
          body: html(consolePage(undefined)),
          contentType: "text/html; charset=utf-8",
          extra: [],
        };
      } else if (flavour === "flask") {
        reply = {
          status: 404,
          body: html(FLASK_NOT_FOUND),
          contentType: "text/html; charset=utf-8",
          extra: [],
        };
      } else if (!path.endsWith("/") && routes && Object.hasOwn(routes, `${path}/`)) {
        const location = `${rawPath}/${q >= 0 ? target.slice(q) : ""}`;
        reply = {
          status: 301,
          body: Buffer.alloc(0),
          contentType: "text/html; charset=utf-8",
          extra: [["Location", location]],
        };
      } else {
        const patterns = Object.keys(routes ?? {}).map((p) => p.replace(/^\//, ""));
        reply = {
          status: 404,
          body: html(djangoTechnical404(info, patterns)),
          contentType: "text/html",
          extra: [],
          note: `Not Found: ${path}\n`,
        };
      }
    } else {
      const handler = typeof route === "function" ? route : route.handler;
      const methods =
        typeof route === "function" || !Array.isArray(route.methods)
          ? ["GET"]
          : route.methods.map((m) => String(m).toUpperCase());
      const allowed = new Set(methods);
      if (allowed.has("GET")) allowed.add("HEAD");
      allowed.add("OPTIONS");
      const allow = [
        ...methods,
        ...["OPTIONS", "HEAD"].filter((m) => !methods.includes(m) && allowed.has(m)),
      ].join(", ");
      if (flavour === "flask" && !allowed.has(method)) {
        reply = {
          status: 405,
          body: html(FLASK_METHOD_NOT_ALLOWED),
          contentType: "text/html; charset=utf-8",
          extra: [["Allow", allow]],
        };
      } else if (flavour === "flask" && method === "OPTIONS" && !methods.includes("OPTIONS")) {
        reply = {
          status: 200,
          body: Buffer.alloc(0),
          contentType: "text/html; charset=utf-8",
          extra: [["Allow", allow]],
        };
      } else {
        const request: AppRequest = {
          method,
          path,
          query: Object.fromEntries(query),
          headers: headerRecord,
          body,
          remote,
          pid: process.pid,
          thread,
        };
        try {
          if (typeof handler !== "function")
            throw new TypeError(`the route '${path}' has no handler`);
          reply = normalise(await handler(request), flavour, path);
        } catch (err) {
          reply = fail(fromError(err, directory, frameworkFrames(flavour)));
        }
      }
    }

    const reason = reasonPhrase(flavour, reply.status);
    // Django's threaded runserver keeps the connection (no Connection header); without threads,
    // and Werkzeug always, it closes.
    const headers = responseHeaders(
      flavour,
      reply.contentType,
      reply.body.length,
      reply.extra,
      !reply.noFrameOptions,
    ).filter(([k]) => !(keepAlive && k === "Connection"));
    const flat: string[] = [];
    for (const [k, v] of headers) flat.push(k, v);
    const head = method === "HEAD";
    if (!res.destroyed) {
      try {
        res.writeHead(reply.status, reason, flat);
        res.end(head ? undefined : reply.body);
      } catch {
        res.destroy();
      }
    }
    if (flavour === "flask") {
      stderrOut.write(flaskLogLine(remote, requestLine, reply.status, colourLog));
      if (reply.traceback) stderrOut.write(formatTraceback(reply.traceback));
    } else {
      if (reply.note) stderrOut.write(reply.note);
      stderrOut.write(djangoLogLine(requestLine, reply.status, reply.body.length));
    }
    if (config.events) {
      const responseHeaderRecord: Record<string, string> = {};
      for (const [k, v] of headers) responseHeaderRecord[k.toLowerCase()] = v;
      send({
        t: "request",
        event: {
          type: "request",
          id: ++requestNo,
          time: new Date().toISOString(),
          remote,
          method,
          target,
          path,
          version: `HTTP/${req.httpVersion}`,
          status: reply.status,
          reason,
          requestHeaders: headerRecord,
          responseHeaders: responseHeaderRecord,
          bytes: head ? 0 : reply.body.length,
          durationMs: Math.round((performance.now() - started) * 1000) / 1000,
          worker: process.pid,
        },
      });
    }
  };

  server = createServer({ requireHostHeader: false }, (req, res) => {
    const started = performance.now();
    res.sendDate = false;
    if (keepAlive) res.removeHeader("Connection");
    else res.shouldKeepAlive = false;
    const run = () =>
      serve(req, res, started).catch(() => {
        if (!res.headersSent) res.destroy();
      });
    if (config.threading) void run();
    else {
      // One request at a time, as a server without threads: the next waits for this one.
      const done = new Promise<void>((resolve) => {
        res.once("close", resolve);
      });
      queue = queue.then(async () => {
        await run();
        await done;
      });
    }
  });
  // A client that half-closes after its request still gets the answer, as from Python.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.keepAliveTimeout = 0;
  server.headersTimeout = 60_000;
  server.requestTimeout = 300_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on(
    "clientError",
    (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      if (!socket.writable || err.code === "ECONNRESET") {
        socket.destroy();
        return;
      }
      const rawLine = (err.rawPacket?.toString("latin1") ?? "").split(/\r?\n/)[0] ?? "";
      const line = rawLine
        .replace(/\r$/, "")
        .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
      const words = line.split(" ").filter(Boolean);
      const page = Buffer.from(badRequestPage(`Bad request syntax ('${line}')`), "utf8");
      const remote = socket.remoteAddress?.replace(/^::ffff:/, "") ?? "-";
      if (words.length >= 3 && /^HTTP\/\d/.test(words.at(-1) ?? "")) {
        const server =
          flavour === "flask" ? "Werkzeug/2.2.2 Python/3.11.2" : "WSGIServer/0.2 CPython/3.11.2";
        socket.end(
          Buffer.concat([
            Buffer.from(
              `HTTP/1.0 400 Bad Request\r\nServer: ${server}\r\nDate: ${new Date().toUTCString()}\r\nConnection: close\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: ${page.length}\r\n\r\n`,
              "latin1",
            ),
            page,
          ]),
        );
      } else {
        // An HTTP/0.9-style line: Python answers with the page alone, no status line.
        socket.end(page);
      }
      stderrOut.write(badRequestLines(flavour, remote, line));
    },
  );

  const ready = (port: number) => {
    if (flavour === "django") {
      process.stdout.write(djangoBanner(config.host, port));
    }
    const at = Date.now();
    if (loadError) send({ t: "failed", at, error: lastLine(loadError) });
    send({ t: "ready", at, port });
  };

  if (flavour === "flask") {
    await gotSocket;
    if (stopping) return;
    server.listen(socketHandle as Parameters<Server["listen"]>[0], 128, () => ready(config.port));
    server.on("error", () => {});
  } else {
    server.once("error", (err: NodeJS.ErrnoException) => {
      process.stdout.write(djangoBanner(config.host, config.port));
      const messages: Record<string, string> = {
        EADDRINUSE: "That port is already in use.",
        EACCES: "You don't have permission to access that port.",
        EADDRNOTAVAIL: "That IP address can't be assigned to.",
      };
      stderrOut.write(`Error: ${messages[err.code ?? ""] ?? err.message}\n`);
      flushOutput();
      send({ t: "bind-error", code: err.code ?? "EBIND", message: err.message });
      setTimeout(() => process.exit(1), 50);
    });
    server.listen({ host: config.host, port: config.port, exclusive: true, backlog: 10 }, () => {
      const address = server?.address();
      ready(typeof address === "object" && address ? address.port : config.port);
    });
  }
}
