import type {
  ConnectionsEvent,
  LoopEvent,
  RequestEvent,
  SandboxEvent,
  WebSocketEvent,
} from "../../sandboxes/shared/protocol.js";
import { type HandshakeMath, handshakeSteps } from "./handshake.js";
import { originOf } from "./missions.js";
import type { TimelineBar, WorkerLane } from "./workers.js";

/** How far back the gauges' history and the timeline reach. */
export const LOOP_HISTORY_MS = 60_000;
/** Lanes of concurrent requests; more at once share the least busy lane. */
export const REQUEST_LANES = 10;
/** A loop delay at least this long is drawn as the loop being blocked. */
export const BLOCKED_MS = 50;
/** The loop lane's number on the timeline (request lanes count from 1). */
export const LOOP_LANE = 0;

export interface LoopHandshake {
  id: number;
  at: number;
  /** The learner's own client (a browser, websocat), not one of the lab's. */
  learner: boolean;
  origin?: string;
  math: HandshakeMath;
}

/** What the event-loop view shows, folded from the async sandbox's events. */
export interface LoopView {
  connections?: ConnectionsEvent;
  /** The most WebSockets open at once since the server started. */
  peakWebsockets: number;
  delay?: LoopEvent;
  /** Each loop sample's worst delay in the last minute, oldest first. */
  delays: { at: number; maxMs: number }[];
  /** The loop's own lane (blocked periods) first, then one lane per concurrent request. */
  lanes: WorkerLane[];
  handshake?: LoopHandshake;
  messages: number;
  lastMessage?: { id: number; text: string; learner: boolean; recipients: number };
  /** Changes whenever anything above does. */
  version: number;
}

interface Slot {
  bars: TimelineBar[];
  lastEnd: number;
}

/** Folds the connections, loop, websocket and request events of one async sandbox. */
export class LoopModel {
  #connections: ConnectionsEvent | undefined;
  #peak = 0;
  #delay: LoopEvent | undefined;
  #delays: { at: number; maxMs: number }[] = [];
  #blocked: TimelineBar[] = [];
  #slots: Slot[] = [];
  #handshake: LoopHandshake | undefined;
  #messages = 0;
  #lastMessage: LoopView["lastMessage"];
  #version = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get version(): number {
    return this.#version;
  }

  reset(): void {
    this.#connections = undefined;
    this.#peak = 0;
    this.#delay = undefined;
    this.#delays = [];
    this.#blocked = [];
    this.#slots = [];
    this.#version++;
  }

  /** Takes one event; true when the view changed. */
  push(event: SandboxEvent): boolean {
    switch (event.type) {
      case "connections":
        this.#connections = event;
        this.#peak = Math.max(this.#peak, event.websockets);
        break;
      case "loop":
        this.#loop(event);
        break;
      case "websocket":
        this.#websocket(event);
        break;
      case "request":
        this.#request(event);
        break;
      default:
        return false;
    }
    this.#version++;
    return true;
  }

  #loop(event: LoopEvent): void {
    this.#delay = event;
    const since = event.at - LOOP_HISTORY_MS;
    this.#delays.push({ at: event.at, maxMs: event.maxMs });
    while ((this.#delays[0]?.at ?? since) < since) this.#delays.shift();
    if (event.maxMs >= BLOCKED_MS) {
      const start = event.at - event.maxMs;
      const last = this.#blocked.at(-1);
      // One long block may be reported by two samples; they are one bar.
      if (last?.end !== undefined && start <= last.end) {
        this.#blocked[this.#blocked.length - 1] = { ...last, end: Math.max(last.end, event.at) };
      } else {
        this.#blocked.push({
          target: "blocked",
          start,
          end: event.at,
          outcome: "blocked",
        });
      }
    }
    while ((this.#blocked[0]?.end ?? since) < since) this.#blocked.shift();
  }

  #websocket(event: WebSocketEvent): void {
    const learner = originOf(event) === "learner";
    if (event.phase === "open" && event.handshake) {
      this.#handshake = {
        id: event.id,
        at: event.at,
        learner,
        ...(event.origin !== undefined ? { origin: event.origin } : {}),
        math: event.handshake,
      };
    }
    if (event.phase === "message" && event.message) {
      this.#messages += 1 + (event.skipped ?? 0);
      this.#lastMessage = {
        id: event.id,
        text: event.message.text,
        learner,
        recipients: event.message.recipients,
      };
    }
  }

  #request(event: RequestEvent): void {
    // The sandbox's own clock: an event sent just before the loop blocks again arrives late.
    const sent = Date.parse(event.time);
    const end = Number.isFinite(sent) ? sent : this.#now();
    const start = end - Math.max(0, event.durationMs);
    const bar: TimelineBar = {
      requestId: event.id,
      target: event.target,
      start,
      end,
      outcome: event.status >= 500 ? "error" : "ok",
      status: event.status,
    };
    const since = end - LOOP_HISTORY_MS;
    for (const slot of this.#slots) {
      while ((slot.bars[0]?.end ?? since) < since) slot.bars.shift();
    }
    let slot = this.#slots.find((s) => s.lastEnd <= start + 1);
    if (!slot && this.#slots.length < REQUEST_LANES) {
      slot = { bars: [], lastEnd: 0 };
      this.#slots.push(slot);
    }
    slot ??= this.#slots.reduce((a, b) => (b.lastEnd < a.lastEnd ? b : a));
    slot.bars = [...slot.bars, bar];
    slot.lastEnd = Math.max(slot.lastEnd, end);
  }

  view(): LoopView {
    const lanes: WorkerLane[] = [
      { pid: LOOP_LANE, label: "loop", index: 0, bootedAt: 0, bars: [...this.#blocked] },
      ...this.#slots
        .map((slot, i) => ({
          pid: i + 1,
          label: `#${i + 1}`,
          index: i + 1,
          bootedAt: 0,
          bars: slot.bars,
        }))
        .filter((lane) => lane.bars.length > 0),
    ];
    return {
      ...(this.#connections ? { connections: this.#connections } : {}),
      peakWebsockets: this.#peak,
      ...(this.#delay ? { delay: this.#delay } : {}),
      delays: [...this.#delays],
      lanes,
      ...(this.#handshake ? { handshake: this.#handshake } : {}),
      messages: this.#messages,
      ...(this.#lastMessage ? { lastMessage: this.#lastMessage } : {}),
      version: this.#version,
    };
  }
}

/** "10,000": a count as the lab writes it. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

export function delayText(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** "1,000 WebSockets · 2 HTTP · 1 long poll" and the peak and refusals when there are any. */
export function connectionsText(view: LoopView): string {
  const c = view.connections;
  if (!c) return "no connection yet";
  const parts = [
    `${count(c.websockets)} WebSocket${c.websockets === 1 ? "" : "s"}`,
    `${count(c.http)} HTTP`,
    `${count(c.polls)} long poll${c.polls === 1 ? "" : "s"}`,
  ];
  if (view.peakWebsockets > c.websockets) parts.push(`peak ${count(view.peakWebsockets)}`);
  if (c.refused > 0) parts.push(`${count(c.refused)} refused`);
  return parts.join(" · ");
}

/** The lines of the handshake part: its origin line, then the steps when there is room. */
export function handshakeLines(view: LoopView, room: number): string[] {
  const h = view.handshake;
  if (!h || room <= 0) return [];
  const who = h.learner ? "your client" : "the lab";
  const head = `Handshake of WebSocket #${h.id} (${who}${h.origin ? `, Origin ${h.origin}` : ""}):`;
  if (room < 5) {
    return [`${head} key ${h.math.key} → accept ${h.math.accept}`];
  }
  return [head, ...handshakeSteps(h.math).map((s) => `  ${s}`)];
}
