/**
 * The load process of the async labs: opens many WebSockets to the sandbox from a process of its
 * own (so the sandbox's memory is the sandbox's), reports its progress over IPC, measures the
 * sandbox's memory per connection, times one broadcast to all of them, and closes them again.
 *
 *   node ws-load.js --host 127.0.0.1 --port 8888 --connections 10000 [--broadcast]
 *                   [--user-agent UA]
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { readStats } from "./stats-client.js";

export interface LoadProgress {
  type: "progress";
  phase: "open" | "broadcast" | "close";
  done: number;
  total: number;
  failed: number;
}

export interface LoadResult {
  type: "done";
  total: number;
  opened: number;
  failed: number;
  /** The first failure, as the client saw it (e.g. ECONNRESET, "Unexpected server response: 503"). */
  firstError?: string;
  openMs: number;
  /** What /stats said before opening and once all were open. */
  rssBefore: number;
  rssAfter: number;
  serverWebsockets: number;
  serverRefused: number;
  broadcastMs?: number;
  broadcastReceived?: number;
  /** WebSockets the server still held after the load closed its own. */
  leftOpen: number;
  closeMs: number;
}

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    connections: { type: "string", default: "1000" },
    broadcast: { type: "boolean", default: false },
    "user-agent": { type: "string", default: "learn-webservers-load" },
  },
});

const host = values.host;
const port = Number(values.port);
const total = Math.max(1, Math.min(50_000, Number(values.connections) || 1000));
const userAgent = values["user-agent"];
const IN_FLIGHT = 256;
const PROGRESS_EVERY_MS = 100;

function send(message: LoadProgress | LoadResult | { type: "error"; message: string }): void {
  if (process.send) process.send(message);
  else process.stdout.write(`${JSON.stringify(message)}\n`);
}

// The lab going away ends the load: nothing of it outlives the lab.
process.on("disconnect", () => process.exit(0));

const stats = () => readStats(host, port, userAgent);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const before = await stats();
  const sockets: WebSocket[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let started = 0;
  let lastProgress = 0;
  const progress = (phase: LoadProgress["phase"], done: number, force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    send({ type: "progress", phase, done, total, failed });
  };

  const openOne = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://${host}:${port}/ws`, {
        perMessageDeflate: false,
        headers: { "User-Agent": userAgent },
        handshakeTimeout: 10_000,
      });
      const fail = (err: Error & { code?: string }) => {
        failed++;
        firstError ??= err.code ?? err.message;
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
        resolve();
      };
      ws.once("open", () => {
        ws.off("error", fail);
        ws.on("error", () => {});
        sockets.push(ws);
        resolve();
      });
      ws.once("error", fail);
    });

  const t0 = performance.now();
  progress("open", 0, true);
  const worker = async () => {
    while (started < total) {
      started++;
      await openOne();
      progress("open", sockets.length + failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, total) }, worker));
  const openMs = performance.now() - t0;
  progress("open", sockets.length + failed, true);

  await sleep(300);
  const after = await stats();
  const result: LoadResult = {
    type: "done",
    total,
    opened: sockets.length,
    failed,
    ...(firstError !== undefined ? { firstError } : {}),
    openMs: Math.round(openMs),
    rssBefore: before.memory.rss,
    rssAfter: after.memory.rss,
    serverWebsockets: after.connections.websockets,
    serverRefused: after.connections.refused,
    leftOpen: 0,
    closeMs: 0,
  };

  if (values.broadcast && sockets.length > 0) {
    const tag = `load-${process.pid}-${Date.now()}`;
    let received = 0;
    const b0 = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      for (const ws of sockets) {
        const onMessage = (data: unknown) => {
          if (!String(data).includes(tag)) return;
          ws.off("message", onMessage);
          received++;
          progress("broadcast", received);
          if (received === sockets.length) {
            clearTimeout(timer);
            resolve();
          }
        };
        ws.on("message", onMessage);
      }
      sockets[0]?.send(`all:${tag}`);
    });
    result.broadcastMs = Math.round((performance.now() - b0) * 10) / 10;
    result.broadcastReceived = received;
  }

  const c0 = performance.now();
  for (const ws of sockets) ws.terminate();
  progress("close", 0, true);
  let left = after.connections.websockets;
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    left = (await stats()).connections.websockets;
    progress("close", Math.max(0, sockets.length - left));
    if (left <= before.connections.websockets) break;
  }
  result.leftOpen = Math.max(0, left - before.connections.websockets);
  result.closeMs = Math.round(performance.now() - c0);
  send(result);
}

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  send({ type: "error", message: "--port is required: the sandbox's port" });
  process.exit(2);
}
main().then(
  () => {
    if (process.connected) process.disconnect();
    setTimeout(() => process.exit(0), 50).unref();
  },
  (err: Error) => {
    send({ type: "error", message: err.message });
    setTimeout(() => process.exit(1), 50).unref();
  },
);
