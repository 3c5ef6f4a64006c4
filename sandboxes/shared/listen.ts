import type { AddressInfo, Server } from "node:net";
import type { ErrorEvent } from "./protocol.js";

export interface ListenOptions {
  host: string;
  /** 0 takes a free port. */
  port: number;
  backlog?: number;
}

/** Listens once; resolves with the bound address, rejects with the bind error (EADDRINUSE...). */
export function listenOnce(server: Server, options: ListenOptions): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off("listening", onListening);
      reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({
      host: options.host,
      port: options.port,
      backlog: options.backlog ?? 511,
      exclusive: true,
    });
  });
}

export const PORT_IN_USE_HINT =
  "Stop the program using it, or choose another port (--port 0 takes a free one).";

export function portInUseEvent(port: number, host: string): ErrorEvent {
  return {
    type: "error",
    code: "EADDRINUSE",
    message: `Port ${port} is already in use on ${host}.`,
    hint: PORT_IN_USE_HINT,
    fatal: true,
  };
}

/** The fatal event for a failure to resolve the host or bind the port (`code` as Node gives it). */
export function bindErrorEvent(
  code: string | undefined,
  port: number,
  host: string,
  detail = "",
): ErrorEvent {
  if (code === "EADDRINUSE") return portInUseEvent(port, host);
  const messages: Record<string, string> = {
    EADDRNOTAVAIL: `Cannot listen on ${host}: it is not an address of this machine.`,
    EACCES: `Not allowed to listen on port ${port} (ports below 1024 need administrator rights).`,
    ENOTFOUND: `Cannot resolve the host name ${host}.`,
    EAI_AGAIN: `Cannot resolve the host name ${host} right now.`,
  };
  const event: ErrorEvent = {
    type: "error",
    code: code ?? "EBIND",
    message: messages[code ?? ""] ?? `Cannot listen on ${host} port ${port}: ${detail}`,
    fatal: true,
  };
  if (code === "EACCES") event.hint = "Choose a port of 1024 or above, or --port 0.";
  return event;
}
