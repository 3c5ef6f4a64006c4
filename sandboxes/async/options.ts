/** The async sandbox's command line: flags, defaults, --help. */

import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseFlags, parseOnOff, parsePort, usageError } from "../shared/args.js";

export const PROG = "async";
export const FLAVOURS = ["tornado", "uvicorn"] as const;
export type Flavour = (typeof FLAVOURS)[number];

export interface AsyncOptions {
  flavour: Flavour;
  port: number;
  hostText: string;
  /** The largest WebSocket message accepted, in bytes; a bigger one closes with 1009. */
  maxMessageSize: number;
  /** Seconds between two pings to each WebSocket (0: no pings). */
  pingInterval: number;
  /** Seconds without a pong before a WebSocket is closed. */
  pingTimeout: number;
  /** How long /poll waits for a message when the request names no ms, in seconds. */
  pollTimeout: number;
  accessLog: boolean;
  /** The app's folder (where app.py would be); the process runs there. */
  directory?: string;
}

/**
 * Tornado has no default port (the app names one; its docs' examples use 8888); Uvicorn's is
 * 8000.
 */
export const DEFAULT_PORTS: Record<Flavour, number> = { tornado: 8888, uvicorn: 8000 };
/** Tornado's websocket_max_message_size (10 MiB); Uvicorn's --ws-max-size (16 MiB). */
export const DEFAULT_MAX_MESSAGE: Record<Flavour, number> = {
  tornado: 10 * 1024 * 1024,
  uvicorn: 16 * 1024 * 1024,
};
/** Tornado's websocket_ping_interval is None (no pings); Uvicorn's --ws-ping-interval is 20. */
export const DEFAULT_PING: Record<Flavour, number> = { tornado: 0, uvicorn: 20 };

export const MAX_SLEEP_MS = 60_000;
export const MAX_BLOCK_MS = 10_000;
export const MAX_POLL_MS = 120_000;

export const HELP = `usage: ${PROG} [-h] [--flavour tornado|uvicorn] [--port N] [-b ADDRESS]
             [--max-message-size BYTES] [--ping-interval S] [--ping-timeout S]
             [--poll-timeout S] [--access-log on|off | --no-access-log]
             [-d DIRECTORY]

One process, one event loop: a Tornado 6.2 app (python3 app.py) or an ASGI app
served by Uvicorn 0.17.6 (python3 -m uvicorn app:app), imitated. It holds many
connections at once; handlers that wait (await asyncio.sleep) let the others run,
a handler that blocks (time.sleep) stops every connection until it returns.

routes:
  /                     a small chat page (open it in a browser)
  /ws                   WebSocket: "all:TEXT" goes to every client as
                        "broadcast TEXT", anything else comes back as "echo TEXT"
  /sleep?ms=N           waits N ms without blocking (await asyncio.sleep);
                        0..${MAX_SLEEP_MS}, default 1000
  /block?ms=N           busy-waits N ms and blocks the loop (time.sleep in an async
                        handler); 0..${MAX_BLOCK_MS}, default 1000
  /poll?ms=N            long polling: answers with the next chat message, or after
                        N ms with none; 0..${MAX_POLL_MS}, default --poll-timeout
  /stats                connections, messages and event-loop delay, as JSON
  /hello                "hello", for load tests (as the reference app's /)

options:
  -h, --help            show this help message and exit
  --flavour tornado|uvicorn
                        the server to imitate (default: tornado)
  --port N              the port (default: 8888 for tornado, as in Tornado's docs,
                        8000 for uvicorn; 0 takes a free port)
  -b, --bind ADDRESS    the address to listen on (default: 127.0.0.1); --host is the
                        same
  --max-message-size BYTES
                        the largest WebSocket message; a bigger one is closed with
                        code 1009 (default: 10485760 for tornado, its
                        websocket_max_message_size; 16777216 for uvicorn, its
                        --ws-max-size)
  --ping-interval S     seconds between pings to each WebSocket, 0 for none
                        (default: 0 for tornado, as websocket_ping_interval=None;
                        20 for uvicorn, as --ws-ping-interval)
  --ping-timeout S      seconds without a pong before the WebSocket is closed
                        (default: 20 for uvicorn; for tornado max(3 x interval, 30))
  --poll-timeout S      how long /poll waits by default, 1..120 (default: 30)
  --access-log on|off   one log line per request (default: on); Tornado logs every
                        request, Uvicorn's --no-access-log is off
  --no-access-log       the same as --access-log off
  -d, --directory DIRECTORY
                        the app's folder, where app.py is; the server runs there
                        (default: the current folder)

The WebSocket handshake, the log lines and the response headers are each
server's own. When the open-file limit stops new connections, one line says so
and how to raise it (ulimit -n 20000); the open connections go on.
`;

function parseNumber(
  flag: string,
  text: string,
  min: number,
  max: number,
  what: string,
  integer = false,
): number {
  const value = Number(text.trim());
  if (
    text.trim() === "" ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    usageError(PROG, `invalid ${flag} '${text}': use ${what} from ${min} to ${max}`);
  }
  return value;
}

export function parseOptions(argv: string[]): AsyncOptions | "help" {
  const flags = parseFlags(
    PROG,
    argv,
    {
      help: { type: "boolean", short: "h" },
      flavour: { type: "string" },
      port: { type: "string" },
      bind: { type: "string", short: "b" },
      host: { type: "string" },
      "max-message-size": { type: "string" },
      "ping-interval": { type: "string" },
      "ping-timeout": { type: "string" },
      "poll-timeout": { type: "string" },
      "access-log": { type: "string" },
      "no-access-log": { type: "boolean" },
      directory: { type: "string", short: "d" },
    },
    0,
  );
  if (flags.values.help) return "help";
  const flavourText = flags.string("flavour") ?? "tornado";
  const flavour = FLAVOURS.find((f) => f === flavourText);
  if (!flavour) usageError(PROG, `unknown flavour '${flavourText}': use tornado or uvicorn`);
  const portText = flags.string("port");
  const port = portText === undefined ? DEFAULT_PORTS[flavour] : parsePort(PROG, portText);
  const hostText = flags.string("host") ?? flags.string("bind") ?? "127.0.0.1";
  if (hostText.trim() === "") usageError(PROG, "an empty address: use e.g. --host 127.0.0.1");
  const sizeText = flags.string("max-message-size");
  const maxMessageSize =
    sizeText === undefined
      ? DEFAULT_MAX_MESSAGE[flavour]
      : parseNumber("max-message-size", sizeText, 1, 256 * 1024 * 1024, "a number of bytes", true);
  const pingText = flags.string("ping-interval");
  const pingInterval =
    pingText === undefined
      ? DEFAULT_PING[flavour]
      : parseNumber("ping-interval", pingText, 0, 3600, "a number of seconds");
  if (pingInterval > 0 && pingInterval < 0.05) {
    usageError(PROG, `invalid ping-interval '${pingText}': use 0 (none) or at least 0.05 s`);
  }
  const timeoutText = flags.string("ping-timeout");
  const pingTimeout =
    timeoutText === undefined
      ? flavour === "uvicorn"
        ? 20
        : Math.max(3 * pingInterval, 30)
      : parseNumber("ping-timeout", timeoutText, 0.05, 3600, "a number of seconds");
  const pollText = flags.string("poll-timeout");
  const pollTimeout =
    pollText === undefined
      ? 30
      : parseNumber("poll-timeout", pollText, 1, MAX_POLL_MS / 1000, "a number of seconds");
  const logText = flags.string("access-log");
  let accessLog = logText === undefined || parseOnOff(PROG, "--access-log", logText);
  if (flags.values["no-access-log"]) {
    if (logText !== undefined && accessLog) {
      usageError(PROG, "--access-log on and --no-access-log contradict each other");
    }
    accessLog = false;
  }
  const directoryText = flags.string("directory");
  let directory: string | undefined;
  if (directoryText !== undefined) {
    directory = resolve(directoryText);
    if (!existsSync(directory) || !statSync(directory).isDirectory()) {
      usageError(PROG, `no such folder '${directoryText}': name the app's folder with --directory`);
    }
  }
  return {
    ...(directory !== undefined ? { directory } : {}),
    flavour,
    port,
    hostText,
    maxMessageSize,
    pingInterval,
    pingTimeout,
    pollTimeout,
    accessLog,
  };
}
