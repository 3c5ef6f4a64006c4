import { existsSync } from "node:fs";
import http from "node:http";
import type { LoadProgress, LoadResult } from "../../sandboxes/async/load.js";
import { readStats } from "../../sandboxes/async/stats-client.js";
import type { Experiment } from "../course/schema.js";
import { sandboxEntry } from "../paths.js";
import { acceptFor, handshakeSteps } from "./handshake.js";
import { trackLoad } from "./loads.js";
import { count } from "./loop.js";
import { forkWithOpenFiles } from "./nofile.js";
import { median as medianOfSorted } from "./reloads.js";
import type { ExperimentProgress, ExperimentResult } from "./types.js";
import { type Frame, hex, OPCODES, RawWebSocket } from "./ws-client.js";

type Values = Record<string, string | number | boolean>;

/** What the WebSocket experiments need from the lab. */
export interface WsTarget {
  host: string;
  port: number;
  /** host:port as the Host header says it. */
  hostPort: string;
  userAgent: string;
}

const OPEN_TIMEOUT_MS = 3_000;
const FRAME_TIMEOUT_MS = 2_000;

function frameLine(arrow: string, frame: Frame | Buffer, text: string): string {
  const bytes = Buffer.isBuffer(frame) ? frame : Buffer.concat([frame.header, frame.payload]);
  return `${arrow} ${text} (${bytes.length} bytes: ${hex(bytes)})`;
}

function describeFrame(frame: Frame): string {
  const kind = OPCODES[frame.opcode] ?? `opcode ${frame.opcode}`;
  if (frame.opcode === 8) {
    const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
    const reason = frame.payload.subarray(2).toString("utf8");
    return `close frame${code !== undefined ? ` ${code}` : ""}${reason ? ` "${reason}"` : ""}`;
  }
  if (frame.opcode === 1) return `text frame "${frame.payload.toString("utf8").slice(0, 60)}"`;
  return `${kind} frame, ${frame.payload.length} bytes`;
}

/**
 * Opens one real WebSocket byte by byte: the upgrade request, the server's 101 (or its
 * refusal), the Sec-WebSocket-Accept worked out step by step, then a few text frames each way.
 */
export async function websocketAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "websocket" }>,
  target: WsTarget,
): Promise<ExperimentResult> {
  const ws = await RawWebSocket.connect({
    host: target.host,
    port: target.port,
    path: action.path,
    hostHeader: target.hostPort,
    userAgent: target.userAgent,
    ...(action.origin !== undefined ? { origin: action.origin } : {}),
    timeoutMs: OPEN_TIMEOUT_MS,
  });
  try {
    const reply = await ws.reply(OPEN_TIMEOUT_MS);
    if (!reply) {
      return {
        experimentId: id,
        ok: false,
        summary: `No answer to the upgrade within ${OPEN_TIMEOUT_MS / 1000} s: is the event loop blocked? Look at the loop delay, then retry.`,
        exchange: { request: ws.request, response: "" },
        values: {},
      };
    }
    const values: Values = { status: reply.status };
    if (action.origin !== undefined) values.origin = action.origin;
    if (reply.status !== 101) {
      const body = reply.rest.toString("utf8");
      const firstLine = reply.head.split("\r\n")[0] ?? "";
      return {
        experimentId: id,
        ok: true,
        summary: `The server refused the upgrade: ${firstLine}${body ? `, "${body.trim().slice(0, 80)}"` : ""}. No WebSocket was opened.`,
        exchange: { request: ws.request, response: `${reply.head}\r\n\r\n${body}` },
        values: { ...values, opened: false },
      };
    }
    const math = acceptFor(ws.key);
    const serverAccept = reply.headers["sec-websocket-accept"] ?? "";
    values.accept = serverAccept;
    values.acceptMatches = serverAccept === math.accept;
    values.opened = true;

    const sent: string[] = [];
    for (const text of action.send) {
      const bytes = ws.sendText(text);
      sent.push(frameLine("→", bytes, `text frame "${text}", masked`));
    }
    const frames = await ws.framesUntil(action.send.length, FRAME_TIMEOUT_MS);
    const replies = frames.filter((f) => f.opcode === 1).map((f) => f.payload.toString("utf8"));
    const close = await ws.close();
    values.sent = action.send.length;
    values.received = replies.length;
    if (replies[0] !== undefined) values.reply = replies[0];
    const received = frames.map((f) => frameLine("←", f, describeFrame(f)));
    const closeCode =
      close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
    if (closeCode !== undefined) values.closeCode = closeCode;
    const steps = handshakeSteps(math, serverAccept);
    const verdict = values.acceptMatches
      ? "the accept matches, so the client knows the server speaks WebSocket"
      : "the accept does NOT match: a real browser would drop this connection";
    return {
      experimentId: id,
      ok: true,
      summary: `101 Switching Protocols; ${verdict}. Sent ${action.send.length} frame${action.send.length === 1 ? "" : "s"}, got ${replies.length} back${replies[0] !== undefined ? ` ("${replies[0].slice(0, 40)}")` : ""}; closed${closeCode !== undefined ? ` with ${closeCode}` : ""}.`,
      exchange: {
        request: `${ws.request}${sent.join("\n")}\n→ close frame 1000`,
        response: `${reply.head}\r\n\r\n${received.join("\n")}`,
        note: ["The handshake, step by step (RFC 6455, section 4.2.2):", ...steps].join("\n"),
      },
      values,
    };
  } finally {
    ws.destroy();
  }
}

// ---- many connections, from a process of their own ------------------------------------------

type LoadMessage = LoadProgress | LoadResult | { type: "error"; message: string };

const LOAD_TIMEOUT_MS = 120_000;

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

const PHASES: Record<LoadProgress["phase"], string> = {
  open: "opened",
  broadcast: "got the broadcast",
  close: "closed",
};

/**
 * Opens `connections` WebSockets to the sandbox from a separate load process (progress as it
 * goes), reads the sandbox's memory before and after, times one broadcast to all of them, then
 * closes them and checks the server let go of every one.
 */
export async function wsLoadAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "ws-load" }>,
  target: WsTarget,
  onProgress?: (p: ExperimentProgress) => void,
): Promise<ExperimentResult> {
  const entry = sandboxEntry("ws-load");
  if (!existsSync(entry)) {
    return {
      experimentId: id,
      ok: false,
      summary: `The load program is not built (${entry} is missing): run npm run build in the project folder.`,
      values: {},
    };
  }
  const args = [
    "--host",
    target.host,
    "--port",
    String(target.port),
    "--connections",
    String(action.connections),
    "--user-agent",
    target.userAgent,
    ...(action.broadcast ? ["--broadcast"] : []),
  ];
  const child = forkWithOpenFiles(entry, args, { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  trackLoad(child);
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString("utf8")).slice(-2000);
  });
  const total = action.connections;
  onProgress?.({ done: 0, total, label: `0 of ${count(total)} WebSockets opened` });
  const outcome = await new Promise<LoadResult | { type: "error"; message: string }>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ type: "error", message: `the load did not finish in ${LOAD_TIMEOUT_MS / 1000} s` });
    }, LOAD_TIMEOUT_MS);
    child.on("message", (m: LoadMessage) => {
      if (m.type === "progress") {
        const done = m.phase === "open" ? m.done : m.done;
        const failed = m.failed > 0 ? `, ${count(m.failed)} failed` : "";
        onProgress?.({
          done: Math.min(done, m.total),
          total: m.total,
          label: `${count(done)} of ${count(m.total)} WebSockets ${PHASES[m.phase]}${failed}`,
        });
      } else {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({
        type: "error",
        message: `the load process ended (${signal ?? `exit code ${code}`})${stderr ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`,
      });
    });
  });
  if (child.exitCode === null) child.kill("SIGKILL");
  if (outcome.type === "error") {
    const refused = await refusedByServer(target);
    const why =
      refused > 0
        ? ` The server could not accept ${count(refused)} connections: it hit its open-file limit. ${await raiseHint()}`
        : " Look at the server's log, then retry.";
    return {
      experimentId: id,
      ok: false,
      summary: `The load stopped: ${outcome.message}.${why}`,
      values: refused > 0 ? { refused } : {},
    };
  }
  const r = outcome;
  const growth = Math.max(0, r.rssAfter - r.rssBefore);
  const perConnection = r.opened > 0 ? growth / r.opened : 0;
  const values: Values = {
    connections: r.total,
    opened: r.opened,
    failed: r.failed,
    openMs: r.openMs,
    kbPerConnection: Math.round((perConnection / 1024) * 10) / 10,
    rssMb: Math.round((r.rssAfter / 1024 / 1024) * 10) / 10,
    leftOpen: r.leftOpen,
    refused: r.serverRefused,
  };
  if (r.broadcastMs !== undefined) values.broadcastMs = r.broadcastMs;
  if (r.broadcastReceived !== undefined) values.broadcastReceived = r.broadcastReceived;
  const parts = [
    `${count(r.opened)} of ${count(r.total)} WebSockets open in ${(r.openMs / 1000).toFixed(1)} s`,
    `the server grew from ${(r.rssBefore / 1048576).toFixed(0)} to ${(r.rssAfter / 1048576).toFixed(0)} MB, about ${kb(perConnection)} per connection`,
  ];
  if (r.broadcastMs !== undefined) {
    parts.push(
      `one broadcast reached ${count(r.broadcastReceived ?? 0)} of them in ${r.broadcastMs < 100 ? r.broadcastMs.toFixed(1) : Math.round(r.broadcastMs)} ms`,
    );
  }
  parts.push(
    r.leftOpen === 0
      ? "all closed again, none left open"
      : `${count(r.leftOpen)} still open on the server after closing`,
  );
  let summary = `${parts.join("; ")}.`;
  if (r.failed > 0) {
    summary += ` ${count(r.failed)} could not open (${r.firstError ?? "refused"})${r.serverRefused > 0 ? `: the server hit its open-file limit and says how to raise it in its log` : ""}.`;
  }
  return { experimentId: id, ok: r.opened > 0, summary, values };
}

/**
 * Connections the server refused at its open-file limit, from its /stats (0 if unknown). Asked
 * a few times: right after the load stops, the server may still have no descriptor to answer.
 */
async function refusedByServer(target: WsTarget): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const stats = await readStats(target.host, target.port, target.userAgent, 1_500);
      return Number(stats.connections?.refused ?? 0) || 0;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  return 0;
}

/** What to do about the limit: raise it in the shell, or, when the hard limit is too low, how. */
async function raiseHint(): Promise<string> {
  const { readOpenFileLimit } = await import("../doctor/checks.js");
  const limit = await readOpenFileLimit();
  if (typeof limit !== "string" && limit.hard < 10_100) {
    return `The hard limit here is ${limit.hard}, below the 10,100 the server needs, and no shell can go above it: learn-webservers doctor says how to raise it.`;
  }
  return "Its log has one line saying so, with the ulimit -n to run before you open the lab again.";
}

// ---- long polling and WebSockets, side by side ------------------------------------------------

function median(values: number[]): number | undefined {
  return values.length === 0 ? undefined : medianOfSorted([...values].sort((a, b) => a - b));
}

function msText(ms: number | undefined): string {
  if (ms === undefined) return "-";
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `messages` chat messages `gapMs` apart and times their arrival at a WebSocket and at a
 * long-polling client that asks again after every answer, and counts the bytes each spends.
 */
export async function pollVsWsAction(
  id: string,
  action: Extract<Experiment["action"], { kind: "poll-vs-ws" }>,
  target: WsTarget,
): Promise<ExperimentResult> {
  const open = async () => {
    const ws = await RawWebSocket.connect({
      host: target.host,
      port: target.port,
      path: "/ws",
      hostHeader: target.hostPort,
      userAgent: target.userAgent,
      timeoutMs: OPEN_TIMEOUT_MS,
    });
    const reply = await ws.reply(OPEN_TIMEOUT_MS);
    if (reply?.status !== 101) {
      ws.destroy();
      throw new Error(`the WebSocket upgrade was answered ${reply?.status ?? "with nothing"}`);
    }
    return ws;
  };
  const listener = await open();
  const sender = await open().catch((err: unknown) => {
    listener.destroy();
    throw err;
  });
  const tag = `m${process.pid}-${Date.now()}-`;
  const sentAt = new Map<number, number>();
  const wsLatency = new Map<number, number>();
  const pollLatency = new Map<number, number>();
  let wsFraming = 0;
  let pollBytes = 0;
  let polls = 0;
  listener.listen((frame, at) => {
    if (frame.opcode !== 1) return;
    const n = Number(new RegExp(`${tag}(\\d+)`).exec(frame.payload.toString("utf8"))?.[1]);
    const sent = sentAt.get(n);
    if (sent === undefined || wsLatency.has(n)) return;
    wsLatency.set(n, at - sent);
    wsFraming += frame.header.length;
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let polling = true;
  let waiting: http.ClientRequest | undefined;
  const pollOnce = () =>
    new Promise<void>((resolve) => {
      const req = http.get(
        {
          host: target.host,
          port: target.port,
          path: "/poll?ms=5000",
          agent,
          headers: { "User-Agent": target.userAgent },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const at = performance.now();
            polls++;
            const body = Buffer.concat(chunks);
            const head = Object.entries(res.headers).reduce(
              (n, [k, v]) => n + k.length + String(v).length + 4,
              17,
            );
            const requestBytes = 60 + target.hostPort.length + target.userAgent.length;
            const n = Number(new RegExp(`${tag}(\\d+)`).exec(body.toString("utf8"))?.[1]);
            const sent = sentAt.get(n);
            if (sent !== undefined && !pollLatency.has(n)) {
              pollLatency.set(n, at - sent);
              pollBytes += requestBytes + head + body.length;
            }
            resolve();
          });
          res.on("error", () => resolve());
        },
      );
      waiting = req;
      req.on("error", () => resolve());
    });
  const poller = (async () => {
    while (polling) await pollOnce();
  })();

  try {
    await sleep(200);
    for (let n = 1; n <= action.messages; n++) {
      sentAt.set(n, performance.now());
      sender.sendText(`all:${tag}${n}`);
      if (action.gapMs > 0) await sleep(action.gapMs);
    }
    const deadline = Date.now() + 1_500;
    while (Date.now() < deadline && wsLatency.size < action.messages) await sleep(20);
    await sleep(300);
  } finally {
    polling = false;
    waiting?.destroy();
    agent.destroy();
    await poller;
    listener.destroy();
    await sender.close(300);
  }

  const total = action.messages;
  const wsMedian = median([...wsLatency.values()]);
  const pollMedian = median([...pollLatency.values()]);
  const missed = total - pollLatency.size;
  const perPoll = pollLatency.size > 0 ? Math.round(pollBytes / pollLatency.size) : 0;
  const perFrame = wsLatency.size > 0 ? Math.round(wsFraming / wsLatency.size) : 0;
  const values: Values = {
    messages: total,
    wsReceived: wsLatency.size,
    pollReceived: pollLatency.size,
    pollMissed: missed,
    polls,
    wsBytesPerMessage: perFrame,
    pollBytesPerMessage: perPoll,
  };
  if (wsMedian !== undefined) values.wsMedianMs = Math.round(wsMedian * 100) / 100;
  if (pollMedian !== undefined) values.pollMedianMs = Math.round(pollMedian * 100) / 100;
  const summary =
    `${total} messages ${action.gapMs} ms apart. WebSocket: ${wsLatency.size}/${total} arrived, median ${msText(wsMedian)}, ${perFrame} bytes of framing each. ` +
    `Long polling: ${pollLatency.size}/${total}, median ${msText(pollMedian)}, about ${perPoll} bytes of HTTP each (a new request per answer)` +
    (missed > 0
      ? `; ${missed} were sent while no poll was waiting, and this /poll keeps no backlog.`
      : ".");
  return { experimentId: id, ok: wsLatency.size > 0, summary, values };
}
