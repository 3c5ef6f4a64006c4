export const PROTOCOL_VERSION = 1;

export type SandboxName = "static" | "dev-reload" | "prefork" | "async" | "proxy";

export interface ListeningEvent {
  type: "listening";
  sandbox: SandboxName;
  flavour: string;
  pid: number;
  host: string;
  port: number;
  url: string;
  directory?: string;
  options: Record<string, string | number | boolean>;
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

export type SandboxEvent = ListeningEvent | RequestEvent | ErrorEvent | StoppingEvent;

export interface StopControl {
  type: "stop";
}

export type SandboxControl = StopControl;

export interface IpcEnvelope<T> {
  v: typeof PROTOCOL_VERSION;
  msg: T;
}
