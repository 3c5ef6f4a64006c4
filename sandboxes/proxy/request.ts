/** Reading a client's request the way nginx 1.22 does: its limits, its refusals, its URI rules. */

import { HEADER_TOO_LARGE } from "./nginx.js";

/** large_client_header_buffers 4 8k: the request line, or one header line, fits in 8 KB... */
export const MAX_LINE = 8192;
/** ...and the whole header in four such buffers. */
export const MAX_HEAD = 4 * 8192;

export interface RequestHead {
  method: string;
  /** The request target as sent (an absolute-form target stays absolute here). */
  target: string;
  /** What goes to the upstream: the target, or its path and query for an absolute-form one. */
  uri: string;
  /** The request line as received, for the logs. */
  line: string;
  version: "HTTP/1.0" | "HTTP/1.1";
  /** Valid headers, in order, names as sent (nginx drops names with `_` or other odd bytes). */
  headers: [string, string][];
  host?: string;
  keepAlive: boolean;
  /** The decoded path with `.`, `..` and `//` resolved: what locations are matched on. */
  path: string;
  query: string;
  contentLength?: number;
  chunked: boolean;
  expectContinue: boolean;
  userAgent?: string;
  referer?: string;
}

/** A request nginx refuses: the status, and the error-log message when nginx logs one at error level. */
export interface Refusal {
  status: number;
  /** Logged at `error` level (most refusals are `info`, which the default log level hides). */
  log?: string;
  /** What was read of the request, for the access log. */
  head?: RequestHead;
  line?: string;
}

const METHOD = /^[A-Z_-]+$/;
const VERSION = /^HTTP\/(\d+)\.(\d+)$/;
const HEADER_NAME = /^[A-Za-z0-9-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: bytes that end a header name in nginx's parser
const NAME_BREAK = /[\x00-\x20\x7f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: bytes nginx refuses in a request target
const BAD_TARGET_BYTE = /[\x00-\x20\x7f]/;

/** Where the head ends (the index just past the blank line), or -1. Bare LF line ends count too. */
export function headEnd(buf: Buffer, from = 0): number {
  let i = buf.indexOf(10, from);
  while (i >= 0) {
    const next = buf[i + 1];
    if (next === 10) return i + 2;
    if (next === 13 && buf[i + 2] === 10) return i + 3;
    i = buf.indexOf(10, i + 1);
  }
  return -1;
}

/**
 * Finds the end of a request head as its bytes arrive, judging each line against nginx's buffers
 * once it ends (or grows too long): a slow client's bytes are looked at once, not on every read.
 */
export class HeadScanner {
  #pos = 0;
  #lineStart = 0;
  #firstLineEnd = -1;

  /** The index just past the blank line, -1 while more bytes are needed, or a refusal. */
  scan(buf: Buffer): number | Refusal {
    for (;;) {
      const lf = buf.indexOf(10, this.#pos);
      if (lf < 0) break;
      this.#pos = lf + 1;
      const length = lf - this.#lineStart - (buf[lf - 1] === 13 && lf > this.#lineStart ? 1 : 0);
      if (this.#firstLineEnd < 0) {
        this.#firstLineEnd = lf;
        // nginx logs what fitted in its buffer.
        if (length > MAX_LINE) return { status: 414, line: firstLine(buf, lf).slice(0, MAX_LINE) };
      } else if (length === 0) {
        return lf + 1;
      } else if (length > MAX_LINE) {
        return { status: HEADER_TOO_LARGE, line: firstLine(buf, this.#firstLineEnd) };
      }
      if (lf + 1 > MAX_HEAD)
        return { status: HEADER_TOO_LARGE, line: firstLine(buf, this.#firstLineEnd) };
      this.#lineStart = lf + 1;
    }
    this.#pos = buf.length;
    const open = buf.length - this.#lineStart;
    if (this.#firstLineEnd < 0) return open > MAX_LINE ? { status: 414 } : -1;
    if (open > MAX_LINE || buf.length > MAX_HEAD)
      return { status: HEADER_TOO_LARGE, line: firstLine(buf, this.#firstLineEnd) };
    return -1;
  }
}

function firstLine(buf: Buffer, lineEnd: number): string {
  const line = buf.toString("latin1", 0, lineEnd);
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** What the log shows for a request cut short: the first line as far as it came. */
export function partialLine(buf: Buffer): string {
  const lineEnd = buf.indexOf(10);
  return firstLine(buf, lineEnd < 0 ? Math.min(buf.length, MAX_LINE) : lineEnd);
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * The path nginx matches locations on: %XX decoded, `//` merged, `.` and `..` resolved.
 * Undefined when nginx answers 400 instead (a bad escape, a NUL, `..` above the root).
 */
export function normalisePath(raw: string): string | undefined {
  if (!raw.startsWith("/")) return undefined;
  // Most paths need nothing done.
  if (!raw.includes("%") && !raw.includes("/.") && !raw.includes("//")) return raw;
  let decoded = raw;
  if (raw.includes("%")) {
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === 37) {
        const hi = hexValue(raw.charCodeAt(i + 1));
        const lo = hexValue(raw.charCodeAt(i + 2));
        if (hi < 0 || lo < 0) return undefined;
        const b = hi * 16 + lo;
        if (b === 0) return undefined;
        bytes.push(b);
        i += 2;
      } else {
        bytes.push(c & 0xff);
      }
    }
    decoded = Buffer.from(bytes).toString("latin1");
    if (!decoded.startsWith("/")) return undefined;
  }
  const out: string[] = [];
  const parts = decoded.split("/");
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] ?? "";
    const last = i === parts.length - 1;
    if (part === "" && !last) continue;
    if (part === ".") {
      if (last) out.push("");
      continue;
    }
    if (part === "..") {
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push("");
      continue;
    }
    out.push(part);
  }
  return `/${out.join("/")}`;
}

/** Strips spaces and tabs at both ends, as nginx trims a header value. */
function trimSpaces(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 32 || text.charCodeAt(start) === 9)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Host as nginx's ngx_http_validate_host accepts it: lower-cased, one trailing dot dropped. */
function validHost(value: string): string | undefined {
  let host = value.toLowerCase();
  if (host === "" || host.includes("/") || host.includes("\\") || host.includes(".."))
    return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: nginx refuses these in a Host
  if (/[\x00-\x20\x7f]/.test(host)) return undefined;
  if (host.endsWith(".")) host = host.slice(0, -1);
  return host;
}

/**
 * Parses a whole head (request line and header lines, up to the blank line), or says how nginx
 * refuses it.
 */
export function parseHead(buf: Buffer, end: number, maxBody: number): RequestHead | Refusal {
  const text = buf.toString("latin1", 0, end);
  let at = text.indexOf("\n");
  const line = text.charCodeAt(at - 1) === 13 ? text.slice(0, at - 1) : text.slice(0, at);
  at++;
  const refuse = (status: number, log?: string, head?: RequestHead): Refusal => ({
    status,
    line,
    ...(log ? { log } : {}),
    ...(head ? { head } : {}),
  });
  const words = line.includes("  ") ? line.split(" ").filter((w) => w !== "") : line.split(" ");
  if (words.length !== 3 && words.length !== 2) return refuse(400);
  const [method = "", target = "", versionText] = words;
  if (!METHOD.test(method) || BAD_TARGET_BYTE.test(target)) return refuse(400);
  // HTTP/0.9 (no version) is refused rather than answered without headers.
  if (versionText === undefined) return refuse(400);
  let version: RequestHead["version"];
  if (versionText === "HTTP/1.1") version = "HTTP/1.1";
  else if (versionText === "HTTP/1.0") version = "HTTP/1.0";
  else {
    const v = VERSION.exec(versionText);
    if (!v) return refuse(400);
    if (Number(v[1]) > 1) return refuse(505);
    if (Number(v[1]) < 1 || Number(v[2]) > 99) return refuse(400);
    version = Number(v[2]) === 0 ? "HTTP/1.0" : "HTTP/1.1";
  }

  let uri = target;
  let hostFromTarget: string | undefined;
  if (target.charCodeAt(0) !== 47) {
    const abs = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (!abs) return refuse(400);
    hostFromTarget = abs[1] ?? "";
    uri = abs[2] || "/";
    if (!uri.startsWith("/")) uri = `/${uri}`;
  }
  const q = uri.indexOf("?");
  const rawPath = q < 0 ? uri : uri.slice(0, q);
  const query = q < 0 ? "" : uri.slice(q + 1);
  const path = normalisePath(rawPath);
  if (path === undefined) return refuse(400);

  const headers: [string, string][] = [];
  const hosts: string[] = [];
  const lengths: string[] = [];
  const encodings: string[] = [];
  let connection = "";
  let expectContinue = false;
  let userAgent: string | undefined;
  let referer: string | undefined;
  while (at < text.length) {
    let next = text.indexOf("\n", at);
    if (next < 0) next = text.length;
    const headerLine =
      text.charCodeAt(next - 1) === 13 ? text.slice(at, next - 1) : text.slice(at, next);
    at = next + 1;
    if (headerLine === "") break;
    const first = headerLine.charCodeAt(0);
    if (first === 32 || first === 9) return refuse(400);
    const colon = headerLine.indexOf(":");
    if (colon < 0) continue; // ignore_invalid_headers: dropped
    const name = headerLine.slice(0, colon);
    if (name === "" || NAME_BREAK.test(name)) return refuse(400);
    if (!HEADER_NAME.test(name)) continue; // `_` and other odd bytes: dropped
    const value = trimSpaces(headerLine.slice(colon + 1));
    if (value.includes("\0")) return refuse(400);
    headers.push([name, value]);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") hosts.push(value);
        break;
      case 6:
        if (name.toLowerCase() === "expect" && value.toLowerCase() === "100-continue")
          expectContinue = true;
        break;
      case 7:
        if (name.toLowerCase() === "referer") referer ??= value;
        break;
      case 10:
        if (name.toLowerCase() === "user-agent") userAgent ??= value;
        else if (name.toLowerCase() === "connection") connection += `,${value.toLowerCase()}`;
        break;
      case 14:
        if (name.toLowerCase() === "content-length") lengths.push(value);
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") encodings.push(value);
        break;
    }
  }

  const head: RequestHead = {
    method,
    target,
    uri,
    line,
    version,
    headers,
    keepAlive:
      version === "HTTP/1.1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection),
    path,
    query,
    chunked: false,
    expectContinue: expectContinue && version === "HTTP/1.1",
  };
  if (userAgent !== undefined) head.userAgent = userAgent;
  if (referer !== undefined) head.referer = referer;

  if (hosts.length > 1) return refuse(400, undefined, head);
  const hostText = hostFromTarget ?? hosts[0];
  if (hostText !== undefined) {
    const host = validHost(hostText);
    if (host === undefined) return refuse(400, undefined, head);
    head.host = hostFromTarget === undefined ? hostText : host;
  } else if (version === "HTTP/1.1") {
    return refuse(400, undefined, head);
  }
  if (lengths.length > 1) return refuse(400, undefined, head);
  if (encodings.length > 0) {
    if (version === "HTTP/1.0") return refuse(400, undefined, head);
    if (encodings.length > 1 || encodings[0]?.toLowerCase() !== "chunked")
      return refuse(501, undefined, head);
    if (lengths.length > 0) return refuse(400, undefined, head);
    head.chunked = true;
  } else if (lengths.length === 1) {
    const lengthText = lengths[0] ?? "";
    if (!/^\d{1,15}$/.test(lengthText)) return refuse(400, undefined, head);
    const length = Number(lengthText);
    if (maxBody > 0 && length > maxBody) {
      return refuse(413, `client intended to send too large body: ${length} bytes`, head);
    }
    head.contentLength = length;
  }
  return head;
}

/** What a chunked body amounts to so far. */
export type ChunkedResult =
  | { done: false }
  | { done: true; body: Buffer; consumed: number }
  | { error: "invalid" }
  | { error: "too-large"; size: number };

/**
 * Decodes a chunked body as its bytes arrive. `feed` takes everything received since the body
 * began (the same buffer, grown) and carries on from where it stopped.
 */
export class ChunkedDecoder {
  #parts: Buffer[] = [];
  #size = 0;
  #at = 0;

  constructor(private readonly maxBody: number) {}

  feed(buf: Buffer): ChunkedResult {
    for (;;) {
      const at = this.#at;
      const lineEnd = buf.indexOf(10, at);
      if (lineEnd < 0) return buf.length - at > 4096 ? { error: "invalid" } : { done: false };
      const sizeText = buf.toString("latin1", at, lineEnd).replace(/\r$/, "").split(";")[0]?.trim();
      if (!sizeText || !/^[0-9a-fA-F]{1,15}$/.test(sizeText)) return { error: "invalid" };
      const chunk = Number.parseInt(sizeText, 16);
      if (this.maxBody > 0 && this.#size + chunk > this.maxBody)
        return { error: "too-large", size: this.#size + chunk };
      if (chunk === 0) {
        // The trailer section (usually empty) ends with a blank line.
        const end = headEnd(buf, lineEnd);
        if (end < 0)
          return buf.length - lineEnd > MAX_LINE ? { error: "invalid" } : { done: false };
        return { done: true, body: Buffer.concat(this.#parts), consumed: end };
      }
      const dataStart = lineEnd + 1;
      const dataEnd = dataStart + chunk;
      if (buf.length < dataEnd + 1) return { done: false };
      let next: number;
      if (buf[dataEnd] === 10) next = dataEnd + 1;
      else if (buf[dataEnd] === 13) {
        if (buf.length < dataEnd + 2) return { done: false };
        if (buf[dataEnd + 1] !== 10) return { error: "invalid" };
        next = dataEnd + 2;
      } else return { error: "invalid" };
      this.#parts.push(Buffer.from(buf.subarray(dataStart, dataEnd)));
      this.#size += chunk;
      this.#at = next;
    }
  }
}
