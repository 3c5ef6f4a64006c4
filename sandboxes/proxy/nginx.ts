/** What nginx 1.22.1 (Debian 12's) writes: status lines, error pages, log lines. */

import { constants, release, type } from "node:os";

export const NGINX = "nginx/1.22.1";

/** ngx_http_status_lines: nginx's own reason phrases (405 is "Not Allowed", 504 "Gateway Time-out"). */
const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Not Allowed",
  406: "Not Acceptable",
  408: "Request Time-out",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Request Entity Too Large",
  414: "Request-URI Too Large",
  415: "Unsupported Media Type",
  416: "Requested Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Temporarily Unavailable",
  504: "Gateway Time-out",
  505: "HTTP Version Not Supported",
};

/**
 * nginx's internal status for a request header that does not fit its buffers: answered as
 * "400 Bad Request" with a page of its own, logged as 400.
 */
export const HEADER_TOO_LARGE = 494;

export function reasonOf(status: number): string {
  return REASONS[status] ?? "";
}

const pageCache = new Map<number, Buffer>();

/** The HTML page nginx answers an error with (server_tokens on), CRLF line ends and all. */
export function errorPage(status: number): Buffer {
  let page = pageCache.get(status);
  if (page) return page;
  const tail = `<hr><center>${NGINX}</center>\r\n</body>\r\n</html>\r\n`;
  let html: string;
  if (status === HEADER_TOO_LARGE) {
    html = `<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n${tail}`;
  } else {
    const title = `${status} ${reasonOf(status)}`;
    html = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n${tail}`;
  }
  page = Buffer.from(html, "latin1");
  pageCache.set(status, page);
  return page;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let accessSecond = -1;
let accessText = "";
let errorSecond = -1;
let errorText = "";

/** $time_local: `26/Nov/2026:10:00:00 +0000`, local time with its offset. */
export function accessTime(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== accessSecond) {
    const d = new Date(second * 1000);
    const offset = -d.getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    const abs = Math.abs(offset);
    accessSecond = second;
    accessText = `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad2(
      d.getHours(),
    )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
  }
  return accessText;
}

/** The error log's time: `2026/11/26 10:00:00`, local time. */
export function errorTime(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== errorSecond) {
    const d = new Date(second * 1000);
    errorSecond = second;
    errorText = `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ${pad2(
      d.getHours(),
    )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  return errorText;
}

function hex2(code: number): string {
  return code.toString(16).toUpperCase().padStart(2, "0");
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the bytes nginx escapes in its access log
const ACCESS_ESCAPES = /[\x00-\x1f"\\\x7f-\xff]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same set, tested without state
const NEEDS_ACCESS_ESCAPE = /[\x00-\x1f"\\\x7f-\xff]/;

/** A variable as the access log writes it (escape=default): `"`, `\` and non-ASCII as \xHH. */
export function accessEscape(text: string): string {
  if (!NEEDS_ACCESS_ESCAPE.test(text)) return text;
  return text.replace(ACCESS_ESCAPES, (ch) => `\\x${hex2(ch.charCodeAt(0))}`);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters never reach a terminal raw
const CONTROL = /[\x00-\x1f\x7f]/g;

/** Text quoted in the error log: control characters as \xHH, so none reaches a terminal. */
export function errorEscape(text: string): string {
  return text.replace(CONTROL, (ch) => `\\x${hex2(ch.charCodeAt(0))}`);
}

export interface AccessEntry {
  remote: string;
  /** The request line as received (latin-1), or "" when none was read. */
  request: string;
  status: number;
  bytes: number;
  referer?: string;
  userAgent?: string;
}

/** One line of nginx's `combined` log format. */
export function accessLine(e: AccessEntry, now = Date.now()): string {
  const quoted = (value: string | undefined) =>
    value === undefined || value === "" ? "-" : accessEscape(value);
  const status = e.status === HEADER_TOO_LARGE ? 400 : e.status;
  return `${e.remote} - - [${accessTime(now)}] "${e.request === "" ? "-" : accessEscape(e.request)}" ${String(
    status,
  ).padStart(3, "0")} ${e.bytes} "${quoted(e.referer)}" "${quoted(e.userAgent)}"\n`;
}

/** Where a request stood when an error was logged, as nginx appends it to the message. */
export interface ErrorContext {
  connection: number;
  client: string;
  server: string;
  request?: string;
  upstream?: string;
  host?: string;
  referrer?: string;
}

export type ErrorLevel = "emerg" | "alert" | "crit" | "error" | "warn" | "notice" | "info";

/** One error-log line: `2026/11/26 10:00:00 [error] 123#123: *1 message, client: ...`. */
export function errorLine(level: ErrorLevel, message: string, ctx?: ErrorContext): string {
  const pid = process.pid;
  let line = `${errorTime()} [${level}] ${pid}#${pid}: `;
  if (ctx) {
    line += `*${ctx.connection} ${message}, client: ${ctx.client}, server: ${ctx.server}`;
    if (ctx.request !== undefined) line += `, request: "${errorEscape(ctx.request)}"`;
    if (ctx.upstream !== undefined) line += `, upstream: "${errorEscape(ctx.upstream)}"`;
    if (ctx.host !== undefined) line += `, host: "${errorEscape(ctx.host)}"`;
    if (ctx.referrer !== undefined) line += `, referrer: "${errorEscape(ctx.referrer)}"`;
  } else {
    line += message;
  }
  return `${line}\n`;
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: "Connection refused",
  ECONNRESET: "Connection reset by peer",
  ETIMEDOUT: "Connection timed out",
  EPIPE: "Broken pipe",
  EHOSTUNREACH: "No route to host",
  ENETUNREACH: "Network is unreachable",
  EADDRNOTAVAIL: "Cannot assign requested address",
  EADDRINUSE: "Address already in use",
  EACCES: "Permission denied",
  ENOENT: "No such file or directory",
  ELOOP: "Too many levels of symbolic links",
  EAGAIN: "Resource temporarily unavailable",
  ENOTDIR: "Not a directory",
  EPROTOTYPE: "Protocol wrong type for socket",
  ENETDOWN: "Network is down",
  EHOSTDOWN: "Host is down",
};

/** `(111: Connection refused)`: the errno as this system numbers it, and strerror's text. */
export function errnoText(code: string): string {
  const number = (constants.errno as Record<string, number | undefined>)[code];
  const text = ERRNO_TEXT[code] ?? code;
  return number === undefined ? `(${text})` : `(${number}: ${text})`;
}

/** The lines `error_log stderr notice;` shows when nginx starts. */
export function startupLines(): string {
  const method =
    process.platform === "linux"
      ? "epoll"
      : process.platform === "win32"
        ? "select"
        : process.platform === "sunos"
          ? "eventport"
          : "kqueue";
  return (
    errorLine("notice", `using the "${method}" event method`) +
    errorLine("notice", NGINX) +
    errorLine("notice", `OS: ${type()} ${release()}`)
  );
}
