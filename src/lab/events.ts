import * as z from "zod/mini";
import {
  type ConnectionsEvent,
  type ErrorEvent,
  type IpcEnvelope,
  type ListeningEvent,
  type LoopEvent,
  PROTOCOL_VERSION,
  type ProxyEvent,
  type ReloadEvent,
  type RequestEvent,
  type SandboxEvent,
  type SignalEvent,
  type StoppingEvent,
  type UpstreamsEvent,
  type WebSocketEvent,
  type WorkerEvent,
} from "../../sandboxes/shared/protocol.js";

const sandboxName = z.enum(["static", "dev-reload", "prefork", "async", "proxy"]);
const optionValue = z.union([z.string(), z.number(), z.boolean()]);
const stringRecord = z.record(z.string(), z.string());

export const listeningEventSchema = z.object({
  type: z.literal("listening"),
  sandbox: sandboxName,
  flavour: z.string(),
  pid: z.int(),
  host: z.string(),
  // 0: listening on Unix sockets only (then `unix` names the first).
  port: z.int().check(z.minimum(0), z.maximum(65535)),
  url: z.string(),
  directory: z.optional(z.string()),
  options: z.record(z.string(), optionValue),
  unix: z.optional(z.string()),
});

export const requestEventSchema = z.object({
  type: z.literal("request"),
  id: z.int(),
  time: z.string(),
  remote: z.string(),
  method: z.string(),
  target: z.string(),
  path: z.string(),
  version: z.string(),
  status: z.int(),
  reason: z.string(),
  requestHeaders: stringRecord,
  responseHeaders: stringRecord,
  bytes: z.number(),
  durationMs: z.number(),
  worker: z.optional(z.int()),
  upstream: z.optional(z.string()),
});

export const errorEventSchema = z.object({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  hint: z.optional(z.string()),
  fatal: z.boolean(),
});

export const stoppingEventSchema = z.object({
  type: z.literal("stopping"),
  reason: z.string(),
});

export const workerEventSchema = z.object({
  type: z.literal("worker"),
  pid: z.int(),
  index: z.int(),
  state: z.enum(["booting", "idle", "busy", "exiting", "exited"]),
  at: z.number(),
  bootedAt: z.number(),
  served: z.int(),
  request: z.optional(
    z.object({ id: z.int(), method: z.string(), target: z.string(), startedAt: z.number() }),
  ),
  reason: z.optional(
    z.enum([
      "ttou",
      "reload",
      "timeout",
      "max-requests",
      "killed",
      "crash",
      "boot-failed",
      "shutdown",
    ]),
  ),
  signal: z.optional(z.string()),
  code: z.optional(z.int()),
});

export const signalEventSchema = z.object({
  type: z.literal("signal"),
  signal: z.string(),
  via: z.enum(["os", "ipc"]),
  pid: z.int(),
});

export const reloadEventSchema = z.object({
  type: z.literal("reload"),
  reload: z.int(),
  phase: z.enum(["detected", "stopped", "ready", "failed"]),
  reloader: z.enum(["stat", "events"]),
  file: z.string(),
  savedAt: z.number(),
  at: z.number(),
  latencyMs: z.optional(z.number()),
  downtimeMs: z.optional(z.number()),
  error: z.optional(z.string()),
});

export const connectionsEventSchema = z.object({
  type: z.literal("connections"),
  http: z.int(),
  websockets: z.int(),
  accepted: z.int(),
  refused: z.int(),
  requests: z.int(),
  polls: z.int(),
  at: z.number(),
});

export const loopEventSchema = z.object({
  type: z.literal("loop"),
  p50Ms: z.number(),
  p99Ms: z.number(),
  maxMs: z.number(),
  windowMs: z.number(),
  at: z.number(),
});

export const webSocketEventSchema = z.object({
  type: z.literal("websocket"),
  phase: z.enum(["open", "message", "close"]),
  id: z.int(),
  remote: z.string(),
  origin: z.optional(z.string()),
  userAgent: z.optional(z.string()),
  at: z.number(),
  handshake: z.optional(
    z.object({ key: z.string(), guid: z.string(), sha1Hex: z.string(), accept: z.string() }),
  ),
  message: z.optional(
    z.object({
      text: z.string(),
      bytes: z.int(),
      binary: z.boolean(),
      broadcast: z.boolean(),
      recipients: z.int(),
    }),
  ),
  code: z.optional(z.int()),
  reason: z.optional(z.string()),
  skipped: z.optional(z.int()),
});

export const proxyEventSchema = z.object({
  type: z.literal("proxy"),
  id: z.int(),
  method: z.string(),
  target: z.string(),
  status: z.int(),
  route: z.enum(["static", "proxied", "cache", "error"]),
  cache: z.optional(z.enum(["HIT", "MISS", "EXPIRED"])),
  start: z.number(),
  readMs: z.number(),
  attempts: z.array(
    z.object({
      upstream: z.string(),
      chosenMs: z.number(),
      connectMs: z.optional(z.number()),
      firstByteMs: z.optional(z.number()),
      doneMs: z.optional(z.number()),
      outcome: z.enum(["ok", "refused", "timeout", "reset", "closed", "invalid", "error"]),
      status: z.optional(z.int()),
    }),
  ),
  upstream: z.optional(z.string()),
  worker: z.optional(z.int()),
  sentMs: z.number(),
  requestBytes: z.number(),
  bytes: z.number(),
});

export const upstreamsEventSchema = z.object({
  type: z.literal("upstreams"),
  at: z.number(),
  clients: z.object({ open: z.int(), reading: z.int() }),
  upstreams: z.array(
    z.object({
      upstream: z.string(),
      state: z.enum(["up", "down"]),
      downUntil: z.optional(z.number()),
      active: z.int(),
      requests: z.int(),
      failures: z.int(),
      pid: z.optional(z.int()),
    }),
  ),
  cache: z.optional(
    z.object({ entries: z.int(), hits: z.int(), misses: z.int(), expired: z.int() }),
  ),
});

export const sandboxEventSchema = z.discriminatedUnion("type", [
  listeningEventSchema,
  requestEventSchema,
  errorEventSchema,
  stoppingEventSchema,
  workerEventSchema,
  signalEventSchema,
  reloadEventSchema,
  connectionsEventSchema,
  loopEventSchema,
  webSocketEventSchema,
  proxyEventSchema,
  upstreamsEventSchema,
]);

export const envelopeSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  msg: sandboxEventSchema,
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time guard: the schemas must describe exactly the protocol's types.
const schemasMatchProtocol: [
  Same<z.infer<typeof listeningEventSchema>, ListeningEvent>,
  Same<z.infer<typeof requestEventSchema>, RequestEvent>,
  Same<z.infer<typeof errorEventSchema>, ErrorEvent>,
  Same<z.infer<typeof stoppingEventSchema>, StoppingEvent>,
  Same<z.infer<typeof workerEventSchema>, WorkerEvent>,
  Same<z.infer<typeof signalEventSchema>, SignalEvent>,
  Same<z.infer<typeof reloadEventSchema>, ReloadEvent>,
  Same<z.infer<typeof connectionsEventSchema>, ConnectionsEvent>,
  Same<z.infer<typeof loopEventSchema>, LoopEvent>,
  Same<z.infer<typeof webSocketEventSchema>, WebSocketEvent>,
  Same<z.infer<typeof proxyEventSchema>, ProxyEvent>,
  Same<z.infer<typeof upstreamsEventSchema>, UpstreamsEvent>,
  Same<z.infer<typeof envelopeSchema>, IpcEnvelope<SandboxEvent>>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true];
void schemasMatchProtocol;

export type EnvelopeCheck = { ok: true; event: SandboxEvent } | { ok: false; problem: string };

let invalid = 0;

/** Validates one IPC message; on failure says why in one short line. Counts failures. */
export function checkEnvelope(msg: unknown): EnvelopeCheck {
  const parsed = envelopeSchema.safeParse(msg);
  if (parsed.success) return { ok: true, event: parsed.data.msg };
  invalid++;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return { ok: false, problem: `${where}${issue?.message ?? "invalid message"}` };
}

/** The event carried by a valid `{v: 1, msg}` envelope, or undefined (and counted). */
export function parseEnvelope(msg: unknown): SandboxEvent | undefined {
  const checked = checkEnvelope(msg);
  return checked.ok ? checked.event : undefined;
}

/** How many invalid messages this process has seen. */
export function invalidMessageCount(): number {
  return invalid;
}
