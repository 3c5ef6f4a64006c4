import type {
  RequestEvent,
  SandboxEvent,
  WorkerEvent,
  WorkerExitReason,
  WorkerState,
} from "../../sandboxes/shared/protocol.js";

export type { WorkerExitReason, WorkerState };

/** A row of the worker table: one worker process, alive or recently gone. */
export interface WorkerRow {
  pid: number;
  index: number;
  state: WorkerState;
  served: number;
  bootedAt: number;
  current?: { id: number; method: string; target: string; startedAt: number };
  endedAt?: number;
  reason?: WorkerExitReason;
  signal?: string;
  code?: number;
}

/** "blocked" marks the event loop itself not running (a loop lane, not a request). */
export type BarOutcome = "running" | "ok" | "error" | "timeout" | "killed" | "blocked";

/** One request on a worker's lane, from its start to its end (no end while it runs). */
export interface TimelineBar {
  requestId?: number;
  target: string;
  start: number;
  end?: number;
  outcome: BarOutcome;
  /** The response's status, once the request event arrived. */
  status?: number;
}

/** One worker process on the timeline; a respawned worker is a new lane. */
export interface WorkerLane {
  pid: number;
  /** Shown instead of the pid, for lanes that are not processes. */
  label?: string;
  index: number;
  bootedAt: number;
  endedAt?: number;
  reason?: WorkerExitReason;
  signal?: string;
  code?: number;
  /** Oldest first. The objects are never changed after they are handed out. */
  bars: TimelineBar[];
}

export interface WorkerStats {
  /** Worker processes alive (booting, idle, busy or exiting). */
  live: number;
  busy: number;
  /** Requests answered by workers since the last reset. */
  served: number;
  /** Workers started to replace one that died (timeout, kill, crash, max requests, failed boot). */
  respawns: number;
  /** Workers ended by the master's timeout (Gunicorn `--timeout`, uWSGI harakiri). */
  timeouts: number;
}

export interface WorkerModelLimits {
  /** Lanes kept, live and exited; the oldest exited lane goes first. Default 16. */
  maxLanes?: number;
  /** Bars kept per lane. Default 200. */
  maxBars?: number;
  /** Finished bars and exited lanes older than this are dropped. Default 60 s. */
  retainMs?: number;
  /** How long an exited worker stays in `rows()`. Default 10 s. */
  exitedRowMs?: number;
  /** Exited workers shown in `rows()` at most. Default 4. */
  maxExitedRows?: number;
  /** Request events kept while waiting for their worker's "busy" event. Default 32. */
  maxPending?: number;
}

/** Exits whose worker the master replaces: a new worker after one of these is a respawn. */
const REPLACED: ReadonlySet<WorkerExitReason> = new Set([
  "timeout",
  "killed",
  "crash",
  "max-requests",
  "boot-failed",
]);

/** Exits that let the current request finish: the bar keeps running until "exited". */
const GRACEFUL: ReadonlySet<WorkerExitReason> = new Set([
  "ttou",
  "reload",
  "max-requests",
  "shutdown",
]);

interface Lane {
  pid: number;
  index: number;
  bootedAt: number;
  state: WorkerState;
  served: number;
  current?: { id: number; method: string; target: string; startedAt: number };
  endedAt?: number;
  reason?: WorkerExitReason;
  signal?: string;
  code?: number;
  /** Whether this lane's exit was counted in the stats already. */
  exitCounted: boolean;
  bars: TimelineBar[];
}

interface Pending {
  event: RequestEvent;
  /** When the response was sent, epoch ms (from the event's ISO `time`). */
  end: number;
}

function outcomeOf(status: number): BarOutcome {
  return status >= 500 ? "error" : "ok";
}

/** A bar that ended without its request event yet: "ok" for now, with no status. */
function awaitingStatus(bar: TimelineBar): boolean {
  return bar.status === undefined && (bar.outcome === "running" || bar.outcome === "ok");
}

/** How a worker went away, in a few words: "timeout", "killed (SIGKILL)", "crash (exit 1)". */
export function exitLabel(row: {
  reason?: WorkerExitReason;
  signal?: string;
  code?: number;
}): string {
  const how = row.signal ? row.signal : row.code !== undefined ? `exit ${row.code}` : undefined;
  switch (row.reason) {
    case undefined:
      return how ?? "exited";
    case "killed":
    case "crash":
      return how ? `${row.reason} (${how})` : row.reason;
    case "boot-failed":
      return how ? `boot failed (${how})` : "boot failed";
    case "max-requests":
      return "max requests";
    default:
      return row.reason;
  }
}

/**
 * What the prefork lab shows about the workers, built from the sandbox's events: a row per worker
 * and a timeline lane per worker process. Pure: no clock, no I/O; times come from the events and
 * from the `now` the caller passes. Memory is bounded (lanes, bars per lane, age).
 */
export class WorkerModel {
  readonly #maxLanes: number;
  readonly #maxBars: number;
  readonly #retainMs: number;
  readonly #exitedRowMs: number;
  readonly #maxExitedRows: number;
  readonly #maxPending: number;

  /** By pid, in the order first seen. */
  #lanes = new Map<number, Lane>();
  /** Request events that arrived before their worker's "busy" (or before the worker was known). */
  #pending: Pending[] = [];
  /** The latest time an event carried, for dropping old bars. */
  #latest = 0;
  #served = 0;
  #respawns = 0;
  #timeouts = 0;
  /** Workers gone for a reason the master replaces them for, not replaced yet. */
  #unreplaced = 0;
  #version = 0;
  /**
   * Whether a request event's id ever matched the id of a "busy" event: then the sandbox numbers
   * both alike and only ids are trusted; until then, a worker's requests are also matched in order.
   */
  #idsAgree = false;

  constructor(limits: WorkerModelLimits = {}) {
    this.#maxLanes = Math.max(1, limits.maxLanes ?? 16);
    this.#maxBars = Math.max(1, limits.maxBars ?? 200);
    this.#retainMs = limits.retainMs ?? 60_000;
    this.#exitedRowMs = limits.exitedRowMs ?? 10_000;
    this.#maxExitedRows = limits.maxExitedRows ?? 4;
    this.#maxPending = limits.maxPending ?? 32;
  }

  /** Increases whenever the view changes: a cheap key for memoising what is drawn from it. */
  get version(): number {
    return this.#version;
  }

  /** Takes one event; true when the rows, lanes or stats changed. */
  push(event: SandboxEvent): boolean {
    let changed = false;
    if (event.type === "worker") changed = this.#worker(event);
    else if (event.type === "request") changed = this.#request(event);
    // "listening" from a restarted sandbox does not wipe anything: the lab calls reset() itself.
    if (changed) {
      this.#prune();
      this.#version++;
    }
    return changed;
  }

  /**
   * The sandbox (the master) is gone: its workers go with it, though nobody says so. Every
   * worker still live ends at `at`; true when there was one.
   */
  masterGone(at: number): boolean {
    let changed = false;
    for (const lane of [...this.#lanes.values()]) {
      if (lane.state === "exited") continue;
      changed =
        this.#worker({
          type: "worker",
          pid: lane.pid,
          index: lane.index,
          state: "exited",
          at,
          bootedAt: lane.bootedAt,
          served: lane.served,
          reason: "shutdown",
        }) || changed;
    }
    if (changed) {
      this.#prune();
      this.#version++;
    }
    return changed;
  }

  /** Forgets everything (the lab restarted the sandbox). */
  reset(): void {
    this.#lanes.clear();
    this.#pending = [];
    this.#latest = 0;
    this.#served = 0;
    this.#respawns = 0;
    this.#timeouts = 0;
    this.#unreplaced = 0;
    this.#idsAgree = false;
    this.#version++;
  }

  /**
   * Live workers in index then boot order, then workers that exited within the last ~10 s,
   * the most recent first (a few at most).
   */
  rows(now: number): WorkerRow[] {
    const live: Lane[] = [];
    const gone: Lane[] = [];
    for (const lane of this.#lanes.values()) {
      if (lane.state !== "exited") live.push(lane);
      else if (lane.endedAt !== undefined && now - lane.endedAt <= this.#exitedRowMs)
        gone.push(lane);
    }
    live.sort((a, b) => a.index - b.index || a.bootedAt - b.bootedAt);
    gone.sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0));
    return [...live, ...gone.slice(0, this.#maxExitedRows)].map(toRow);
  }

  /**
   * Every lane alive at or after `since` (live ones, and those that exited since), in index then
   * boot order, with the bars that end at or after `since`.
   */
  lanes(since: number): WorkerLane[] {
    const out: WorkerLane[] = [];
    for (const lane of this.#lanes.values()) {
      if (lane.endedAt !== undefined && lane.endedAt < since) continue;
      const first = lane.bars.findIndex((bar) => bar.end === undefined || bar.end >= since);
      const bars = first < 0 ? [] : lane.bars.slice(first);
      const view: WorkerLane = { pid: lane.pid, index: lane.index, bootedAt: lane.bootedAt, bars };
      if (lane.endedAt !== undefined) view.endedAt = lane.endedAt;
      if (lane.reason !== undefined) view.reason = lane.reason;
      if (lane.signal !== undefined) view.signal = lane.signal;
      if (lane.code !== undefined) view.code = lane.code;
      out.push(view);
    }
    return out.sort((a, b) => a.index - b.index || a.bootedAt - b.bootedAt);
  }

  stats(): WorkerStats {
    let live = 0;
    let busy = 0;
    for (const lane of this.#lanes.values()) {
      if (lane.state === "exited") continue;
      live++;
      if (lane.state === "busy" || (lane.state === "exiting" && lane.current)) busy++;
    }
    return {
      live,
      busy,
      served: this.#served,
      respawns: this.#respawns,
      timeouts: this.#timeouts,
    };
  }

  #worker(ev: WorkerEvent): boolean {
    this.#latest = Math.max(this.#latest, ev.at);
    let lane = this.#lanes.get(ev.pid);
    if (!lane) {
      lane = {
        pid: ev.pid,
        index: ev.index,
        bootedAt: ev.bootedAt,
        state: ev.state,
        served: 0,
        exitCounted: false,
        bars: [],
      };
      this.#add(lane);
      if (this.#unreplaced > 0 && ev.state !== "exited") {
        this.#unreplaced--;
        this.#respawns++;
      }
    } else if (lane.state === "exited") {
      return false; // nothing comes back from the dead: a late or repeated event
    }
    if (ev.served > lane.served) {
      this.#served += ev.served - lane.served;
      lane.served = ev.served;
    }
    lane.index = ev.index;
    lane.bootedAt = ev.bootedAt;
    switch (ev.state) {
      case "booting":
        lane.state = "booting";
        break;
      case "idle":
        this.#finishRunning(lane, ev.at);
        // A worker on its way out stays so, even once its last request is done.
        if (lane.state !== "exiting") lane.state = "idle";
        delete lane.current;
        break;
      case "busy":
        this.#busy(lane, ev);
        break;
      case "exiting":
      case "exited":
        this.#exit(lane, ev);
        break;
    }
    return true;
  }

  #busy(lane: Lane, ev: WorkerEvent): void {
    const req = ev.request;
    const running = lane.bars.at(-1);
    // The same request announced again: only the state changes.
    const state = lane.state === "exiting" ? "exiting" : "busy";
    if (running?.outcome === "running" && req && running.requestId === req.id) {
      lane.state = state;
      lane.current = { ...req };
      return;
    }
    this.#finishRunning(lane, ev.at); // an "idle" went missing
    lane.state = state;
    if (req) lane.current = { ...req };
    else delete lane.current;
    let bar: TimelineBar = {
      target: req?.target ?? "",
      start: req?.startedAt ?? ev.at,
      outcome: "running",
    };
    if (req) bar.requestId = req.id;
    const early = req ? this.#takePending(lane.pid, req.id) : undefined;
    if (early) bar = withStatus(bar, early.event, early.end);
    this.#addBar(lane, bar);
  }

  #exit(lane: Lane, ev: WorkerEvent): void {
    if (ev.reason !== undefined) lane.reason = ev.reason;
    const reason = lane.reason;
    const hard = reason === undefined || !GRACEFUL.has(reason);
    // A graceful stop lets the request finish; a kill or a timeout ends it here.
    if (ev.state === "exited" || hard) {
      const last = lane.bars.at(-1);
      if (last?.outcome === "running") {
        lane.bars[lane.bars.length - 1] = {
          ...last,
          end: Math.max(last.start, ev.at),
          outcome: reason === "timeout" ? "timeout" : "killed",
        };
        delete lane.current;
      }
    }
    if (!lane.exitCounted) {
      lane.exitCounted = true;
      if (reason === "timeout") this.#timeouts++;
      if (reason !== undefined && REPLACED.has(reason)) this.#unreplaced++;
    }
    if (ev.state === "exited") {
      lane.state = "exited";
      lane.endedAt = ev.at;
      delete lane.current;
      if (ev.signal !== undefined) lane.signal = ev.signal;
      if (ev.code !== undefined) lane.code = ev.code;
    } else {
      lane.state = "exiting";
    }
  }

  #request(ev: RequestEvent): boolean {
    if (ev.worker === undefined) return false;
    const parsed = Date.parse(ev.time);
    const end = Number.isFinite(parsed) ? parsed : undefined;
    if (end !== undefined) this.#latest = Math.max(this.#latest, end);
    const lane = this.#lanes.get(ev.worker);
    const i = lane ? this.#matchBar(lane, ev.id) : -1;
    const bar = lane?.bars[i];
    if (!lane || !bar) {
      this.#pending.push({ event: ev, end: end ?? this.#latest });
      if (this.#pending.length > this.#maxPending) this.#pending.shift();
      return false;
    }
    lane.bars[i] = withStatus(bar, ev, end);
    return true;
  }

  /**
   * The bar a request event belongs to: the one with its request id; else the worker's oldest bar
   * still waiting for its status, if it has no id or ids were never seen to agree (a worker
   * answers one request at a time, in order).
   */
  #matchBar(lane: Lane, id: number): number {
    const bars = lane.bars;
    for (let i = bars.length - 1; i >= 0; i--) {
      const bar = bars[i];
      if (bar?.requestId === id && bar.status === undefined) {
        this.#idsAgree = true;
        return i;
      }
    }
    for (let i = 0; i < bars.length; i++) {
      const bar = bars[i];
      if (bar && awaitingStatus(bar) && (bar.requestId === undefined || !this.#idsAgree)) return i;
    }
    return -1;
  }

  /**
   * A waiting request event of this worker with this id; any of its own (the oldest) when the bar
   * has no id, or when `loose` and ids were never seen to agree.
   */
  #takePending(pid: number, id: number | undefined, loose = false): Pending | undefined {
    let i = this.#pending.findIndex(
      (p) => p.event.worker === pid && (id === undefined || p.event.id === id),
    );
    if (i < 0 && loose && !this.#idsAgree)
      i = this.#pending.findIndex((p) => p.event.worker === pid);
    if (i < 0) return undefined;
    if (id !== undefined && this.#pending[i]?.event.id === id) this.#idsAgree = true;
    return this.#pending.splice(i, 1)[0];
  }

  /** Ends the lane's running bar, if any, at `at`: done, status to come with its request event. */
  #finishRunning(lane: Lane, at: number): void {
    const last = lane.bars.at(-1);
    if (last?.outcome !== "running") return;
    // The request is over: a request event waiting for it is its own, whatever its id.
    const early = this.#takePending(lane.pid, last.requestId, true);
    lane.bars[lane.bars.length - 1] = early
      ? withStatus(last, early.event, early.end)
      : { ...last, end: Math.max(last.start, at), outcome: "ok" };
  }

  #addBar(lane: Lane, bar: TimelineBar): void {
    lane.bars.push(bar);
    if (lane.bars.length > this.#maxBars) lane.bars.splice(0, lane.bars.length - this.#maxBars);
  }

  #add(lane: Lane): void {
    this.#lanes.set(lane.pid, lane);
    while (this.#lanes.size > this.#maxLanes) {
      let victim: Lane | undefined;
      for (const other of this.#lanes.values()) {
        if (other === lane) continue;
        if (other.state === "exited") {
          if (victim?.state !== "exited" || (other.endedAt ?? 0) < (victim.endedAt ?? 0))
            victim = other;
        } else if (!victim) {
          victim = other; // every lane is alive: the first seen goes
        }
      }
      if (!victim) break;
      this.#drop(victim.pid);
    }
  }

  #drop(pid: number): void {
    this.#lanes.delete(pid);
    this.#pending = this.#pending.filter((p) => p.event.worker !== pid);
  }

  /** Drops exited lanes, finished bars and waiting request events older than the retention. */
  #prune(): void {
    const cutoff = this.#latest - this.#retainMs;
    for (const lane of [...this.#lanes.values()]) {
      if (lane.endedAt !== undefined && lane.endedAt < cutoff) {
        this.#drop(lane.pid);
        continue;
      }
      let old = 0;
      while (old < lane.bars.length) {
        const end = lane.bars[old]?.end;
        if (end === undefined || end >= cutoff) break;
        old++;
      }
      if (old > 0) lane.bars.splice(0, old);
    }
    if (this.#pending.length > 0 && (this.#pending[0]?.end ?? cutoff) < cutoff)
      this.#pending = this.#pending.filter((p) => p.end >= cutoff);
  }
}

/** The bar with the request event's status; a running bar ends after the request's duration. */
function withStatus(bar: TimelineBar, ev: RequestEvent, end: number | undefined): TimelineBar {
  const done: TimelineBar = { ...bar, status: ev.status, outcome: outcomeOf(ev.status) };
  if (ev.durationMs >= 0 && Number.isFinite(ev.durationMs)) done.end = bar.start + ev.durationMs;
  else done.end = Math.max(bar.start, end ?? bar.end ?? bar.start);
  if (!bar.target) done.target = ev.target;
  return done;
}

function toRow(lane: Lane): WorkerRow {
  const row: WorkerRow = {
    pid: lane.pid,
    index: lane.index,
    state: lane.state,
    served: lane.served,
    bootedAt: lane.bootedAt,
  };
  if (lane.current) row.current = lane.current;
  if (lane.endedAt !== undefined) row.endedAt = lane.endedAt;
  if (lane.reason !== undefined) row.reason = lane.reason;
  if (lane.signal !== undefined) row.signal = lane.signal;
  if (lane.code !== undefined) row.code = lane.code;
  return row;
}
