/**
 * `location /static/ { alias DIR/; }`: files from one folder, with nginx's headers, conditional
 * GET and byte ranges, and nothing from outside that folder.
 */

import { close, constants, fstat, open, type Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { extname, isAbsolute, join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { httpDate } from "../shared/python.js";
import { errnoText } from "./nginx.js";

/** nginx's mime.types, for the files a site usually has; anything else is application/octet-stream. */
const MIME: Record<string, string> = {
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".js": "application/javascript",
  ".mjs": "application/javascript",
  ".json": "application/json",
  ".txt": "text/plain",
  ".xml": "text/xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".wasm": "application/wasm",
  ".mp4": "video/mp4",
};

export interface StaticRoot {
  /** The folder as configured (absolute): what the error log names. */
  dir: string;
  /** Its real path, which every file served must be inside. */
  real: string;
}

export interface StaticRequest {
  method: string;
  /** The normalised path below the location, e.g. `css/site.css` for `/static/css/site.css`. */
  rel: string;
  /** The location's prefix, `/static/`. */
  prefix: string;
  query: string;
  host?: string;
  /** The port the client connected to: nginx puts it in a redirect (port_in_redirect on). */
  port: number;
  header(name: string): string | undefined;
}

export interface StaticReply {
  status: number;
  /** Headers nginx writes before Connection (Content-Type, Content-Length, Last-Modified, Location). */
  early: [string, string][];
  /** Headers after Connection (ETag, Accept-Ranges, Content-Range). */
  late: [string, string][];
  /** The file's bytes to send, from an open descriptor; absent for HEAD, 304, errors. */
  file?: { fd: number; start: number; length: number };
  /** The error page nginx sends instead of a file. */
  errorPage?: boolean;
  /** An error-log message (nginx logs these at error level). */
  log?: string;
  /** The file on disk, for the lab. */
  fsPath?: string;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

const openFile = promisify(open) as (path: string, flags: number) => Promise<number>;
const statFd = promisify(fstat) as (fd: number) => Promise<Stats>;

function errorReply(status: number, log?: string): StaticReply {
  return { status, early: [], late: [], errorPage: true, ...(log ? { log } : {}) };
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "EIO";
}

/** `"<mtime hex>-<size hex>"`, as nginx makes its ETags. */
function etagOf(st: Stats): string {
  return `"${Math.floor(st.mtimeMs / 1000).toString(16)}-${st.size.toString(16)}"`;
}

/** A single `bytes=` range; undefined to send the whole file, "unsatisfiable" for a 416. */
function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

/** Answers one request for a file below `root`. Never opens anything outside `root.real`. */
export async function serveStatic(root: StaticRoot, req: StaticRequest): Promise<StaticReply> {
  const segments = req.rel === "" ? [] : req.rel.split("/");
  // On Windows `\` and `:` would change which file a name means.
  if (process.platform === "win32" && segments.some((s) => s.includes("\\") || s.includes(":")))
    return errorReply(404);
  const wantsDirectory = req.rel === "" || req.rel.endsWith("/");
  const fsPath = join(root.dir, ...segments);
  if (!inside(root.dir, fsPath)) return errorReply(404);
  if (req.method !== "GET" && req.method !== "HEAD") return errorReply(405);

  const target = wantsDirectory ? join(fsPath, "index.html") : fsPath;
  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    const c = code(err);
    if (wantsDirectory) {
      const dirStat = await stat(fsPath).catch(() => undefined);
      if (dirStat?.isDirectory() && c === "ENOENT") {
        const shown = fsPath.endsWith(sep) ? fsPath : `${fsPath}${sep}`;
        return errorReply(403, `directory index of "${shown}" is forbidden`);
      }
      return errorReply(
        404,
        `"${target}" is not found ${errnoText(c === "ENOTDIR" ? c : "ENOENT")}`,
      );
    }
    return errorReply(
      404,
      `open() "${target}" failed ${errnoText(c === "ENOTDIR" ? c : "ENOENT")}`,
    );
  }
  // A link that leads out of the folder is refused, as with `disable_symlinks on`.
  if (!inside(root.real, real))
    return errorReply(403, `open() "${target}" failed ${errnoText("ELOOP")}`);

  let fd: number;
  try {
    fd = await openFile(real, constants.O_RDONLY);
  } catch (err) {
    const c = code(err);
    return errorReply(c === "EACCES" ? 403 : 404, `open() "${target}" failed ${errnoText(c)}`);
  }
  let st: Stats;
  try {
    st = await statFd(fd);
  } catch (err) {
    closeFd(fd);
    return errorReply(404, `fstat() "${target}" failed ${errnoText(code(err))}`);
  }
  if (st.isDirectory()) {
    closeFd(fd);
    // server_name_in_redirect off, port_in_redirect on: the Host's name and the port listened on.
    const name = (req.host ?? "localhost").replace(/:\d*$/, "");
    const port = req.port === 80 ? "" : `:${req.port}`;
    const location = `http://${name}${port}${req.prefix}${req.rel}/${req.query ? `?${req.query}` : ""}`;
    return {
      status: 301,
      early: [
        ["Content-Type", "text/html"],
        ["Location", location],
      ],
      late: [],
      errorPage: true,
    };
  }
  if (!st.isFile()) {
    closeFd(fd);
    return errorReply(404, `open() "${target}" failed ${errnoText("ENOENT")}`);
  }

  const type = MIME[extname(real).toLowerCase()] ?? "application/octet-stream";
  const lastModified = httpDate(Math.floor(st.mtimeMs / 1000));
  const etag = etagOf(st);
  const ifNoneMatch = req.header("if-none-match");
  const ifModifiedSince = req.header("if-modified-since");
  const notModified =
    ifNoneMatch !== undefined
      ? ifNoneMatch.split(",").some((t) => {
          const tag = t.trim();
          return tag === "*" || tag === etag || tag === `W/${etag}`;
        })
      : ifModifiedSince !== undefined && ifModifiedSince === lastModified;
  if (notModified) {
    closeFd(fd);
    return {
      status: 304,
      early: [["Last-Modified", lastModified]],
      late: [["ETag", etag]],
      fsPath: real,
    };
  }
  const range = parseRange(req.header("range"), st.size);
  if (range === "unsatisfiable") {
    closeFd(fd);
    return {
      status: 416,
      early: [],
      late: [["Content-Range", `bytes */${st.size}`]],
      errorPage: true,
    };
  }
  const start = range ? range.start : 0;
  const length = range ? range.end - range.start + 1 : st.size;
  const reply: StaticReply = {
    status: range ? 206 : 200,
    early: [
      ["Content-Type", type],
      ["Content-Length", String(length)],
      ["Last-Modified", lastModified],
    ],
    late: range
      ? [
          ["ETag", etag],
          ["Content-Range", `bytes ${range.start}-${range.end}/${st.size}`],
        ]
      : [
          ["ETag", etag],
          ["Accept-Ranges", "bytes"],
        ],
    fsPath: real,
  };
  if (req.method === "HEAD" || length === 0) closeFd(fd);
  else reply.file = { fd, start, length };
  return reply;
}

/** Closes a descriptor `serveStatic` opened, once its bytes are sent (or not needed). */
export function closeFd(fd: number): void {
  close(fd, () => {});
}
