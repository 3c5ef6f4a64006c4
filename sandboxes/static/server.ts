/**
 * `python3 -m http.server` (CPython 3.11.2, SimpleHTTPRequestHandler, protocol HTTP/1.0) over a
 * raw TCP server: same bytes on the wire, same log lines, plus confinement to the served
 * directory (symlinks included) and redirects that cannot leave the site.
 */

import { createServer, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { stderrOut } from "../shared/output.js";
import type { RequestEvent } from "../shared/protocol.js";
import { ifModifiedSinceSeconds } from "../shared/pydate.js";
import {
  htmlEscape,
  httpDate,
  httpDateNow,
  logDateTimeNow,
  pyRepr,
  pyRstrip,
  scrubLogText,
} from "../shared/python.js";
import {
  decodeUtf8,
  encodeUtf8,
  hasLoneSurrogate,
  lstripC0,
  PyValueError,
  quote,
  unquote,
  unquotePath,
  urlsplit,
  urlunsplit,
} from "../shared/pyurl.js";
import {
  CACHEABLE,
  closeQuietly,
  type FsPath,
  listDirectory,
  openFile,
  type Root,
  readAt,
  smallFileBody,
} from "./files.js";
import { guessType } from "./mime.js";
import {
  type HeaderField,
  headerRecord,
  headerValue,
  MAX_HEADERS,
  MAX_LINE,
  parseHeaderLines,
  parseRequestLine,
} from "./request.js";

export const SERVER_VERSION = "SimpleHTTP/0.6 Python/3.11.2";
const PROTOCOL = "HTTP/1.0";
/** socketserver.TCPServer.request_queue_size. */
export const LISTEN_BACKLOG = 5;
// Python waits forever; a very long idle limit only reclaims connections nobody will use.
const IDLE_TIMEOUT_MS = 5 * 60_000;
// After our FIN, give the client this long to close before the socket is destroyed.
const LINGER_MS = 2_000;
// With threading off, connections beyond this many waiting are refused (Python's kernel queue
// holds 5; this one only bounds memory).
const MAX_WAITING = 1000;
const TRANSLATED_ENTRIES = 1024;

const RESPONSES: Record<number, [string, string]> = {
  200: ["OK", "Request fulfilled, document follows"],
  301: ["Moved Permanently", "Object moved permanently -- see URI list"],
  304: ["Not Modified", "Document has not changed since given time"],
  400: ["Bad Request", "Bad request syntax or unsupported method"],
  404: ["Not Found", "Nothing matches the given URI"],
  414: ["Request-URI Too Long", "URI is too long"],
  431: [
    "Request Header Fields Too Large",
    "The server is unwilling to process the request because its header fields are too large",
  ],
  501: ["Not Implemented", "Server does not support this operation"],
  505: ["HTTP Version Not Supported", "Cannot fulfill request"],
};

function errorPage(code: number, message: string, explain: string): string {
  return `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: ${code}</p>
        <p>Message: ${htmlEscape(message)}.</p>
        <p>Error code explanation: ${code} - ${htmlEscape(explain)}.</p>
    </body>
</html>
`;
}

const DASHES = "-".repeat(40);
const PY = "/usr/lib/python3.11";
const THREAD_FRAMES = `  File "${PY}/socketserver.py", line 691, in process_request_thread
    self.finish_request(request, client_address)
`;
const NOBLOCK_FRAMES = `  File "${PY}/socketserver.py", line 317, in _handle_request_noblock
    self.process_request(request, client_address)
  File "${PY}/socketserver.py", line 348, in process_request
    self.finish_request(request, client_address)
`;
const HANDLER_FRAMES = `  File "${PY}/http/server.py", line 1306, in finish_request
    self.RequestHandlerClass(request, client_address, self,
  File "${PY}/http/server.py", line 667, in __init__
    super().__init__(*args, **kwargs)
  File "${PY}/socketserver.py", line 755, in __init__
    self.handle()
  File "${PY}/http/server.py", line 432, in handle
    self.handle_one_request()
  File "${PY}/http/server.py", line 420, in handle_one_request
    method()
`;
const OPEN_FRAMES = `  File "${PY}/http/server.py", line 726, in send_head
    f = open(path, 'rb')
        ^^^^^^^^^^^^^^^^
`;
const URLSPLIT_FRAMES = `  File "${PY}/http/server.py", line 698, in send_head
    parts = urllib.parse.urlsplit(self.path)
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "${PY}/urllib/parse.py", line 514, in urlsplit
    raise ValueError("Invalid IPv6 URL")
`;
const LISTING_FRAMES = `  File "${PY}/http/server.py", line 715, in send_head
    return self.list_directory(path)
           ^^^^^^^^^^^^^^^^^^^^^^^^^
  File "${PY}/http/server.py", line 819, in list_directory
    encoded = '\\n'.join(r).encode(enc, 'surrogateescape')
              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
`;

/** The redirect target, forced to stay on this site: one leading `/`, never `//` or `/\`. */
export function onSiteLocation(location: string): string {
  let out = location;
  if (!out.startsWith("/")) out = `/${lstripC0(out)}`;
  if (out[1] === "/" || out[1] === "\\") {
    const lead = /^[/\\]+/.exec(out)?.[0] ?? "/";
    out = `/${lead.replace(/\//g, "").replace(/\\/g, "%5C")}${out.slice(lead.length)}`;
  }
  return out;
}

let lastMtimeSecond = Number.NaN;
let lastMtimeText = "";

/** date_time_string(st_mtime), remembered for the last second seen. */
function lastModifiedHeader(mtimeMs: number): string {
  const second = Math.floor(mtimeMs / 1000);
  if (second !== lastMtimeSecond) {
    lastMtimeSecond = second;
    lastMtimeText = httpDate(second);
  }
  return lastMtimeText;
}

function drained(socket: Socket): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      socket.off("drain", finish);
      socket.off("close", finish);
      done();
    };
    socket.on("drain", finish);
    socket.on("close", finish);
  });
}

function codePointCompare(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

type Head =
  | { kind: "stream"; fd: number }
  | { kind: "body"; body: Buffer }
  | { kind: "done" }
  | { kind: "drop" };

export interface StaticServerOptions {
  /** The served directory as given (absolute): what translate_path joins onto. */
  directory: string;
  root: Root;
  threading: boolean;
  onRequest?(event: RequestEvent): void;
}

interface Context extends StaticServerOptions {
  /** translate_path's answers so far, by request path. */
  translated: Map<string, string>;
}

let nextRequestId = 1;

enum Phase {
  RequestLine = 0,
  Headers = 1,
  Handling = 2,
  Done = 3,
}

class Exchange {
  #phase = Phase.RequestLine;
  #pending: Buffer[] = [];
  #pendingLen = 0;
  #rawHeaders: string[] = [];
  #fields: HeaderField[] = [];
  #requestline = "";
  #target = "";
  #firstWord = "";
  #command: string | null = null;
  #path = "";
  #version = "HTTP/0.9";
  #head = "";
  #status = 0;
  #reason = "";
  #responseHeaders: Record<string, string> = {};
  #errorBody: Buffer | undefined;
  #started = 0;
  #closed = false;
  #released = false;
  /** performance.now() of the last bytes in or out, for the idle sweep. */
  lastActive = performance.now();
  /** performance.now() when our FIN went out; 0 before. */
  endedAt = 0;
  readonly #remote: string;
  readonly #remotePort: number;
  readonly #ipv6: boolean;

  constructor(
    readonly socket: Socket,
    private readonly options: Context,
    /** Called once when this connection no longer holds the server (threading off). */
    private readonly release: () => void,
    /** Called once the socket is closed. */
    private readonly closed: (exchange: Exchange) => void,
  ) {
    this.#remote = socket.remoteAddress ?? "";
    this.#remotePort = socket.remotePort ?? 0;
    this.#ipv6 = socket.remoteFamily === "IPv6";
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#phase = Phase.Done;
      this.#release();
      this.closed(this);
    });
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.release();
  }

  // Reading: rfile.readline(65537) for the request line, http.client._read_headers after it.

  #onData(chunk: Buffer): void {
    if (this.#phase >= Phase.Handling) return;
    this.lastActive = performance.now();
    if (this.#started === 0) this.#started = this.lastActive;
    let start = 0;
    while (this.#phase < Phase.Handling) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        if (start < chunk.length) {
          this.#pending.push(start === 0 ? chunk : chunk.subarray(start));
          this.#pendingLen += chunk.length - start;
        }
        if (this.#pendingLen > MAX_LINE) this.#lineTooLong();
        return;
      }
      const piece = chunk.subarray(start, nl + 1);
      const line =
        this.#pendingLen === 0
          ? piece
          : Buffer.concat([...this.#pending, piece], this.#pendingLen + piece.length);
      this.#pending = [];
      this.#pendingLen = 0;
      start = nl + 1;
      if (line.length > MAX_LINE) {
        this.#lineTooLong();
        return;
      }
      this.#onLine(line.toString("latin1"));
    }
  }

  #onEnd(): void {
    if (this.#phase >= Phase.Handling) return;
    if (this.#pendingLen > 0) {
      const rest = Buffer.concat(this.#pending, this.#pendingLen).toString("latin1");
      this.#pending = [];
      this.#pendingLen = 0;
      this.#onLine(rest);
    }
    if (this.#phase === Phase.RequestLine) {
      this.#close();
      return;
    }
    if (this.#phase === Phase.Headers) this.#onLine("");
  }

  #lineTooLong(): void {
    this.#pending = [];
    this.#pendingLen = 0;
    if (this.#phase === Phase.RequestLine) {
      this.#phase = Phase.Handling;
      this.#requestline = "";
      this.#version = "";
      this.#command = "";
      this.#sendError(414);
      this.#finish();
    } else {
      this.#phase = Phase.Handling;
      this.#sendError(431, "Line too long", "got more than 65536 bytes when reading header line");
      this.#finish();
    }
  }

  #onLine(line: string): void {
    if (this.#phase === Phase.RequestLine) {
      if (this.#started === 0) this.#started = performance.now();
      this.#requestline = line.replace(/[\r\n]+$/, "");
      const outcome = parseRequestLine(this.#requestline);
      this.#target = outcome.words[1] ?? "";
      this.#firstWord = outcome.words[0] ?? "";
      if (outcome.kind === "silent") {
        this.#phase = Phase.Done;
        this.#close();
        return;
      }
      if (outcome.kind === "error") {
        this.#phase = Phase.Handling;
        this.#version = outcome.version;
        this.#sendError(outcome.code, outcome.message);
        this.#finish();
        return;
      }
      this.#command = outcome.command;
      this.#path = outcome.path;
      this.#version = outcome.version;
      this.#phase = Phase.Headers;
      return;
    }
    this.#rawHeaders.push(line);
    if (this.#rawHeaders.length > MAX_HEADERS) {
      this.#phase = Phase.Handling;
      this.#sendError(431, "Too many headers", `got more than ${MAX_HEADERS} headers`);
      this.#finish();
      return;
    }
    if (line === "\r\n" || line === "\n" || line === "") {
      this.#phase = Phase.Handling;
      this.#fields = parseHeaderLines(this.#rawHeaders);
      void this.#dispatch();
    }
  }

  async #dispatch(): Promise<void> {
    const command = this.#command ?? "";
    if (command !== "GET" && command !== "HEAD") {
      this.#sendError(501, `Unsupported method (${pyRepr(command)})`);
      this.#finish();
      return;
    }
    try {
      const head = await this.#sendHead();
      if (head.kind === "drop") {
        this.#close();
        return;
      }
      if (head.kind === "stream") {
        if (command === "HEAD") {
          closeQuietly(head.fd);
          this.#finish();
        } else {
          await this.#streamFile(head.fd);
        }
        return;
      }
      this.#finish(head.kind === "body" && command !== "HEAD" ? head.body : undefined);
    } catch (err) {
      this.#traceback("", `${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.#close();
    }
  }

  // Writing: BaseHTTPRequestHandler.send_response / send_header / end_headers / send_error.

  #logMessage(message: string): void {
    stderrOut.write(`${this.#remote} - - [${logDateTimeNow()}] ${scrubLogText(message)}\n`);
  }

  #sendResponse(code: number, message?: string): void {
    this.#logMessage(`"${this.#requestline}" ${code} -`);
    const reason = message ?? RESPONSES[code]?.[0] ?? "";
    this.#status = code;
    this.#reason = reason;
    if (this.#version !== "HTTP/0.9") this.#head += `${PROTOCOL} ${code} ${reason}\r\n`;
    this.#sendHeader("Server", SERVER_VERSION);
    this.#sendHeader("Date", httpDateNow());
  }

  #sendHeader(name: string, value: string): void {
    if (this.#version === "HTTP/0.9") return;
    this.#head += `${name}: ${value}\r\n`;
    if (this.options.onRequest) this.#responseHeaders[name] = value;
  }

  #endHeaders(): void {
    if (this.#version !== "HTTP/0.9") this.#head += "\r\n";
  }

  #sendError(code: number, message?: string, explain?: string): void {
    const [short, long] = RESPONSES[code] ?? ["???", "???"];
    const msg = message ?? short;
    this.#logMessage(`code ${code}, message ${msg}`);
    this.#sendResponse(code, msg);
    this.#sendHeader("Connection", "close");
    let body: Buffer | undefined;
    if (code >= 200 && code !== 204 && code !== 205 && code !== 304) {
      body = Buffer.from(errorPage(code, msg, explain ?? long), "utf8");
      this.#sendHeader("Content-Type", "text/html;charset=utf-8");
      this.#sendHeader("Content-Length", String(body.length));
    }
    this.#endHeaders();
    if (this.#command !== "HEAD" && body) this.#errorBody = body;
  }

  #finish(body?: Buffer): void {
    const out = body ?? this.#errorBody;
    if (!this.#closed) {
      const headLength = this.#head.length;
      const bodyLength = out?.length ?? 0;
      const bytes = Buffer.allocUnsafe(headLength + bodyLength);
      bytes.write(this.#head, 0, "latin1");
      if (out) out.copy(bytes, headLength);
      this.#close(bytes);
    }
    this.#emit(out?.length ?? 0);
  }

  async #streamFile(fd: number): Promise<void> {
    if (this.#closed) {
      closeQuietly(fd);
      return;
    }
    const socket = this.socket;
    socket.write(this.#head, "latin1");
    let sent = 0;
    while (!this.#closed) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const n = await readAt(fd, chunk, sent);
      if (n === 0) break;
      sent += n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await drained(socket);
      this.lastActive = performance.now();
    }
    closeQuietly(fd);
    this.#close();
    this.#emit(sent);
  }

  /** socketserver's shutdown_request: our FIN (after `last`, if given), then the next client. */
  #close(last?: Buffer): void {
    this.#phase = Phase.Done;
    const socket = this.socket;
    if (this.#closed || socket.destroyed) {
      this.#release();
      return;
    }
    this.endedAt = performance.now();
    if (this.options.threading) {
      if (last) socket.end(last);
      else socket.end();
      this.#release();
    } else if (last) {
      socket.end(last, () => this.#release());
    } else {
      socket.end(() => this.#release());
    }
  }

  #emit(bytes: number): void {
    const onRequest = this.options.onRequest;
    if (!onRequest || this.#status === 0) return;
    const pathOnly = this.#path.split("?", 1)[0]?.split("#", 1)[0] ?? "";
    onRequest({
      type: "request",
      id: nextRequestId++,
      time: new Date().toISOString(),
      remote: this.#remote,
      method: this.#command ?? this.#firstWord,
      target: this.#target,
      path: unquote(pathOnly),
      version: this.#version,
      status: this.#status,
      reason: this.#reason,
      requestHeaders: headerRecord(this.#fields),
      responseHeaders: this.#responseHeaders,
      bytes,
      durationMs: Math.round((performance.now() - this.#started) * 1000) / 1000,
    });
  }

  #traceback(frames: string, last: string): void {
    const address = this.#ipv6
      ? `('${this.#remote}', ${this.#remotePort}, 0, 0)`
      : `('${this.#remote}', ${this.#remotePort})`;
    const method =
      this.#command === "HEAD"
        ? `  File "${PY}/http/server.py", line 680, in do_HEAD\n`
        : `  File "${PY}/http/server.py", line 671, in do_GET\n`;
    stderrOut.write(
      `${DASHES}\nException occurred during processing of request from ${address}\n` +
        "Traceback (most recent call last):\n" +
        (this.options.threading ? THREAD_FRAMES : NOBLOCK_FRAMES) +
        HANDLER_FRAMES +
        method +
        "    f = self.send_head()\n        ^^^^^^^^^^^^^^^^\n" +
        frames +
        `${last}\n${DASHES}\n`,
    );
  }

  // SimpleHTTPRequestHandler.

  /** translate_path, remembered: it depends on nothing but the request path. */
  #translatePath(path: string): string {
    const known = this.options.translated.get(path);
    if (known !== undefined) return known;
    const out = this.#translate(path);
    const translated = this.options.translated;
    if (translated.size >= TRANSLATED_ENTRIES) translated.clear();
    translated.set(path, out);
    return out;
  }

  #translate(path: string): string {
    let p = path.split("?", 1)[0] ?? "";
    p = p.split("#", 1)[0] ?? "";
    const last = p.charCodeAt(p.length - 1);
    const trailingSlash =
      last === 0x2f || (last <= 0x20 || last >= 0x85 ? pyRstrip(p).endsWith("/") : false);
    p = unquotePath(p);
    const words: string[] = [];
    for (const word of p.split("/")) {
      if (word === "" || word === ".") continue;
      if (word === "..") {
        words.pop();
        continue;
      }
      words.push(word);
    }
    let out = this.options.directory;
    for (const word of words) {
      if (process.platform === "win32" && /[\\:]/.test(word)) continue;
      out = out.endsWith("/") ? out + word : `${out}/${word}`;
    }
    if (trailingSlash) out += "/";
    return out;
  }

  async #sendHead(): Promise<Head> {
    const path = this.#translatePath(this.#path);
    let fsPath: FsPath | undefined;
    let encodeError: PyValueError | undefined;
    if (!path.includes("\0")) {
      try {
        fsPath = hasLoneSurrogate(path) ? encodeUtf8(path, "surrogateescape") : path;
      } catch (err) {
        if (!(err instanceof PyValueError)) throw err;
        encodeError = err;
      }
    }
    const root = this.options.root;
    const looked = fsPath === undefined ? null : root.lookup(fsPath);
    let target = looked instanceof Promise ? await looked : looked;
    let servedPath = path;

    if (target?.kind === "dir") {
      let parts: ReturnType<typeof urlsplit>;
      try {
        parts = urlsplit(this.#path);
      } catch (err) {
        if (!(err instanceof PyValueError)) throw err;
        this.#traceback(URLSPLIT_FRAMES, `ValueError: ${err.message}`);
        return { kind: "drop" };
      }
      if (!parts.path.endsWith("/")) {
        this.#sendResponse(301);
        const location = urlunsplit({ ...parts, path: `${parts.path}/` });
        this.#sendHeader("Location", onSiteLocation(location));
        this.#sendHeader("Content-Length", "0");
        this.#endHeaders();
        return { kind: "done" };
      }
      const dir = target.real;
      target = null;
      for (const index of ["index.html", "index.htm"]) {
        const candidate = path.endsWith("/") ? path + index : `${path}/${index}`;
        const candidateFs =
          typeof fsPath === "string" ? candidate : encodeUtf8(candidate, "surrogateescape");
        const lookedUp = root.lookup(candidateFs);
        const found = lookedUp instanceof Promise ? await lookedUp : lookedUp;
        if (found?.kind === "file") {
          target = found;
          servedPath = candidate;
          break;
        }
      }
      if (!target) return this.#listDirectory(path, dir);
    }

    const ctype = guessType(servedPath);
    if (servedPath.endsWith("/")) {
      this.#sendError(404, "File not found");
      return { kind: "done" };
    }
    if (path.includes("\0")) {
      this.#traceback(OPEN_FRAMES, "ValueError: embedded null byte");
      return { kind: "drop" };
    }
    if (encodeError) {
      this.#traceback(OPEN_FRAMES, `UnicodeEncodeError: ${encodeError.message}`);
      return { kind: "drop" };
    }
    if (target?.kind !== "file") {
      this.#sendError(404, "File not found");
      return { kind: "done" };
    }

    // open() comes before the If-Modified-Since check, as in send_head: unreadable is a 404.
    const { stats } = target;
    let body: Buffer | null = null;
    let fd: number | null = null;
    if (stats.size <= CACHEABLE) {
      const small = smallFileBody(target.real, stats);
      body = small instanceof Promise ? await small : small;
    } else {
      fd = await openFile(target.real);
    }
    if (body === null && fd === null) {
      this.#sendError(404, "File not found");
      return { kind: "done" };
    }

    const ims = headerValue(this.#fields, "If-Modified-Since");
    if (ims !== undefined && headerValue(this.#fields, "If-None-Match") === undefined) {
      const since = ifModifiedSinceSeconds(ims);
      if (since !== undefined) {
        // datetime.fromtimestamp rounds to microseconds, then the microseconds are dropped.
        const lastModified = Math.floor(Math.round(stats.mtimeMs * 1000) / 1e6);
        if (lastModified <= since) {
          if (fd !== null) closeQuietly(fd);
          this.#sendResponse(304);
          this.#endHeaders();
          return { kind: "done" };
        }
      }
    }
    this.#sendResponse(200);
    this.#sendHeader("Content-type", ctype);
    this.#sendHeader("Content-Length", String(stats.size));
    this.#sendHeader("Last-Modified", lastModifiedHeader(stats.mtimeMs));
    this.#endHeaders();
    return fd !== null ? { kind: "stream", fd } : { kind: "body", body: body ?? Buffer.alloc(0) };
  }

  async #listDirectory(path: string, dir: FsPath): Promise<Head> {
    let entries: Awaited<ReturnType<typeof listDirectory>>;
    try {
      entries = await listDirectory(dir);
    } catch {
      this.#sendError(404, "No permission to list directory");
      return { kind: "done" };
    }
    const named = entries.map((entry) => {
      const name = decodeUtf8(entry.raw, "surrogateescape");
      return { ...entry, name, key: name.toLowerCase() };
    });
    named.sort((a, b) => codePointCompare(a.key, b.key));
    let displayPath: string;
    try {
      displayPath = unquote(this.#path, "surrogatepass");
    } catch {
      displayPath = unquote(path);
    }
    const title = `Directory listing for ${htmlEscape(displayPath)}`;
    const r = [
      "<!DOCTYPE HTML>",
      '<html lang="en">',
      "<head>",
      '<meta charset="utf-8">',
      `<title>${title}</title>\n</head>`,
      `<body>\n<h1>${title}</h1>`,
      "<hr>\n<ul>",
    ];
    for (const entry of named) {
      let displayName = entry.name;
      let linkName = entry.name;
      if (entry.isDir) {
        displayName = `${entry.name}/`;
        linkName = `${entry.name}/`;
      }
      if (entry.isLink) displayName = `${entry.name}@`;
      r.push(`<li><a href="${quote(linkName)}">${htmlEscape(displayName)}</a></li>`);
    }
    r.push("</ul>\n<hr>\n</body>\n</html>\n");
    let encoded: Buffer;
    try {
      encoded = encodeUtf8(r.join("\n"), "surrogateescape");
    } catch (err) {
      if (!(err instanceof PyValueError)) throw err;
      this.#traceback(LISTING_FRAMES, `UnicodeEncodeError: ${err.message}`);
      return { kind: "drop" };
    }
    this.#sendResponse(200);
    this.#sendHeader("Content-type", "text/html; charset=utf-8");
    this.#sendHeader("Content-Length", String(encoded.length));
    this.#endHeaders();
    return { kind: "body", body: encoded };
  }
}

export interface StaticServer {
  readonly server: Server;
  /** Stops accepting; open connections get `graceMs` to finish, then are dropped. */
  close(graceMs: number): Promise<void>;
}

/**
 * The listening server. With threading on, every connection is served at once
 * (ThreadingHTTPServer); off, one connection at a time, the others waiting unread (HTTPServer).
 */
export function createStaticServer(serverOptions: StaticServerOptions): StaticServer {
  const options: Context = { ...serverOptions, translated: new Map() };
  const waiting: Socket[] = [];
  const exchanges = new Set<Exchange>();
  let busy = false;

  const forget = (exchange: Exchange) => {
    exchanges.delete(exchange);
  };
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const exchange of exchanges) {
      const lingering = exchange.endedAt > 0 && now - exchange.endedAt > LINGER_MS;
      if (lingering || now - exchange.lastActive > IDLE_TIMEOUT_MS) exchange.socket.destroy();
    }
  }, 1000);
  sweep.unref();

  const serveNext = () => {
    while (!busy) {
      const socket = waiting.shift();
      if (!socket) return;
      if (socket.destroyed) continue;
      busy = true;
      const release = () => {
        busy = false;
        setImmediate(serveNext);
      };
      exchanges.add(new Exchange(socket, options, release, forget));
      socket.resume();
    }
  };

  const server = createServer(
    { allowHalfOpen: true, pauseOnConnect: !options.threading },
    (socket) => {
      if (options.threading) {
        exchanges.add(new Exchange(socket, options, () => {}, forget));
        return;
      }
      socket.on("error", () => {});
      if (waiting.length >= MAX_WAITING) {
        socket.destroy();
        return;
      }
      waiting.push(socket);
      serveNext();
    },
  );
  server.on("error", () => {});

  const close = (graceMs: number): Promise<void> =>
    new Promise((done) => {
      server.close();
      clearInterval(sweep);
      for (const socket of waiting.splice(0)) socket.destroy();
      let poll: NodeJS.Timeout | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearInterval(poll);
        clearTimeout(timer);
        for (const exchange of exchanges) exchange.socket.destroy();
        done();
      };
      if (exchanges.size === 0 || graceMs <= 0) return finish();
      timer = setTimeout(finish, graceMs);
      poll = setInterval(() => {
        if (exchanges.size === 0) finish();
      }, 10);
    });

  return { server, close };
}
