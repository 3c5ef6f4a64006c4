import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { roomCsv } from "./csv.js";
import { dashboardPage } from "./dashboard.js";
import {
  checkName,
  eventsRequestSchema,
  joinRequestSchema,
  LIMITS,
  newSecret,
  normalizeCode,
} from "./protocol.js";
import { applyEvents, type LearnerRecord, type RoomData, roomView } from "./room.js";
import { RoomWriter } from "./room-file.js";

/** A token bucket: `capacity` at once, refilled at `perSecond`. */
function isLoopbackAddress(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

class Bucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    now: number,
  ) {
    this.#tokens = capacity;
    this.#at = now;
  }
  /** Seconds until a token is free: 0 when one is free now. */
  wait(now: number): number {
    this.#tokens = Math.min(
      this.capacity,
      this.#tokens + ((now - this.#at) / 1000) * this.perSecond,
    );
    this.#at = now;
    return this.#tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - this.#tokens) / this.perSecond));
  }
  /** Takes a token when one is free; returns what `wait` returned. */
  take(now: number): number {
    const wait = this.wait(now);
    if (wait === 0) this.#tokens -= 1;
    return wait;
  }
}

/** One bucket per client, bounded: past 10,000 clients everyone is forgotten at once. */
class Buckets {
  readonly #map = new Map<string, Bucket>();
  constructor(
    readonly capacity: number,
    readonly perSecond: number,
  ) {}
  #get(id: string, now: number): Bucket {
    let bucket = this.#map.get(id);
    if (!bucket) {
      if (this.#map.size >= 10_000) this.#map.clear();
      bucket = new Bucket(this.capacity, this.perSecond, now);
      this.#map.set(id, bucket);
    }
    return bucket;
  }
  wait(id: string, now: number): number {
    return this.#get(id, now).wait(now);
  }
  take(id: string, now: number): number {
    return this.#get(id, now).take(now);
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Compares two secrets in constant time (their hashes have the same length). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function bearer(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

export interface HostOptions {
  room: RoomData;
  /** The data file; every change is written there (atomically) soon after it is made. */
  dataPath: string;
  onJoin?(learner: LearnerRecord, count: number): void;
  onSaveError?(error: unknown): void;
  now?: () => number;
}

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

/** The classroom host: the join and event API for learners, the dashboard and export for the instructor. */
export class ClassroomHost {
  readonly server: Server;
  readonly room: RoomData;
  readonly #writer: RoomWriter;
  readonly #opts: HostOptions;
  readonly #now: () => number;
  readonly #byId = new Map<string, LearnerRecord>();
  readonly #learnerBuckets = new Buckets(20, 5);
  readonly #joinBucket: Bucket;
  readonly #failures = new Buckets(20, 0.5);
  /** Joins per address (each laptop of a room has its own on the local network). */
  readonly #joinsByAddress = new Buckets(5, 1 / 30);
  readonly #streams = new Set<ServerResponse>();
  #broadcastTimer: NodeJS.Timeout | undefined;
  #lastBroadcast = 0;
  readonly #keepAlive: NodeJS.Timeout;
  #joinCommand = "";

  constructor(opts: HostOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.room = opts.room;
    for (const learner of this.room.learners) this.#byId.set(learner.id, learner);
    this.#joinBucket = new Bucket(120, 2, this.#now());
    this.#writer = new RoomWriter(
      opts.dataPath,
      () => this.room,
      (error) => opts.onSaveError?.(error),
    );
    this.server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => this.#fail(res, error));
    });
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 5_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 50;
    this.server.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
    this.#keepAlive = setInterval(() => {
      for (const res of this.#streams) res.write(": keep-alive\n\n");
    }, 15_000);
    this.#keepAlive.unref();
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** The command learners type, shown on the dashboard (known once the port is). */
  setJoinCommand(text: string): void {
    this.#joinCommand = text;
  }

  /** Stops accepting, ends the dashboards' streams and writes what is not saved yet. */
  async close(): Promise<void> {
    clearInterval(this.#keepAlive);
    if (this.#broadcastTimer) clearTimeout(this.#broadcastTimer);
    for (const res of this.#streams) res.end();
    this.#streams.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.#writer.flush();
  }

  #changed(): void {
    this.#writer.touch();
    this.#scheduleBroadcast();
  }

  /**
   * Dashboards get the room at most every 100 ms plus 2 ms per learner (a quarter of a second for
   * 60), and at once after a quiet spell: a big room is sent less often, never in a flood.
   */
  #scheduleBroadcast(): void {
    if (this.#broadcastTimer || this.#streams.size === 0) return;
    const every = 100 + 2 * this.room.learners.length;
    const wait = Math.max(0, this.#lastBroadcast + every - this.#now());
    this.#broadcastTimer = setTimeout(() => {
      this.#broadcastTimer = undefined;
      this.#lastBroadcast = this.#now();
      const message = this.#roomMessage();
      for (const res of this.#streams) res.write(message);
    }, wait);
  }

  #roomMessage(): string {
    return `event: room\ndata: ${JSON.stringify(this.#instructorView())}\n\n`;
  }

  #instructorView() {
    return {
      ...roomView(this.room, this.#now()),
      join: { code: this.room.code, command: this.#joinCommand },
    };
  }

  #clientId(req: IncomingMessage): string {
    return req.socket.remoteAddress ?? "unknown";
  }

  /** Refuses at once a client that failed too often (a guessed code, key or token). */
  #checkFailures(req: IncomingMessage): void {
    const wait = this.#failures.wait(this.#clientId(req), this.#now());
    if (wait > 0) {
      throw new HttpError(429, "too many failed attempts; wait and try again", {
        "Retry-After": String(wait),
      });
    }
  }

  #failed(req: IncomingMessage, status: number, message: string): HttpError {
    this.#failures.take(this.#clientId(req), this.#now());
    return new HttpError(status, message);
  }

  #instructor(req: IncomingMessage, url: URL): void {
    const given = bearer(req) ?? url.searchParams.get("key") ?? undefined;
    // The key is long and random: the right one always gets in, even from an address that
    // others' wrong guesses have locked out.
    if (given && sameSecret(given, this.room.key)) return;
    this.#checkFailures(req);
    if (!given) {
      throw new HttpError(
        401,
        "the instructor key is missing: use the link classroom host printed",
        {
          "WWW-Authenticate": 'Bearer realm="classroom"',
        },
      );
    }
    if (!sameSecret(given, this.room.key)) throw this.#failed(req, 403, "wrong instructor key");
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://host.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";
    try {
      if (path === "/" || path === "/index.html") {
        allow(method, ["GET", "HEAD"]);
        const nonce = randomBytes(16).toString("base64");
        send(res, 200, dashboardPage(nonce), {
          "Content-Type": "text/html; charset=utf-8",
          "Content-Security-Policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        });
        return;
      }
      if (path === "/favicon.ico") {
        send(res, 204, "");
        return;
      }
      if (path === "/api/health") {
        allow(method, ["GET"]);
        sendJson(res, 200, { ok: true, app: "learn-webservers classroom" });
        return;
      }
      if (path === "/api/join") {
        allow(method, ["POST"]);
        await this.#join(req, res);
        return;
      }
      const events = /^\/api\/learners\/([A-Za-z0-9_-]{1,64})\/events$/.exec(path);
      if (events) {
        allow(method, ["POST"]);
        await this.#events(req, res, events[1] as string);
        return;
      }
      if (path === "/api/room") {
        allow(method, ["GET"]);
        this.#instructor(req, url);
        sendJson(res, 200, this.#instructorView());
        return;
      }
      if (path === "/api/stream") {
        allow(method, ["GET"]);
        this.#instructor(req, url);
        this.#stream(req, res);
        return;
      }
      if (path === "/api/export.csv") {
        allow(method, ["GET"]);
        this.#instructor(req, url);
        const day = new Date(this.#now()).toISOString().slice(0, 10);
        send(res, 200, roomCsv(this.room), {
          "Content-Type": "text/csv; charset=utf-8; header=present",
          "Content-Disposition": `attachment; filename="classroom-${day}.csv"`,
        });
        return;
      }
      throw new HttpError(404, "no such page");
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      sendJson(res, error.status, { error: error.message }, error.headers);
      if (error.status === 413) res.once("finish", () => req.socket.destroy());
    }
  }

  async #join(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#checkFailures(req);
    // Per address first, so that one laptop joining in a loop can neither crowd out the others
    // nor fill the room: a few joins, then one every 30 s. The host's own machine is exempt (a
    // demo, or several learners tried out on one laptop).
    const address = this.#clientId(req);
    const mine = isLoopbackAddress(address) ? 0 : this.#joinsByAddress.take(address, this.#now());
    if (mine > 0) {
      throw new HttpError(429, "too many joins from this machine just now; try again shortly", {
        "Retry-After": String(mine),
      });
    }
    const wait = this.#joinBucket.take(this.#now());
    if (wait > 0) {
      throw new HttpError(429, "too many joins just now; try again shortly", {
        "Retry-After": String(wait),
      });
    }
    const body = joinRequestSchema.safeParse(await readJson(req));
    if (!body.success) throw new HttpError(400, "expected {code, name}");
    if (!sameSecret(normalizeCode(body.data.code), this.room.code)) {
      throw this.#failed(req, 403, "wrong join code: check the code the instructor shows");
    }
    const name = checkName(body.data.name);
    if (!name.ok) throw new HttpError(400, `${name.problem}; use 1 to ${LIMITS.name} characters`);
    if (this.room.learners.length >= LIMITS.learners) {
      throw new HttpError(503, `the room is full (${LIMITS.learners} learners)`);
    }
    const token = newSecret(32);
    const now = this.#now();
    const learner: LearnerRecord = {
      id: randomUUID().replaceAll("-", "").slice(0, 16),
      name: name.name,
      tokenHash: sha256(token).toString("hex"),
      joinedAt: now,
      lastSeen: now,
      lastActive: now,
      lastSeq: 0,
      lessons: {},
    };
    this.room.learners.push(learner);
    this.#byId.set(learner.id, learner);
    this.#changed();
    this.#opts.onJoin?.(learner, this.room.learners.length);
    sendJson(res, 201, { learner: learner.id, token, title: this.room.course.title });
  }

  async #events(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.#checkFailures(req);
    const token = bearer(req);
    if (!token) {
      throw new HttpError(401, "the learner token is missing", {
        "WWW-Authenticate": 'Bearer realm="classroom"',
      });
    }
    const learner = this.#byId.get(id);
    if (!learner) throw this.#failed(req, 404, "no such learner: join again");
    const hash = Buffer.from(learner.tokenHash, "hex");
    if (hash.length !== 32 || !timingSafeEqual(sha256(token), hash)) {
      throw this.#failed(req, 403, "this token belongs to another learner");
    }
    const wait = this.#learnerBuckets.take(id, this.#now());
    if (wait > 0) {
      throw new HttpError(429, "too many posts; slow down", { "Retry-After": String(wait) });
    }
    const body = eventsRequestSchema.safeParse(await readJson(req));
    if (!body.success) {
      const issue = body.error.issues[0];
      const where = issue?.path.join(".") ?? "";
      throw new HttpError(
        400,
        `invalid events${where ? ` at ${where}` : ""}: ${issue?.message ?? ""}`,
      );
    }
    if (!sameSecret(normalizeCode(body.data.code), this.room.code)) {
      throw this.#failed(req, 403, "wrong join code");
    }
    const now = this.#now();
    const applied = applyEvents(learner, body.data.events, now - body.data.sentAt, now);
    // lastSeen changed even for an empty batch; the file follows, the dashboard only on news.
    this.#writer.touch();
    if (applied > 0 || body.data.events.length === 0) this.#scheduleBroadcast();
    sendJson(res, 200, { acked: learner.lastSeq });
  }

  #stream(req: IncomingMessage, res: ServerResponse): void {
    if (this.#streams.size >= LIMITS.streams) {
      throw new HttpError(503, `at most ${LIMITS.streams} dashboards at once`);
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "text/event-stream; charset=utf-8",
      "X-Accel-Buffering": "no",
    });
    res.write(`retry: 1000\n\n${this.#roomMessage()}`);
    this.#streams.add(res);
    req.socket.setTimeout(0);
    const done = () => this.#streams.delete(res);
    res.on("close", done);
    req.on("close", done);
  }

  #fail(res: ServerResponse, error: unknown): void {
    process.stderr.write(
      `classroom host: a request failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    if (!res.headersSent) sendJson(res, 500, { error: "the host failed on this request" });
    else res.destroy();
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, `use ${methods.join(" or ")}`, { Allow: methods.join(", ") });
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const bytes = Buffer.from(body, "utf8");
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Length": bytes.length,
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : bytes);
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  send(res, status, JSON.stringify(value), {
    "Content-Type": "application/json; charset=utf-8",
    ...headers,
  });
}

/** The body as JSON: 413 past LIMITS.body bytes, 400 when it is not JSON. */
function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > LIMITS.body) {
    return Promise.reject(new HttpError(413, `the body is over ${LIMITS.body} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > LIMITS.body) {
        failed = true;
        reject(new HttpError(413, `the body is over ${LIMITS.body} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (failed) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new HttpError(400, "the body is not valid JSON"));
      }
    });
    req.on("error", (error) => {
      if (!failed) reject(error);
    });
  });
}
