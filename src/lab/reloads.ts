import type { ReloadEvent, RequestEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";

/** Which reloader watched the files: polling modification times, or the OS's file events. */
export type Reloader = ReloadEvent["reloader"];

export type ReloadState = "detecting" | "restarting" | "ready" | "failed";

/** One reload of the dev-reload sandbox: a saved file, from the save to the new code answering. */
export interface ReloadRow {
  /** The sandbox's reload number (1, 2, 3... for each sandbox process). */
  reload: number;
  reloader: Reloader;
  /** The changed file, relative to the app's folder, as the server sent it (not yet printable). */
  file: string;
  /** The file's modification time, ms since the epoch. */
  savedAt: number;
  /** When the reloader noticed the change. */
  detectedAt?: number;
  /** When the old app child was gone. */
  stoppedAt?: number;
  /** When the new code answered. */
  readyAt?: number;
  /** When the new code failed to load. */
  failedAt?: number;
  /** From the save to the new code answering (sent with "ready"; else worked out from the times). */
  latencyMs?: number;
  /** How long no app child answered (sent with "ready"; else worked out from the times). */
  downtimeMs?: number;
  /** With a failed reload: the error's last line as the server sent it, e.g. "SyntaxError: ...". */
  error?: string;
  state: ReloadState;
  /**
   * A reload still detecting or restarting that never will finish: a newer save started another
   * reload first, or the sandbox stopped.
   */
  interrupted?: boolean;
  /** Requests answered with a 5xx status while this reload was the latest and had failed. */
  errorResponses?: number;
}

/** The measured latencies of one reloader's successful reloads. */
export interface ReloaderStats {
  /** Samples (ready reloads with a latency). */
  n: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface ReloadStats {
  /** Reloads seen since the last `reset()` or `resetKeepingSamples()`. */
  count: number;
  /** Of those, the ones whose new code failed to load. */
  failed: number;
  /**
   * Latency from save to new code answering, per reloader: the "stat vs events" comparison. Kept
   * across `resetKeepingSamples()`, so both sides survive the sandbox restart that switches them.
   */
  byReloader: { stat?: ReloaderStats; events?: ReloaderStats };
}

export interface ReloadModelLimits {
  /** Reloads kept in `reloads()`; the oldest goes first. Default 50. */
  maxRows?: number;
  /** Latency samples kept per reloader; the oldest goes first. Default 100. */
  maxSamples?: number;
}

interface Row {
  /** Which sandbox process sent it (a "listening" event starts the next): numbers restart at 1. */
  run: number;
  reload: number;
  reloader: Reloader;
  file: string;
  savedAt: number;
  detectedAt?: number;
  stoppedAt?: number;
  readyAt?: number;
  failedAt?: number;
  latencyMs?: number;
  downtimeMs?: number;
  error?: string;
  errorResponses: number;
  /** Whether its latency went into the samples, and whether it was counted as failed. */
  sampled: boolean;
  failedCounted: boolean;
}

/** The middle value of sorted numbers (the mean of the two middle ones for an even count). */
export function median(sorted: readonly number[]): number {
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? upper) + upper) / 2;
}

function summarise(samples: readonly number[]): ReloaderStats | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    medianMs: median(sorted),
    minMs: sorted[0] ?? 0,
    maxMs: sorted.at(-1) ?? 0,
  };
}

/** A time or a duration from an event, when it is a usable number. */
function finite(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

function stateOf(row: Row): ReloadState {
  if (row.failedAt !== undefined && row.readyAt !== undefined)
    return row.failedAt > row.readyAt ? "failed" : "ready";
  if (row.failedAt !== undefined) return "failed";
  if (row.readyAt !== undefined) return "ready";
  if (row.stoppedAt !== undefined) return "restarting";
  return "detecting";
}

/**
 * What the dev-reload lab shows about the reloader, built from the sandbox's `reload` events: a
 * row per reload (saved, detected, stopped, ready or failed) and the latency of each reloader,
 * kept so that "stat" and "events" can be compared after the sandbox is restarted with the other
 * one. Pure: no clock, no I/O; times come from the events. Memory is bounded (rows, samples).
 *
 * Phases may arrive in any order: each one fills in its time, and the state follows from the times
 * known. A "listening" event (a restarted sandbox, whose reload numbers start again at 1) keeps
 * the rows but never merges the new reloads with the old ones.
 */
export class ReloadModel {
  readonly #maxRows: number;
  readonly #maxSamples: number;

  /** By run and reload number ("2:3"), in the order first seen. */
  #rows = new Map<string, Row>();
  #run = 0;
  /** Whether the current run's sandbox said it is stopping: its reloads in flight end there. */
  #stopped = false;
  /** The highest reload number of the current run dropped for room: late events for it are ignored. */
  #floor = 0;
  #count = 0;
  #failed = 0;
  #samples: Record<Reloader, number[]> = { stat: [], events: [] };
  #version = 0;

  constructor(limits: ReloadModelLimits = {}) {
    this.#maxRows = Math.max(1, limits.maxRows ?? 50);
    this.#maxSamples = Math.max(1, limits.maxSamples ?? 100);
  }

  /** Increases whenever the view changes: a cheap key for memoising what is drawn from it. */
  get version(): number {
    return this.#version;
  }

  /** Takes one event; true when the rows or stats changed. */
  push(event: SandboxEvent): boolean {
    let changed = false;
    switch (event.type) {
      case "reload":
        changed = this.#reload(event);
        break;
      case "request":
        changed = this.#request(event);
        break;
      case "listening":
        // A new sandbox process: its reload numbers start again.
        changed = this.#hasRunning();
        this.#newRun();
        break;
      case "stopping":
        changed = !this.#stopped && this.#hasRunning();
        this.#stopped = true;
        break;
      default:
        break;
    }
    if (changed) this.#version++;
    return changed;
  }

  /** Forgets everything, the latency samples included (the lab itself restarted). */
  reset(): void {
    this.#samples = { stat: [], events: [] };
    this.resetKeepingSamples();
  }

  /**
   * Forgets the reloads and their counts but keeps each reloader's latency samples: for a sandbox
   * restarted with the other reloader, so that the learner can compare both.
   */
  resetKeepingSamples(): void {
    this.#rows.clear();
    this.#count = 0;
    this.#failed = 0;
    this.#newRun();
    this.#version++;
  }

  /** The reloads kept, oldest first (newest last). */
  reloads(): ReloadRow[] {
    const rows = [...this.#rows.values()].sort((a, b) => a.run - b.run || a.reload - b.reload);
    return rows.map((row, i) => {
      const next = rows[i + 1];
      const ended =
        row.run < this.#run || this.#stopped || (next !== undefined && next.run === row.run);
      return toRow(row, ended);
    });
  }

  stats(): ReloadStats {
    const byReloader: ReloadStats["byReloader"] = {};
    const stat = summarise(this.#samples.stat);
    const events = summarise(this.#samples.events);
    if (stat) byReloader.stat = stat;
    if (events) byReloader.events = events;
    return { count: this.#count, failed: this.#failed, byReloader };
  }

  #newRun(): void {
    this.#run++;
    this.#stopped = false;
    this.#floor = 0;
  }

  /** Whether a reload of the current run is still in flight (a restart or a stop interrupts it). */
  #hasRunning(): boolean {
    for (const row of this.#rows.values()) {
      if (row.run !== this.#run) continue;
      const state = stateOf(row);
      if (state === "detecting" || state === "restarting") return true;
    }
    return false;
  }

  #reload(ev: ReloadEvent): boolean {
    const at = finite(ev.at);
    const savedAt = finite(ev.savedAt);
    if (at === undefined || savedAt === undefined || ev.reload <= this.#floor) return false;
    const key = `${this.#run}:${ev.reload}`;
    let row = this.#rows.get(key);
    let changed = false;
    if (!row) {
      row = {
        run: this.#run,
        reload: ev.reload,
        reloader: ev.reloader,
        file: ev.file,
        savedAt,
        errorResponses: 0,
        sampled: false,
        failedCounted: false,
      };
      this.#add(key, row);
      this.#count++;
      changed = true;
    }
    switch (ev.phase) {
      case "detected":
        changed = setOnce(row, "detectedAt", at) || changed;
        break;
      case "stopped":
        changed = setOnce(row, "stoppedAt", at) || changed;
        break;
      case "ready": {
        changed = setOnce(row, "readyAt", at) || changed;
        const latency = finite(ev.latencyMs);
        const downtime = finite(ev.downtimeMs);
        if (latency !== undefined && row.latencyMs !== latency) {
          row.latencyMs = Math.max(0, latency);
          changed = true;
        }
        if (downtime !== undefined && row.downtimeMs !== downtime) {
          row.downtimeMs = Math.max(0, downtime);
          changed = true;
        }
        break;
      }
      case "failed":
        changed = setOnce(row, "failedAt", at) || changed;
        if (ev.error !== undefined && row.error !== ev.error) {
          row.error = ev.error;
          changed = true;
        }
        if (!row.failedCounted) {
          row.failedCounted = true;
          this.#failed++;
        }
        break;
    }
    this.#sample(row);
    return changed;
  }

  /** Adds a ready reload's latency to its reloader's samples, once. */
  #sample(row: Row): void {
    if (row.sampled || row.readyAt === undefined) return;
    const latency = row.latencyMs ?? row.readyAt - row.savedAt;
    if (!Number.isFinite(latency)) return;
    row.sampled = true;
    const samples = this.#samples[row.reloader];
    samples.push(Math.max(0, latency));
    if (samples.length > this.#maxSamples) samples.splice(0, samples.length - this.#maxSamples);
  }

  /** A 5xx answered while the latest reload has failed counts against that reload. */
  #request(ev: RequestEvent): boolean {
    if (ev.status < 500) return false;
    let latest: Row | undefined;
    for (const row of this.#rows.values()) {
      if (row.run === this.#run && (!latest || row.reload > latest.reload)) latest = row;
    }
    if (!latest || latest.failedAt === undefined || stateOf(latest) !== "failed") return false;
    const end = Date.parse(ev.time);
    if (Number.isFinite(end) && end < latest.failedAt) return false;
    latest.errorResponses++;
    return true;
  }

  #add(key: string, row: Row): void {
    this.#rows.set(key, row);
    while (this.#rows.size > this.#maxRows) {
      let oldest: [string, Row] | undefined;
      for (const entry of this.#rows) {
        const [, other] = entry;
        if (
          !oldest ||
          other.run < oldest[1].run ||
          (other.run === oldest[1].run && other.reload < oldest[1].reload)
        )
          oldest = entry;
      }
      if (!oldest) break;
      this.#rows.delete(oldest[0]);
      if (oldest[1].run === this.#run) this.#floor = Math.max(this.#floor, oldest[1].reload);
    }
  }
}

type PhaseTime = "detectedAt" | "stoppedAt" | "readyAt" | "failedAt";

/** Records a phase's time the first time it is reported; true when it was new. */
function setOnce(row: Row, field: PhaseTime, at: number): boolean {
  if (row[field] !== undefined) return false;
  row[field] = at;
  return true;
}

function toRow(row: Row, ended: boolean): ReloadRow {
  const state = stateOf(row);
  const out: ReloadRow = {
    reload: row.reload,
    reloader: row.reloader,
    file: row.file,
    savedAt: row.savedAt,
    state,
  };
  if (row.detectedAt !== undefined) out.detectedAt = row.detectedAt;
  if (row.stoppedAt !== undefined) out.stoppedAt = row.stoppedAt;
  if (row.readyAt !== undefined) out.readyAt = row.readyAt;
  if (row.failedAt !== undefined) out.failedAt = row.failedAt;
  if (state === "ready" && row.readyAt !== undefined) {
    out.latencyMs = row.latencyMs ?? Math.max(0, row.readyAt - row.savedAt);
    const downFrom = row.detectedAt ?? row.stoppedAt;
    const downtime =
      row.downtimeMs ?? (downFrom !== undefined ? Math.max(0, row.readyAt - downFrom) : undefined);
    if (downtime !== undefined) out.downtimeMs = downtime;
  }
  if (row.error !== undefined) out.error = row.error;
  if (ended && (state === "detecting" || state === "restarting")) out.interrupted = true;
  if (row.errorResponses > 0) out.errorResponses = row.errorResponses;
  return out;
}
