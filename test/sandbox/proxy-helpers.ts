import { type ChildProcess, fork } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  ProxyEvent,
  RequestEvent,
  SandboxEvent,
  UpstreamsEvent,
  WorkerEvent,
} from "../../sandboxes/shared/protocol.js";
import { ROOT, watchChild } from "./helpers.js";

let entryDir: string | undefined;

/**
 * The built proxy sandbox, copied with the prefork sandbox it starts into one temporary folder
 * (the proxy finds prefork.js beside itself), so that a rebuild of dist/ cannot pull them away.
 */
export function proxyEntry(): string {
  if (!entryDir) {
    const dir = mkdtempSync(join(tmpdir(), "lws-proxy-entry-"));
    for (const name of ["proxy", "prefork"]) {
      const built = join(ROOT, "dist", "sandboxes", `${name}.js`);
      if (!existsSync(built)) {
        throw new Error(`${built} is missing: run node scripts/build.mjs (npm test does it first)`);
      }
      copyFileSync(built, join(dir, `${name}.js`));
    }
    entryDir = dir;
  }
  return join(entryDir, "proxy.js");
}

export function removeProxyEntry(): void {
  if (entryDir) rmSync(entryDir, { recursive: true, force: true });
  entryDir = undefined;
}

export interface RunningProxy {
  child: ChildProcess;
  pid: number;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Every event received, each checked with the app's validator (a bad one lands in `invalid`). */
  events: SandboxEvent[];
  invalid: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(test: () => boolean, ms?: number, what?: string): Promise<void>;
  requests(): RequestEvent[];
  proxyEvents(): ProxyEvent[];
  lastUpstreams(): UpstreamsEvent | undefined;
  /** The `upstream` option of the listening event: the app servers' addresses. */
  upstreams(): string[];
  /** The TCP addresses of the app servers the proxy started, for reaching them directly. */
  direct(): string[];
  /** Pids of the app servers' workers whose last event is not "exited". */
  liveWorkers(): number[];
  /** The app servers' master pids, from the upstreams events. */
  masters(): number[];
  control(msg: unknown): void;
  stop(): Promise<void>;
}

/** Starts the proxy sandbox with an IPC channel on port 0 and waits for its listening event. */
export async function startProxy(
  args: string[],
  options: { waitForListening?: boolean; env?: Record<string, string>; cwd?: string } = {},
): Promise<RunningProxy> {
  const child = fork(proxyEntry(), ["--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, ...options.env },
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  const w = watchChild(child, 6000);
  const { events, waitFor, exited } = w;
  const of = <T extends SandboxEvent["type"]>(type: T) =>
    events.filter((e): e is Extract<SandboxEvent, { type: T }> => e.type === type);
  const proxy: RunningProxy = {
    child,
    pid: child.pid ?? 0,
    port: 0,
    stdout: w.stdout,
    stderr: w.stderr,
    events,
    invalid: w.invalid,
    exited,
    waitFor,
    requests: () => of("request"),
    proxyEvents: () => of("proxy"),
    lastUpstreams: () => of("upstreams").at(-1),
    upstreams: () => {
      const listening = of("listening")[0];
      return String(listening?.options.upstream ?? "")
        .split(",")
        .filter(Boolean);
    },
    direct: () => {
      const listening = of("listening")[0];
      return String(listening?.options.direct ?? "")
        .split(",")
        .filter(Boolean);
    },
    liveWorkers: () => {
      const last = new Map<number, string>();
      for (const e of of("worker") as WorkerEvent[]) last.set(e.pid, e.state);
      return [...last].filter(([, s]) => s !== "exited").map(([pid]) => pid);
    },
    masters: () => [
      ...new Set(
        of("upstreams").flatMap((e) => e.upstreams.flatMap((u) => (u.pid ? [u.pid] : []))),
      ),
    ],
    control: (msg) => {
      if (child.connected) child.send({ v: 1, msg });
    },
    stop: w.stop,
  };
  if (options.waitForListening !== false) proxy.port = (await w.listening(12000)).port;
  return proxy;
}

/**
 * A site folder: static/ with a few files, a secret beside static/ (never to be served), and
 * links from static/ to the secret and to its folder.
 */
export function makeSite(): { dir: string; secret: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "lws-proxy-site-"));
  const secret = "TOP-SECRET-proxy-test";
  mkdirSync(join(dir, "static", "sub"), { recursive: true });
  mkdirSync(join(dir, "static", "docs"), { recursive: true });
  writeFileSync(join(dir, "static", "hello.txt"), "hello from a static file\n");
  writeFileSync(join(dir, "static", "style.css"), "body { color: #123; }\n");
  writeFileSync(join(dir, "static", "docs", "index.html"), "<h1>docs</h1>\n");
  writeFileSync(join(dir, "secret.txt"), `${secret}\n`);
  mkdirSync(join(dir, "private"));
  writeFileSync(join(dir, "private", "key.txt"), `${secret}\n`);
  writeFileSync(join(dir, "greeting.txt"), "Hello from behind the proxy!\n");
  if (process.platform !== "win32") {
    symlinkSync(join(dir, "secret.txt"), join(dir, "static", "link-out.txt"));
    symlinkSync(join(dir, "private"), join(dir, "static", "private-dir"));
    symlinkSync(join(dir, "static", "hello.txt"), join(dir, "static", "link-in.txt"));
  }
  return { dir, secret, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A tiny upstream: answers every request with `respond(request text)`, counts what it got. */
export interface TinyUpstream {
  port: number;
  url: string;
  received: string[];
  close(): Promise<void>;
}

export async function tinyUpstream(
  respond: (request: string, socket: Socket) => string | undefined,
): Promise<TinyUpstream> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length < end + 4 + length) return;
      received.push(text);
      const reply = respond(text, socket);
      text = "";
      if (reply !== undefined) socket.end(reply, "latin1");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP/1.0 answer with a body, as a simple app server writes it. */
export function reply(
  body: string,
  headers: Record<string, string> = {},
  status = "200 OK",
): string {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return `HTTP/1.0 ${status}\r\nServer: tiny\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}
