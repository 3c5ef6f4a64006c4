export const PROTOCOL_VERSION = 1;

export type SandboxName = "static" | "dev-reload" | "prefork" | "async" | "proxy";

export interface ListeningEvent {
  type: "listening";
  sandbox: SandboxName;
  flavour: string;
  pid: number;
  host: string;
  /** The TCP port; 0 when the sandbox listens on Unix sockets only. */
  port: number;
  /** `http://HOST:PORT/`, or `unix:PATH` when there is no TCP port. */
  url: string;
  directory?: string;
  options: Record<string, string | number | boolean>;
  /** The first Unix socket it listens on (absolute path), when it listens on one. */
  unix?: string;
}

export interface RequestEvent {
  type: "request";
  id: number;
  time: string;
  remote: string;
  method: string;
  target: string;
  path: string;
  version: string;
  status: number;
  reason: string;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
  bytes: number;
  durationMs: number;
  worker?: number;
  /**
   * Set on a request event the proxy sandbox passes on from an app server it started: that
   * server's address (`http://127.0.0.1:PORT`). The proxy's own request events have none.
   */
  upstream?: string;
}

export interface ErrorEvent {
  type: "error";
  code: string;
  message: string;
  hint?: string;
  fatal: boolean;
}

export interface StoppingEvent {
  type: "stopping";
  reason: string;
}

export type WorkerState = "booting" | "idle" | "busy" | "exiting" | "exited";

/** Why a worker is going away or went away. */
export type WorkerExitReason =
  | "ttou"
  | "reload"
  | "timeout"
  | "max-requests"
  | "killed"
  | "crash"
  | "boot-failed"
  | "shutdown";

/**
 * A pre-fork worker changed state. Sent by the master (never by a worker over its own
 * channel), one event per change, in order.
 */
export interface WorkerEvent {
  type: "worker";
  pid: number;
  /** uWSGI's worker number (1..N, reused on respawn), or Gunicorn's boot order (1, 2, 3...). */
  index: number;
  state: WorkerState;
  /** Milliseconds since the epoch when the change happened. */
  at: number;
  /** When the worker booted, milliseconds since the epoch. */
  bootedAt: number;
  /** Requests this worker has answered so far. */
  served: number;
  /** The request being handled, while busy. */
  request?: { id: number; method: string; target: string; startedAt: number };
  /** With "exiting" and "exited". */
  reason?: WorkerExitReason;
  /** With "exited": the signal that ended the process, e.g. "SIGKILL", when one did. */
  signal?: string;
  /** With "exited": the exit code, when it exited by itself. */
  code?: number;
}

/**
 * The master handled a signal. `via` says where it came from: "os" for a real signal (the
 * learner's `kill -TTIN <pid>`), "ipc" for the lab's control message.
 */
export interface SignalEvent {
  type: "signal";
  signal: string;
  via: "os" | "ipc";
  pid: number;
}

/**
 * A development server's reloader at work, one event per step of one reload (same `reload`
 * number): "detected" a change, the old app child "stopped", the new code "ready" (answering),
 * or "failed" (the new code does not load: a syntax error). Times are milliseconds since the
 * epoch; `savedAt` is the file's modification time.
 */
export interface ReloadEvent {
  type: "reload";
  reload: number;
  phase: "detected" | "stopped" | "ready" | "failed";
  reloader: "stat" | "events";
  /** The changed file, relative to the app's folder. */
  file: string;
  savedAt: number;
  at: number;
  /** With "ready": from `savedAt` to the new code answering. */
  latencyMs?: number;
  /** With "ready": how long no app child was answering (refused or queued connections). */
  downtimeMs?: number;
  /** With "failed": the error's last line, e.g. "SyntaxError: Unexpected token". */
  error?: string;
}

/**
 * The connections one event-loop server holds (the async sandbox), aggregated: sent at most
 * every 250 ms, and only when a number changed, so that 10,000 connections cost a few events.
 */
export interface ConnectionsEvent {
  type: "connections";
  /** Open HTTP connections (not upgraded), those waiting in /sleep or /poll included. */
  http: number;
  /** Open WebSockets. */
  websockets: number;
  /** Connections accepted since the start. */
  accepted: number;
  /** Connections the process could not accept because it hit its open-file limit (EMFILE). */
  refused: number;
  /** HTTP requests answered since the start (request events are sampled above 100 a second). */
  requests: number;
  /** Long polls waiting for a message. */
  polls: number;
  /** Milliseconds since the epoch. */
  at: number;
}

/**
 * Event-loop delay (how late the loop runs a timer that is due), over the last `windowMs`,
 * measured continuously with monitorEventLoopDelay and sent about every 250 ms. A blocking
 * handler shows as a `maxMs` about as long as it blocked.
 */
export interface LoopEvent {
  type: "loop";
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  windowMs: number;
  at: number;
}

/**
 * A WebSocket opened, received a message, or closed. Above 100 a second the rest are left out
 * and counted in the `skipped` of the next one of the same phase (the connections event keeps
 * the totals of connections).
 */
export interface WebSocketEvent {
  type: "websocket";
  phase: "open" | "message" | "close";
  /** The connection's number, from 1, in the order of the upgrades. */
  id: number;
  /** The client's address. */
  remote: string;
  /** The Origin header of the upgrade, when there was one. */
  origin?: string;
  /** The User-Agent header of the upgrade, when there was one (on every phase). */
  userAgent?: string;
  at: number;
  /**
   * With "open": how the server answered the key. `accept` = base64(SHA-1(key + guid)), whose
   * hex digest is `sha1Hex`.
   */
  handshake?: { key: string; guid: string; sha1Hex: string; accept: string };
  /**
   * With "message": what the client sent (the text cut to 200 characters), whether it went to
   * every client, and to how many.
   */
  message?: {
    text: string;
    bytes: number;
    binary: boolean;
    broadcast: boolean;
    recipients: number;
  };
  /** With "close": the close code (1005 none given, 1006 the connection dropped) and reason. */
  code?: number;
  reason?: string;
  /** Events of this phase left out before this one, to keep the rate bounded. */
  skipped?: number;
}

/** One upstream tried for a request the proxy passed on, in the order tried. */
export interface ProxyAttempt {
  /** `http://127.0.0.1:PORT`. */
  upstream: string;
  /** Milliseconds from the request's `start`: the upstream chosen. */
  chosenMs: number;
  /** Milliseconds from `start`: connected, first byte of its answer, its answer complete. */
  connectMs?: number;
  firstByteMs?: number;
  doneMs?: number;
  /** "ok" when it answered; otherwise why the proxy gave up on it. */
  outcome: "ok" | "refused" | "timeout" | "reset" | "closed" | "invalid" | "error";
  /** The status it answered with. */
  status?: number;
}

/**
 * The path of one request through the proxy sandbox (client, proxy, upstream, worker), sent once
 * the answer is written. Same `id` as the proxy's request event for it. Times are milliseconds
 * from `start` (the request's first byte, ms since the epoch).
 */
export interface ProxyEvent {
  type: "proxy";
  id: number;
  method: string;
  target: string;
  status: number;
  /**
   * "static": a file from the static folder; "proxied": an upstream answered; "cache": the
   * micro-cache answered; "error": the proxy answered by itself (400, 413, 502, 504...).
   */
  route: "static" | "proxied" | "cache" | "error";
  /** With --cache, for GET and HEAD sent upstream or answered from the cache (the X-Cache value). */
  cache?: "HIT" | "MISS" | "EXPIRED";
  start: number;
  /** The request read whole, head and body: until then no upstream is involved. */
  readMs: number;
  /** Each upstream tried, in order (a failover shows as two or more). */
  attempts: ProxyAttempt[];
  /** The upstream that answered. */
  upstream?: string;
  /** The pid of the worker that ran the app, when the app server is one the proxy started. */
  worker?: number;
  /** The answer handed to the client's connection. */
  sentMs: number;
  /** Body bytes received from the client and sent to it. */
  requestBytes: number;
  bytes: number;
}

/** One upstream as the proxy sees it now. */
export interface UpstreamState {
  upstream: string;
  /** "down" while taken out after failures (max_fails, fail_timeout), until `downUntil`. */
  state: "up" | "down";
  downUntil?: number;
  /** Connections open to it now: with sync workers, how many workers the proxy keeps busy. */
  active: number;
  requests: number;
  failures: number;
  /** The master's pid, for an app server the proxy started itself (absent once it exited). */
  pid?: number;
}

/**
 * The proxy sandbox's connections, upstreams and cache, sent when something changed (at most
 * every 250 ms).
 */
export interface UpstreamsEvent {
  type: "upstreams";
  at: number;
  /** Client connections open, and how many of them are in the middle of sending a request. */
  clients: { open: number; reading: number };
  upstreams: UpstreamState[];
  /** With --cache: entries held and lookups since the start. */
  cache?: { entries: number; hits: number; misses: number; expired: number };
}

export type SandboxEvent =
  | ListeningEvent
  | RequestEvent
  | ErrorEvent
  | StoppingEvent
  | WorkerEvent
  | SignalEvent
  | ReloadEvent
  | ConnectionsEvent
  | LoopEvent
  | WebSocketEvent
  | ProxyEvent
  | UpstreamsEvent;

export interface StopControl {
  type: "stop";
}

/** Signal names as the real servers' docs write them, without "SIG". */
export const MASTER_SIGNALS = [
  "TTIN",
  "TTOU",
  "HUP",
  "TERM",
  "INT",
  "QUIT",
  "USR1",
  "USR2",
] as const;
export type MasterSignal = (typeof MASTER_SIGNALS)[number];

/** Does what the real signal to the master pid does; the only way on Windows. */
export interface SignalControl {
  type: "signal";
  signal: MasterSignal;
}

/** Ends one worker as `kill -9 <worker pid>` (or -15) would; `pid` omitted means the oldest. */
export interface KillWorkerControl {
  type: "kill-worker";
  signal: "SIGKILL" | "SIGTERM";
  pid?: number;
}

export type SandboxControl = StopControl | SignalControl | KillWorkerControl;

export interface IpcEnvelope<T> {
  v: typeof PROTOCOL_VERSION;
  msg: T;
}
