import {
  type IpcEnvelope,
  MASTER_SIGNALS,
  PROTOCOL_VERSION,
  type SandboxControl,
  type SandboxEvent,
} from "./protocol.js";

let inFlight = 0;
let drained: (() => void)[] = [];

/** True when the process was started with an IPC channel that is still open. */
export function hasIpc(): boolean {
  return typeof process.send === "function" && process.connected;
}

function settle(): void {
  inFlight--;
  if (inFlight === 0) {
    const waiters = drained;
    drained = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * `LEARN_WEBSERVERS_EVENTS=lifecycle`: the parent reads only whether the sandbox started, failed
 * and stopped (the CLI, which keeps the channel to notice its own death; a proxy nobody watches),
 * so nothing is sent for each request.
 */
const lifecycleOnly = process.env.LEARN_WEBSERVERS_EVENTS === "lifecycle";

/** True when the parent wants an event for each request (a lab), not only the lifecycle ones. */
export function requestEventsWanted(): boolean {
  return !lifecycleOnly && hasIpc();
}

function perRequest(event: SandboxEvent): boolean {
  switch (event.type) {
    case "request":
    case "proxy":
    case "upstreams":
    case "connections":
    case "loop":
    case "websocket":
      return true;
    case "worker":
      return event.state === "busy" || event.state === "idle";
    default:
      return false;
  }
}

/** Sends `{v: 1, msg: event}` to the parent; does nothing without IPC and never throws. */
export function sendEvent(event: SandboxEvent): void {
  if (!hasIpc() || (lifecycleOnly && perRequest(event))) return;
  const envelope: IpcEnvelope<SandboxEvent> = { v: PROTOCOL_VERSION, msg: event };
  inFlight++;
  try {
    process.send?.(envelope, undefined, {}, settle);
  } catch {
    settle();
  }
}

/** Resolves once every event sent so far has been handed to the OS, or after `timeoutMs`. */
export function flushEvents(timeoutMs = 300): Promise<void> {
  if (inFlight === 0 || !hasIpc()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    drained.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function asControl(raw: unknown): SandboxControl | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const envelope = raw as { v?: unknown; msg?: unknown };
  if (envelope.v !== PROTOCOL_VERSION) return undefined;
  const msg = envelope.msg as
    | { type?: unknown; signal?: unknown; pid?: unknown }
    | null
    | undefined;
  if (typeof msg !== "object" || msg === null) return undefined;
  if (msg.type === "stop") return { type: "stop" };
  if (msg.type === "signal") {
    const signal = MASTER_SIGNALS.find((s) => s === msg.signal);
    return signal ? { type: "signal", signal } : undefined;
  }
  if (msg.type === "kill-worker") {
    if (msg.signal !== "SIGKILL" && msg.signal !== "SIGTERM") return undefined;
    if (msg.pid === undefined) return { type: "kill-worker", signal: msg.signal };
    if (typeof msg.pid !== "number" || !Number.isInteger(msg.pid) || msg.pid <= 0) return undefined;
    return { type: "kill-worker", signal: msg.signal, pid: msg.pid };
  }
  return undefined;
}

/** Calls `handler` for each valid control message from the parent; others are ignored. */
export function onControl(handler: (control: SandboxControl) => void): void {
  if (typeof process.send !== "function") return;
  process.on("message", (raw: unknown) => {
    const control = asControl(raw);
    if (control) handler(control);
  });
}

/** Calls `handler` once when the IPC channel closes (the parent exited or was killed). */
export function onParentGone(handler: () => void): void {
  if (typeof process.send !== "function") return;
  if (!process.connected) {
    setImmediate(handler);
    return;
  }
  process.once("disconnect", handler);
}
