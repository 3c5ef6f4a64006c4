import type { RequestEvent } from "../shared/protocol.js";

/** Messages between the master and its workers (their own IPC channel, never the lab's). */

/** What a worker tells its master. */
export type WorkerMessage =
  | { t: "booted" }
  | { t: "boot-failed" }
  /** Sent only when the request blocks or waits: one answered at once goes straight to "done". */
  | { t: "busy"; id: number; method: string; target: string; startedAt: number; remote: string }
  /** A connection whose request has not all arrived yet: the sync worker waits for it. */
  | { t: "reading"; startedAt: number; remote: string }
  /** The connection read with "reading" went away without a request to answer. */
  | { t: "idle" }
  | { t: "done"; served: number; request: DoneRequest }
  | { t: "exiting"; reason: "max-requests" | "shutdown" | "reload" | "ttou" }
  /** Messages that could wait a few milliseconds, sent together (one write under load). */
  | { t: "batch"; messages: WorkerMessage[] };

/**
 * A finished request, as the master reports it to the lab (the request event without the
 * worker, which the master adds) and logs it: uWSGI's request line needs the counts.
 */
export interface DoneRequest extends Omit<RequestEvent, "type" | "worker"> {
  vars: number;
  varsBytes: number;
  headerCount: number;
  headerBytes: number;
  startedAt: number;
}

/**
 * What a master tells a worker. Each listening socket comes with its own `handle` message:
 * `index` of `count`, and `unix` (the path as bound) for a Unix socket.
 */
export type MasterMessage =
  | { t: "handle"; index: number; count: number; unix?: string }
  | { t: "stop"; graceful: boolean; reason: "shutdown" | "reload" | "ttou" };

/** The environment variable that makes the entry run as a worker, with its JSON settings. */
export const WORKER_ENV = "LWS_PREFORK_WORKER";

/** A worker's settings, passed in WORKER_ENV. */
export interface WorkerSettings {
  flavour: "gunicorn" | "uwsgi";
  index: number;
  workers: number;
  host: string;
  /** The TCP port, 0 when the master listens on Unix sockets only. */
  port: number;
  directory?: string;
  app: "demo" | "broken";
  /** The greeting imported by the master (--preload, and uWSGI); absent: import in the worker. */
  preloaded?: string;
  maxRequests: number;
  accessLog: boolean;
  /** uWSGI --cache2: the master's cache folder and how many keys it holds. */
  cache?: { folder: string; items: number };
}
