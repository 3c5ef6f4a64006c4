import { readFileSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import * as z from "zod/mini";
import { writeFileAtomic } from "../atomic-write.js";
import { safeText } from "../course/control.js";
import type { ProgressChange, ProgressStore } from "../progress/store.js";
import { hasMembership, membershipPath } from "./membership.js";
import {
  type ClassroomEvent,
  checkName,
  eventSchema,
  joinResponseSchema,
  type LessonState,
  LIMITS,
  type NewEvent,
  normalizeCode,
} from "./protocol.js";

/** Retries slow down to one every 5 s while the host is away: cheap on a room's network. */
const MAX_RETRY_MS = 5_000;
/** The least time between two posts. */
const MIN_GAP_MS = 200;
/** Events kept while the host cannot be reached; past this they are folded into one sync. */
export const QUEUE_LIMIT = 500;

const statusSchema = z.object({
  state: z.enum(["joining", "connected", "offline", "refused"]),
  at: z.number(),
  message: z.optional(z.string()),
});

const membershipSchema = z.object({
  version: z.literal(1),
  url: z.string(),
  code: z.string(),
  name: z.string(),
  learner: z.optional(z.string()),
  token: z.optional(z.string()),
  nextSeq: z.int().check(z.minimum(1)),
  queue: z.array(eventSchema),
  status: statusSchema,
  sentAt: z.optional(z.number()),
});

/** A learner's place in a classroom, kept beside progress.json so it outlives the app. */
export type Membership = z.infer<typeof membershipSchema>;
export type JoinStatus = Membership["status"];

export function readMembership(home: string): Membership | undefined {
  try {
    const parsed = membershipSchema.safeParse(
      JSON.parse(readFileSync(membershipPath(home), "utf8")),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeMembership(home: string, m: Membership): void {
  writeFileAtomic(membershipPath(home), `${JSON.stringify(m, null, 1)}\n`, 0o600);
}

export function leaveRoom(home: string): Membership | undefined {
  const m = readMembership(home);
  rmSync(membershipPath(home), { force: true });
  return m;
}

/** The host's base URL: http or https, no path, query or credentials. */
export function checkHostUrl(
  raw: string,
): { ok: true; url: string } | { ok: false; problem: string } {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    return {
      ok: false,
      problem: `'${raw}' is not a URL; give the one the instructor shows, e.g. http://192.168.1.20:8123`,
    };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return {
      ok: false,
      problem: `the URL must start with http:// or https://, not ${url.protocol}//`,
    };
  }
  if (url.username || url.password)
    return { ok: false, problem: "the URL must not hold a user name or password" };
  return { ok: true, url: url.origin };
}

export interface JoinRequest {
  url: string;
  code: string;
  name: string;
}

/**
 * Records that this learner joins the room at `url`: checked locally, nothing is sent yet. The
 * same room, code and name keep the learner's token and queue; anything else starts afresh.
 */
export function joinRoom(home: string, req: JoinRequest, now = Date.now()): Membership {
  const url = checkHostUrl(req.url);
  if (!url.ok) throw new Error(url.problem);
  const code = normalizeCode(req.code);
  if (!/^[A-Z0-9]{4,32}$/.test(code)) {
    throw new Error(
      `'${req.code}' is not a join code; it is the 6 letters and digits the instructor shows`,
    );
  }
  const name = checkName(req.name);
  if (!name.ok) throw new Error(`${name.problem}; give a name of 1 to ${LIMITS.name} characters`);
  const old = readMembership(home);
  if (old && old.url === url.url && old.code === code && old.name === name.name) {
    if (old.status.state === "refused") {
      old.status = { state: "joining", at: now };
      writeMembership(home, old);
    }
    return old;
  }
  const fresh: Membership = {
    version: 1,
    url: url.url,
    code,
    name: name.name,
    nextSeq: 1,
    queue: [],
    status: { state: "joining", at: now },
  };
  writeMembership(home, fresh);
  return fresh;
}

function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

/** The classroom link in a few words, and whether it goes well (false: warn). */
export interface ClassroomStatus {
  text: string;
  ok: boolean;
}

/** What the course map needs of a classroom link: a join client, or a refusal that stands. */
export interface ClassroomLink {
  status(): ClassroomStatus;
  /** Calls `listener` on every change; returns an undo. */
  subscribe(listener: () => void): () => void;
}

/**
 * An offline status whose message says the host answered but does not take events ("the host
 * is busy: the room is full", "the host asked to slow down"), rather than that it is unreachable.
 */
function hostAnswered(message: string | undefined): message is string {
  return message !== undefined && /^the host\b/.test(message);
}

/** One line on how the classroom link is doing, for `progress` and the notices. */
export function describeMembership(m: Membership): string {
  const who = `${m.url} as ${m.name}`;
  const waiting = m.queue.length;
  const events = `${waiting} ${waiting === 1 ? "event waits" : "events wait"}`;
  switch (m.status.state) {
    case "refused":
      return `Classroom: ${who}: ${m.status.message ?? "the host refused to let you join"}. Join again with the right --code, or stop with: learn-webservers classroom leave`;
    case "offline":
      return hostAnswered(m.status.message)
        ? `Classroom: ${who}: ${m.status.message} (since ${clock(m.status.at)}); ${events}, sent as soon as it takes them.`
        : `Classroom: ${who}: the host cannot be reached (${m.status.message ?? "no answer"}, since ${clock(m.status.at)}); ${events}, sent when it is back.`;
    case "joining":
      return `Classroom: ${who}: not joined yet${waiting ? `; ${events}` : ""}; it joins when you next open the course.`;
    case "connected":
      return waiting > 0
        ? `Classroom: joined ${who}; ${events} to be sent.`
        : `Classroom: joined ${who}; everything sent${m.sentAt ? ` (last at ${clock(m.sentAt)})` : ""}.`;
  }
}

/** "10:02" today, "25 Nov 10:02" on another day. */
function since(ms: number, now = Date.now()): string {
  const at = new Date(ms);
  const time = clock(ms).slice(0, 5);
  if (at.toDateString() === new Date(now).toDateString()) return time;
  const month = at.toLocaleString("en-GB", { month: "short" });
  return `${at.getDate()} ${month} ${time}`;
}

/** The classroom link in a few words, for the course map: short enough for 80 columns. */
export function classroomLine(m: Membership): ClassroomStatus {
  const waiting = m.queue.length;
  const events =
    waiting > 0 ? ` · ${waiting} ${waiting === 1 ? "event waits" : "events wait"}` : "";
  const host = m.url.replace(/^https?:\/\//, "");
  switch (m.status.state) {
    case "refused":
      return {
        text: `Classroom: not joined, ${m.status.message ?? "the host refused"}`,
        ok: false,
      };
    case "offline": {
      const then = since(m.status.at);
      return hostAnswered(m.status.message)
        ? { text: `Classroom: ${m.status.message} (since ${then})${events}`, ok: false }
        : { text: `Classroom: host out of reach since ${then}${events}`, ok: false };
    }
    case "joining":
      return { text: `Classroom: joining ${host} as ${m.name}...`, ok: true };
    case "connected":
      return {
        text: `Classroom: joined ${host} as ${m.name} · ${waiting > 0 ? `${waiting} to send` : "progress sent"}`,
        ok: true,
      };
  }
}

function lessonStateOf(p: ProgressStore["data"]["lessons"][string]): LessonState {
  return {
    pagesRead: p.pagesRead.slice(0, LIMITS.pagesPerLesson),
    pageCount: p.pageCount,
    missions: p.missionsMet.slice(0, LIMITS.missionsPerLesson),
    labOpened: p.labOpened,
    ...(p.quiz ? { quiz: { ...p.quiz } } : {}),
  };
}

/** The learner's whole progress as one event: the host replaces what it had with it. */
export function syncEvent(progress: ProgressStore, at = Date.now()): NewEvent {
  const data = progress.data;
  const lessons: Record<string, LessonState> = {};
  for (const [id, p] of Object.entries(data.lessons).slice(0, LIMITS.lessons)) {
    lessons[id] = lessonStateOf(p);
  }
  const last = data.last;
  const exam = data.exam;
  return {
    type: "sync",
    at,
    lessons,
    ...(last && last.screen !== "map"
      ? { position: { lesson: last.lessonId, screen: last.screen, page: last.page } }
      : {}),
    ...(exam
      ? {
          exam: {
            best: exam.best,
            last: exam.last,
            attempts: Math.min(exam.attempts, LIMITS.count),
            passed: exam.passed,
          },
        }
      : {}),
  };
}

export function eventOf(change: ProgressChange, at = Date.now()): NewEvent {
  switch (change.kind) {
    case "page":
      return {
        type: "page",
        at,
        lesson: change.lessonId,
        page: change.page,
        pageCount: change.pageCount,
      };
    case "lab":
      return { type: "lab", at, lesson: change.lessonId };
    case "mission":
      return { type: "mission", at, lesson: change.lessonId, mission: change.missionId };
    case "quiz":
      return {
        type: "quiz",
        at,
        lesson: change.lessonId,
        score: change.score,
        passed: change.passed,
      };
    case "exam":
      return { type: "exam", at, score: change.score, passed: change.passed };
    case "position": {
      const p = change.position;
      return {
        type: "position",
        at,
        position: { lesson: p.lessonId, screen: p.screen, page: p.page },
      };
    }
    case "reset":
      return change.lessonId === undefined
        ? { type: "reset", at }
        : { type: "reset", at, lesson: change.lessonId };
  }
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** One POST with a JSON body; rejects on a network error or after `timeoutMs`. */
function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Reply> {
  const payload = Buffer.from(JSON.stringify(body));
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        agent: false,
        headers: {
          "Content-Type": "application/json",
          "Content-Length": String(payload.length),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= LIMITS.body) chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on("error", reject);
      },
    );
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(payload);
  });
}

function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? (error instanceof Error ? error.message : String(error));
}

function replyError(reply: Reply): string {
  const message = (reply.body as { error?: unknown } | undefined)?.error;
  // Whatever answers at the URL writes this text, shown in the learner's terminal.
  return typeof message === "string"
    ? safeText(message.slice(0, 200)).replace(/\s+/g, " ")
    : `HTTP ${reply.status}`;
}

export interface ClientOptions {
  /** How long one request may take. */
  timeoutMs?: number;
  /** An empty post this often keeps the learner shown as present. */
  heartbeatMs?: number;
  /** First retry delay after a failure; it doubles up to 5 s. */
  retryMs?: number;
}

/**
 * Sends the learner's progress events to the classroom host in the background. Every event goes
 * to the queue in the membership file first, so nothing is lost when the host or this app stops;
 * nothing here ever throws into the course or makes it wait.
 */
export class JoinClient implements ClassroomLink {
  readonly home: string;
  readonly #progress: ProgressStore;
  readonly #timeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #retryMs: number;
  #m: Membership;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #again = false;
  #failures = 0;
  #stopped = false;
  #left = false;
  #lastSend = 0;
  readonly #listeners = new Set<() => void>();

  constructor(
    home: string,
    membership: Membership,
    progress: ProgressStore,
    opts: ClientOptions = {},
  ) {
    this.home = home;
    this.#m = membership;
    this.#progress = progress;
    this.#timeoutMs = opts.timeoutMs ?? 2_000;
    this.#heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.#retryMs = opts.retryMs ?? 1_000;
  }

  get membership(): Membership {
    return this.#m;
  }

  /** How the link goes, in a line for the course map. */
  status(): ClassroomStatus {
    if (this.#left) return { text: "Classroom: you left the room", ok: true };
    return classroomLine(this.#m);
  }

  /** Calls `listener` whenever the membership changes (status, events waiting); returns an undo. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Queues the learner's current progress and starts listening and sending. */
  start(): void {
    this.#enqueue(syncEvent(this.#progress));
    this.#unsubscribe = this.#progress.onChange((change) => this.#enqueue(eventOf(change)));
    this.#schedule(0);
  }

  /** Stops listening; one last try to send what waits, within `timeoutMs`. */
  async stop(timeoutMs = 700): Promise<void> {
    this.#unsubscribe?.();
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sending;
    if (this.#m.queue.length > 0 && this.#m.status.state !== "refused") {
      await this.#send(timeoutMs).catch(() => {});
    }
  }

  /** Sends what waits now and resolves when done (or failed), for tests and `stop`. */
  async flush(): Promise<void> {
    if (this.#sending) await this.#sending;
    this.#sending = this.#send(this.#timeoutMs).finally(() => {
      this.#sending = undefined;
    });
    await this.#sending;
  }

  /** Reads the membership file again; false once the learner has left the room. */
  #reload(): boolean {
    if (this.#left) return false;
    if (!hasMembership(this.home)) {
      // `classroom leave` from another terminal: stop sending.
      this.#left = true;
      this.#stopped = true;
      this.#unsubscribe?.();
      this.#m.queue = [];
      this.#notify();
      return false;
    }
    const fresh = readMembership(this.home);
    // Another window of the course may have sent or queued events since.
    if (fresh && fresh.url === this.#m.url && fresh.name === this.#m.name) this.#m = fresh;
    return true;
  }

  #save(): void {
    if (this.#left) return;
    try {
      writeMembership(this.home, this.#m);
    } catch {
      // Kept in memory; the next change tries to write the file again.
    }
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {}
    }
  }

  #enqueue(event: NewEvent): void {
    try {
      if (!this.#reload()) return;
      const numbered = { ...event, seq: this.#m.nextSeq } as ClassroomEvent;
      if (!eventSchema.safeParse(numbered).success) return;
      this.#m.nextSeq += 1;
      if (this.#m.queue.length >= QUEUE_LIMIT) {
        // Too much waits: one sync now says all of it.
        this.#m.queue = [
          { ...syncEvent(this.#progress, event.at), seq: numbered.seq } as ClassroomEvent,
        ];
      } else {
        this.#m.queue.push(numbered);
      }
      this.#save();
      if (!this.#stopped) this.#schedule(0);
    } catch {
      // The course goes on whatever happens to the classroom link.
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#sending) {
      this.#again = true;
      return;
    }
    if (this.#timer) {
      if (ms > 0) return;
      clearTimeout(this.#timer);
    }
    // A burst of changes (pages flipped fast) goes in one post, well inside the host's rate limit.
    const wait = Math.max(ms, this.#lastSend + MIN_GAP_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#lastSend = Date.now();
      this.#sending = this.#send(this.#timeoutMs)
        .catch(() => {})
        .finally(() => {
          this.#sending = undefined;
          const again = this.#again;
          this.#again = false;
          if (this.#m.status.state === "refused") return;
          if (again || (this.#failures === 0 && this.#m.queue.length > 0)) this.#schedule(0);
          else if (this.#failures > 0) {
            this.#schedule(Math.min(MAX_RETRY_MS, this.#retryMs * 2 ** (this.#failures - 1)));
          } else this.#schedule(this.#heartbeatMs);
        });
    }, wait);
    this.#timer.unref();
  }

  #setStatus(status: JoinStatus): void {
    this.#m.status = status;
    this.#save();
  }

  async #send(timeoutMs: number): Promise<void> {
    if (!this.#reload() || this.#m.status.state === "refused") return;
    try {
      if (!this.#m.learner || !this.#m.token) {
        const joined = await this.#join(timeoutMs);
        if (!joined) return;
      }
      const batch = this.#m.queue.slice(0, LIMITS.batch);
      const reply = await postJson(
        `${this.#m.url}/api/learners/${encodeURIComponent(this.#m.learner ?? "")}/events`,
        { code: this.#m.code, sentAt: Date.now(), events: batch },
        { Authorization: `Bearer ${this.#m.token}` },
        timeoutMs,
      );
      this.#reload();
      if (reply.status === 200) {
        const acked = Number((reply.body as { acked?: unknown } | undefined)?.acked);
        const upTo = Number.isFinite(acked) ? acked : (batch.at(-1)?.seq ?? 0);
        this.#m.queue = this.#m.queue.filter((e) => e.seq > upTo);
        this.#m.sentAt = Date.now();
        this.#failures = 0;
        this.#setStatus({ state: "connected", at: Date.now() });
      } else if (reply.status === 401 || reply.status === 403 || reply.status === 404) {
        // The host does not know this learner (a new room file): join again, then say it all.
        delete this.#m.learner;
        delete this.#m.token;
        this.#m.queue = [
          { ...syncEvent(this.#progress), seq: this.#m.nextSeq++ } as ClassroomEvent,
        ];
        this.#setStatus({ state: "joining", at: Date.now(), message: replyError(reply) });
        this.#again = true;
      } else if (reply.status === 400 || reply.status === 413) {
        // This batch can never be taken: drop it rather than block everything behind it.
        const last = batch.at(-1)?.seq ?? 0;
        this.#m.queue = this.#m.queue.filter((e) => e.seq > last);
        this.#setStatus({ state: "connected", at: Date.now(), message: replyError(reply) });
      } else if (reply.status === 429) {
        // Reachable, only busy: wait (the backoff), keep the status.
        this.#failures += 1;
      } else {
        this.#offline(replyError(reply));
      }
    } catch (error) {
      this.#offline(errorText(error));
    }
  }

  #offline(message: string): void {
    this.#failures += 1;
    const since = this.#m.status.state === "offline" ? this.#m.status.at : Date.now();
    this.#setStatus({ state: "offline", at: since, message });
  }

  async #join(timeoutMs: number): Promise<boolean> {
    const reply = await postJson(
      `${this.#m.url}/api/join`,
      { code: this.#m.code, name: this.#m.name },
      {},
      timeoutMs,
    );
    this.#reload();
    if (reply.status === 201) {
      const parsed = joinResponseSchema.safeParse(reply.body);
      if (!parsed.success) {
        this.#offline("the host's answer was not a classroom's");
        return false;
      }
      this.#m.learner = parsed.data.learner;
      this.#m.token = parsed.data.token;
      this.#failures = 0;
      this.#setStatus({ state: "connected", at: Date.now() });
      return true;
    }
    if (reply.status === 403 || reply.status === 400) {
      this.#setStatus({
        state: "refused",
        at: Date.now(),
        message: `the host refused to let you join: ${replyError(reply)}`,
      });
      return false;
    }
    this.#offline(
      reply.status === 429
        ? "the host asked to slow down"
        : reply.status === 503
          ? `the host is busy: ${replyError(reply)}`
          : replyError(reply),
    );
    return false;
  }
}
