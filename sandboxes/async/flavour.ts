/** What differs between Tornado 6.2 and Uvicorn 0.17.6: log lines, headers, handshake bytes. */

import { createHash } from "node:crypto";
import { httpDateNow } from "../shared/python.js";
import type { Flavour } from "./options.js";

export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  304: "Not Modified",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Request Entity Too Large",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function reason(status: number): string {
  return REASONS[status] ?? "Unknown";
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let tornadoSecond = -1;
let tornadoStamp = "";

/** Tornado's LogFormatter time: `261126 10:13:47`, local time. */
function tornadoTime(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== tornadoSecond) {
    tornadoSecond = second;
    const d = new Date(second * 1000);
    tornadoStamp = `${pad2(d.getFullYear() % 100)}${pad2(d.getMonth() + 1)}${pad2(d.getDate())} ${pad2(
      d.getHours(),
    )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  return tornadoStamp;
}

/** `[I 261126 10:13:47 web:2293] ` for a status (W for 4xx, E for 5xx). */
export function tornadoPrefix(level: "I" | "W" | "E", where = "web:2293"): string {
  return `[${level} ${tornadoTime()} ${where}] `;
}

/** Tornado's log_request: `[I 261126 10:13:47 web:2293] 200 GET / (127.0.0.1) 1.61ms`. */
export function tornadoAccessLine(
  status: number,
  method: string,
  target: string,
  remote: string,
  ms: number,
): string {
  const level = status < 400 ? "I" : status < 500 ? "W" : "E";
  return `${tornadoPrefix(level)}${status} ${method} ${target} (${remote}) ${ms.toFixed(2)}ms\n`;
}

/** Uvicorn's access line (stdout): `INFO:     127.0.0.1:54321 - "GET / HTTP/1.1" 200 OK`. */
export function uvicornAccessLine(
  status: number,
  method: string,
  target: string,
  version: string,
  remote: string,
  remotePort: number,
): string {
  return `INFO:     ${remote}:${remotePort} - "${method} ${target} HTTP/${version}" ${status} ${reason(status)}\n`;
}

export function uvicornStartup(pid: number, url: string): string {
  return (
    `INFO:     Started server process [${pid}]\n` +
    "INFO:     Waiting for application startup.\n" +
    "INFO:     Application startup complete.\n" +
    `INFO:     Uvicorn running on ${url} (Press CTRL+C to quit)\n`
  );
}

export function uvicornShutdown(pid: number): string {
  return (
    "INFO:     Shutting down\n" +
    "INFO:     Waiting for application shutdown.\n" +
    "INFO:     Application shutdown complete.\n" +
    `INFO:     Finished server process [${pid}]\n`
  );
}

export interface Body {
  status: number;
  /** Header lines after the flavour's own (Server, Date), in order, as [name, value]. */
  contentType: string;
  body: Buffer;
  extra?: [string, string][];
}

/** The Content-Type for HTML and for JSON, as each flavour's app sends it. */
export function htmlType(flavour: Flavour): string {
  return flavour === "tornado" ? "text/html; charset=UTF-8" : "text/html; charset=utf-8";
}

export function jsonType(flavour: Flavour): string {
  return flavour === "tornado" ? "application/json; charset=UTF-8" : "application/json";
}

/** Plain text: Tornado's default type is HTML (self.write of a str); Starlette's PlainTextResponse. */
export function textType(flavour: Flavour): string {
  return flavour === "tornado" ? "text/html; charset=UTF-8" : "text/plain; charset=utf-8";
}

/** Tornado's send_error page, or Starlette's plain-text error. */
export function errorBody(flavour: Flavour, status: number): Body {
  const phrase = reason(status);
  if (flavour === "tornado") {
    return {
      status,
      contentType: htmlType(flavour),
      body: Buffer.from(
        `<html><title>${status}: ${phrase}</title><body>${status}: ${phrase}</body></html>`,
      ),
    };
  }
  return { status, contentType: textType(flavour), body: Buffer.from(phrase) };
}

/**
 * The response head, with each flavour's header names, case and order.
 * Tornado: Server, Content-Type, Date, [Etag], Content-Length.
 * Uvicorn: date, server, then the app's content-length, content-type (Starlette's order).
 */
export function responseHead(
  flavour: Flavour,
  status: number,
  contentType: string | undefined,
  length: number | undefined,
  options: {
    etag?: string;
    /** Uvicorn (h11 adds it, capitalised): `Connection: close` when the connection closes after this response. */
    close?: boolean;
    /** Tornado: the Connection header it adds after the others (`close`, `Keep-Alive`). */
    connection?: string;
    extra?: [string, string][];
  } = {},
): { head: string; headers: Record<string, string> } {
  const headers: [string, string][] = [];
  if (flavour === "tornado") {
    headers.push(["Server", "TornadoServer/6.2"]);
    if (contentType !== undefined) headers.push(["Content-Type", contentType]);
    headers.push(["Date", httpDateNow()]);
    if (options.etag !== undefined) headers.push(["Etag", options.etag]);
    for (const h of options.extra ?? []) headers.push(h);
    if (length !== undefined) headers.push(["Content-Length", String(length)]);
    if (options.connection !== undefined) headers.push(["Connection", options.connection]);
  } else {
    headers.push(["date", httpDateNow()], ["server", "uvicorn"]);
    if (length !== undefined) headers.push(["content-length", String(length)]);
    if (contentType !== undefined) headers.push(["content-type", contentType]);
    for (const h of options.extra ?? []) headers.push(h);
    if (options.close) headers.push(["Connection", "close"]);
  }
  let head = `HTTP/1.1 ${status} ${reason(status)}\r\n`;
  const record: Record<string, string> = {};
  for (const [k, v] of headers) {
    head += `${k}: ${v}\r\n`;
    record[k] = v;
  }
  return { head: `${head}\r\n`, headers: record };
}

/** Tornado's compute_etag: the SHA-1 of the body, quoted. */
export function etagOf(body: Buffer): string {
  return `"${createHash("sha1").update(body).digest("hex")}"`;
}

export interface Accept {
  sha1Hex: string;
  accept: string;
}

/** RFC 6455: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): Accept {
  const digest = createHash("sha1")
    .update(key + WS_GUID)
    .digest();
  return { sha1Hex: digest.toString("hex"), accept: digest.toString("base64") };
}

/** The 101 response lines, without the blank line (ws adds it). */
export function handshakeLines(flavour: Flavour, accept: string): string[] {
  if (flavour === "tornado") {
    return [
      "HTTP/1.1 101 Switching Protocols",
      "Server: TornadoServer/6.2",
      `Date: ${httpDateNow()}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-Websocket-Accept: ${accept}`,
    ];
  }
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${accept}`,
    `Date: ${httpDateNow()}`,
    "Server: Python/3.11 websockets/10.4",
  ];
}

/** The handshake failure websockets 10.4 sends under Uvicorn (its own headers, then close). */
export function websocketsFailure(message: string): Buffer {
  const body = `Failed to open a WebSocket connection: ${message}.\n`;
  return Buffer.from(
    "HTTP/1.1 400 Bad Request\r\n" +
      `Date: ${httpDateNow()}\r\n` +
      "Server: Python/3.11 websockets/10.4\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Content-Type: text/plain\r\n" +
      "Connection: close\r\n\r\n" +
      body,
  );
}
