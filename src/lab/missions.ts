import type { Matcher, Mission } from "../course/schema.js";
import type { LabEvent, MissionStatus } from "./types.js";

export const LAB_USER_AGENT_PREFIX = "learn-webservers-lab/";

export type Origin = "learner" | "lab";

/**
 * Who caused an event: requests carrying the lab's User-Agent and experiment results are the
 * lab's; any other request is the learner's. A signal the master got from the operating system
 * (the learner's `kill`) is the learner's; one sent as a control message is the lab's. A
 * WebSocket's events are the learner's unless its upgrade carried the lab's User-Agent. Other
 * events come from the sandbox the lab started, so they count as the lab's.
 */
export function originOf(event: LabEvent): Origin {
  if (event.type === "signal") return event.via === "os" ? "learner" : "lab";
  if (event.type === "websocket") {
    return event.userAgent?.startsWith(LAB_USER_AGENT_PREFIX) ? "lab" : "learner";
  }
  if (event.type !== "request") return "lab";
  const ua = lookup(event.requestHeaders, "user-agent");
  return typeof ua === "string" && ua.startsWith(LAB_USER_AGENT_PREFIX) ? "lab" : "learner";
}

function lookup(obj: unknown, key: string): unknown {
  if (obj === null || typeof obj !== "object") return undefined;
  const rec = obj as Record<string, unknown>;
  if (Object.hasOwn(rec, key)) return rec[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

/**
 * Reads a dotted path such as `requestHeaders.if-modified-since` or `values.status`. Keys are
 * matched exactly first, then ignoring case; a key that itself contains dots is found too.
 */
export function valueAt(obj: unknown, path: string): unknown {
  return walk(obj, path.split("."));
}

function walk(obj: unknown, segs: string[]): unknown {
  if (segs.length === 0) return obj;
  for (let i = segs.length; i >= 1; i--) {
    const found = lookup(obj, segs.slice(0, i).join("."));
    if (found === undefined) continue;
    const rest = walk(found, segs.slice(i));
    if (rest !== undefined) return rest;
  }
  return undefined;
}

type Scalar = string | number | boolean;

function scalarEquals(actual: unknown, expected: Scalar): boolean {
  if (actual === expected) return true;
  if (actual === undefined || actual === null || typeof actual === "object") return false;
  if (typeof expected === "number") {
    if (typeof actual !== "string" || actual.trim() === "") return false;
    return Number(actual) === expected;
  }
  if (typeof expected === "boolean") {
    return typeof actual === "string" && actual.trim().toLowerCase() === String(expected);
  }
  return String(actual) === expected;
}

function toNumber(actual: unknown): number | undefined {
  if (typeof actual === "number") return Number.isFinite(actual) ? actual : undefined;
  if (typeof actual === "string" && actual.trim() !== "") {
    const n = Number(actual);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A regex sees at most this much of a value: a long path or header cannot stall the lab. */
export const REGEX_INPUT_MAX = 2048;

const regexCache = new Map<string, RegExp | null>();

function compile(source: string): RegExp | null {
  let re = regexCache.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source);
    } catch {
      re = null;
    }
    regexCache.set(source, re);
  }
  return re;
}

/** Whether one value satisfies one matcher from a mission's `match`. */
export function matches(actual: unknown, matcher: Matcher): boolean {
  if (typeof matcher !== "object") return scalarEquals(actual, matcher);
  const present = actual !== undefined && actual !== null;
  if (matcher.present !== undefined && matcher.present !== present) return false;
  if (matcher.gte !== undefined || matcher.lte !== undefined) {
    const n = toNumber(actual);
    if (n === undefined) return false;
    if (matcher.gte !== undefined && n < matcher.gte) return false;
    if (matcher.lte !== undefined && n > matcher.lte) return false;
  }
  if (matcher.regex !== undefined) {
    if (!present || typeof actual === "object") return false;
    const re = compile(matcher.regex);
    if (!re?.test(String(actual).slice(0, REGEX_INPUT_MAX))) return false;
  }
  if (matcher.oneOf !== undefined && !matcher.oneOf.some((m) => scalarEquals(actual, m))) {
    return false;
  }
  return true;
}

/** Whether an event passes a mission's `event`, `from` and `match` (not its count). */
export function eventMatches(mission: Mission, event: LabEvent): boolean {
  const { when } = mission;
  if (event.type !== when.event) return false;
  if (when.from !== "any" && originOf(event) !== when.from) return false;
  for (const [path, matcher] of Object.entries(when.match)) {
    if (!matches(valueAt(event, path), matcher)) return false;
  }
  return true;
}

interface Tracked {
  mission: Mission;
  met: boolean;
  seen: number;
  distinct: Set<string>;
}

/** Checks missions against the lab's event stream. Pure: no I/O, no clocks. */
export class MissionTracker {
  readonly #tracked: Tracked[];

  constructor(missions: Mission[], alreadyMet: Iterable<string>) {
    const met = new Set(alreadyMet);
    this.#tracked = missions.map((mission) => ({
      mission,
      met: met.has(mission.id),
      seen: 0,
      distinct: new Set<string>(),
    }));
  }

  /** Feeds one event; returns the ids of the missions this event completed. */
  push(event: LabEvent): string[] {
    const newlyMet: string[] = [];
    for (const t of this.#tracked) {
      if (t.met || !eventMatches(t.mission, event)) continue;
      const { distinct, count } = t.mission.when;
      if (distinct !== undefined) {
        const value = valueAt(event, distinct);
        if (value === undefined || value === null) continue;
        t.distinct.add(typeof value === "object" ? JSON.stringify(value) : String(value));
      } else {
        t.seen++;
      }
      if (this.#progress(t) >= count) {
        t.met = true;
        newlyMet.push(t.mission.id);
      }
    }
    return newlyMet;
  }

  #progress(t: Tracked): number {
    return t.mission.when.distinct !== undefined ? t.distinct.size : t.seen;
  }

  isMet(id: string): boolean {
    return this.#tracked.some((t) => t.mission.id === id && t.met);
  }

  status(): MissionStatus[] {
    return this.#tracked.map((t) => {
      const needed = t.mission.when.count;
      return {
        id: t.mission.id,
        title: t.mission.title,
        hint: t.mission.hint,
        met: t.met,
        progress: t.met ? needed : Math.min(this.#progress(t), needed),
        needed,
      };
    });
  }
}
