import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorEvent, ListeningEvent, RequestEvent } from "../../sandboxes/shared/protocol.js";
import { checkEnvelope } from "../../src/lab/events.js";
import {
  get,
  header,
  isAlive,
  parse,
  type Running,
  raw,
  removeStaticEntry,
  sleep,
  startStatic,
  staticEntry,
} from "./helpers.js";

// Byte for byte from ../shared/reference/real-servers (python3 -m http.server, CPython 3.11.2).
const NOT_FOUND_BODY = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 404</p>
        <p>Message: File not found.</p>
        <p>Error code explanation: 404 - Nothing matches the given URI.</p>
    </body>
</html>
`;
const POST_BODY = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 501</p>
        <p>Message: Unsupported method ('POST').</p>
        <p>Error code explanation: 501 - Server does not support this operation.</p>
    </body>
</html>
`;
const SUB_LISTING = `<!DOCTYPE HTML>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Directory listing for /sub/</title>
</head>
<body>
<h1>Directory listing for /sub/</h1>
<hr>
<ul>
<li><a href="f.txt">f.txt</a></li>
</ul>
<hr>
</body>
</html>
`;
const ROOT_LISTING = `<!DOCTYPE HTML>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Directory listing for /</title>
</head>
<body>
<h1>Directory listing for /</h1>
<hr>
<ul>
<li><a href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt">&lt;img src=x onerror=alert(1)&gt;.txt</a></li>
<li><a href="%3Cscript%3Ealert%281%29.txt">&lt;script&gt;alert(1).txt</a></li>
<li><a href="a%26b%20%22q%22.txt">a&amp;b "q".txt</a></li>
<li><a href="a.css">a.css</a></li>
<li><a href="a.js">a.js</a></li>
<li><a href="a.json">a.json</a></li>
<li><a href="a.png">a.png</a></li>
<li><a href="a.wasm">a.wasm</a></li>
<li><a href="hello.txt">hello.txt</a></li>
<li><a href="h%C3%A9llo%20w%C3%B6rld.txt">héllo wörld.txt</a></li>
<li><a href="index2.html">index2.html</a></li>
<li><a href="sub/">sub/</a></li>
</ul>
<hr>
</body>
</html>
`;

const LOG_TIME = String.raw`\[\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4} \d\d:\d\d:\d\d\]`;
const ACCESS = (request: string, code: number) =>
  new RegExp(
    `^127\\.0\\.0\\.1 - - ${LOG_TIME} "${request.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}" ${code} -$`,
    "m",
  );
const SECRET = "TOP SECRET, outside the served directory";
const MTIME = new Date("2026-11-26T09:57:02Z");

let site: string;
let outside: string;
let listingDir: string;

function write(dir: string, name: string, content: string | Buffer): void {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, MTIME, MTIME);
}

function makeSites(): void {
  site = mkdtempSync(join(tmpdir(), "lws-static-test-"));
  outside = mkdtempSync(join(tmpdir(), "lws-static-outside-"));
  listingDir = mkdtempSync(join(tmpdir(), "lws-static-listing-"));
  write(outside, "secret.txt", SECRET);
  mkdirSync(join(outside, "dir"));
  write(outside, "dir/inner.txt", SECRET);

  write(site, "hello.txt", "hello\n");
  write(site, "sub/f.txt", "f\n");
  write(site, "site/index.html", "<p>index</p>\n");
  write(site, "big.bin", Buffer.alloc(2 * 1024 * 1024, 0x61));
  write(site, "example.com/x.txt", "x");
  write(site, "\\example.com/x.txt", "x");
  write(site, "http:/evil/x/y.txt", "y");
  for (const name of [
    "index2.html",
    "a.css",
    "a.js",
    "a.mjs",
    "a.json",
    "a.png",
    "a.wasm",
    "a.svg",
    "a.md",
    "a.gz",
    "a.tar.gz",
    "noext",
    "a.jpg",
    "a.ico",
    "a.xml",
    "a.woff2",
    "a.TXT",
  ]) {
    write(site, name, "x");
  }
  symlinkSync(join(outside, "secret.txt"), join(site, "secret-link.txt"));
  symlinkSync(join(outside, "dir"), join(site, "outside-dir"));
  symlinkSync("sub", join(site, "inside-dir"));
  symlinkSync("hello.txt", join(site, "inside-link.txt"));

  for (const name of [
    "<img src=x onerror=alert(1)>.txt",
    "<script>alert(1).txt",
    'a&b "q".txt',
    "a.css",
    "a.js",
    "a.json",
    "a.png",
    "a.wasm",
    "hello.txt",
    "héllo wörld.txt",
    "index2.html",
    "sub/f.txt",
  ]) {
    write(listingDir, name, "x");
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

let server: Running;

beforeAll(async () => {
  staticEntry();
  makeSites();
  server = await startStatic(["--port", "0", "--directory", site], { env: { TZ: "Asia/Kolkata" } });
});

afterAll(async () => {
  server?.kill();
  await server?.exited;
  removeStaticEntry();
  for (const dir of [site, outside, listingDir])
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("files, HEAD, redirects, listings", () => {
  it("prints the real banner and serves a file with the real status line and header order", async () => {
    expect(server.stdout()).toBe(
      `Serving HTTP on 127.0.0.1 port ${server.port} (http://127.0.0.1:${server.port}/) ...\n`,
    );
    const r = await get(server.port, "/hello.txt");
    expect(r.statusLine).toBe("HTTP/1.0 200 OK");
    expect(r.headers.map(([k]) => k)).toEqual([
      "Server",
      "Date",
      "Content-type",
      "Content-Length",
      "Last-Modified",
    ]);
    expect(header(r, "Server")).toBe("SimpleHTTP/0.6 Python/3.11.2");
    expect(header(r, "Date")).toMatch(
      /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/,
    );
    expect(header(r, "Content-type")).toBe("text/plain");
    expect(header(r, "Content-Length")).toBe("6");
    expect(header(r, "Last-Modified")).toBe("Thu, 26 Nov 2026 09:57:02 GMT");
    expect(r.body.toString()).toBe("hello\n");
  });

  it("logs requests on stderr in local time, like log_date_time_string", async () => {
    await get(server.port, "/hello.txt?log-time");
    await server.waitFor(
      () => server.stderr().includes("/hello.txt?log-time"),
      2000,
      "the log line",
    );
    const line =
      server
        .stderr()
        .split("\n")
        .find((l) => l.includes("/hello.txt?log-time")) ?? "";
    expect(line).toMatch(ACCESS("GET /hello.txt?log-time HTTP/1.1", 200));
    const [, day, month, year, hh, mm] =
      /\[(\d\d)\/(\w{3})\/(\d{4}) (\d\d):(\d\d)/.exec(line) ?? [];
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Kolkata",
      day: "2-digit",
      month: "short",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(new Date());
    const part = (type: string) => parts.find((p) => p.type === type)?.value;
    expect(`${day}/${month}/${year}`).toBe(`${part("day")}/${part("month")}/${part("year")}`);
    const minutes = (h: string, m: string) => Number(h) * 60 + Number(m);
    const delta = Math.abs(
      minutes(hh ?? "", mm ?? "") - minutes(part("hour") ?? "", part("minute") ?? ""),
    );
    expect(Math.min(delta, 1440 - delta)).toBeLessThanOrEqual(1);
  });

  it("answers HEAD with the same headers and no body", async () => {
    const getR = await get(server.port, "/hello.txt");
    const r = await raw(server.port, "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const head = parse(r.bytes);
    expect(head.statusLine).toBe("HTTP/1.0 200 OK");
    expect(head.headers.filter(([k]) => k !== "Date")).toEqual(
      getR.headers.filter(([k]) => k !== "Date"),
    );
    expect(head.body.length).toBe(0);
  });

  it("redirects a directory without its slash, keeping the query", async () => {
    const r = await raw(server.port, "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n");
    const text = r.bytes.toString("latin1").replace(/Date: .*\r\n/, "Date: <date>\r\n");
    expect(text).toBe(
      "HTTP/1.0 301 Moved Permanently\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: <date>\r\n" +
        "Location: /sub/\r\nContent-Length: 0\r\n\r\n",
    );
    expect(header(await get(server.port, "/sub?x=1"), "Location")).toBe("/sub/?x=1");
    expect(header(await get(server.port, "//sub"), "Location")).toBe("/sub/");
  });

  it("lists a directory byte for byte like the transcript", async () => {
    const r = await get(server.port, "/sub/");
    expect(r.statusLine).toBe("HTTP/1.0 200 OK");
    expect(r.headers.map(([k, v]) => (k === "Date" ? "Date" : `${k}: ${v}`))).toEqual([
      "Server: SimpleHTTP/0.6 Python/3.11.2",
      "Date",
      "Content-type: text/html; charset=utf-8",
      "Content-Length: 230",
    ]);
    expect(r.body.toString("utf8")).toBe(SUB_LISTING);
  });

  it("escapes names in a listing and sorts them without regard to case", async () => {
    const other = await startStatic(["0", "-d", listingDir]);
    try {
      const r = await get(other.port, "/");
      expect(header(r, "Content-Length")).toBe("805");
      expect(r.body.toString("utf8")).toBe(ROOT_LISTING);
    } finally {
      other.kill();
    }
  });

  it("marks symlinks with @ and directories with / in a listing", async () => {
    const body = (await get(server.port, "/")).body.toString("utf8");
    expect(body).toContain('<li><a href="inside-dir/">inside-dir@</a></li>');
    expect(body).toContain('<li><a href="inside-link.txt">inside-link.txt@</a></li>');
    expect(body).toContain('<li><a href="sub/">sub/</a></li>');
    expect(body).toContain('<li><a href="%5Cexample.com/">\\example.com/</a></li>');
  });

  it("serves index.html for a directory that has one", async () => {
    const r = await get(server.port, "/site/");
    expect(header(r, "Content-type")).toBe("text/html");
    expect(r.body.toString()).toBe("<p>index</p>\n");
  });

  it("sends the MIME types the real server sends", async () => {
    const expected: Record<string, string> = {
      "/index2.html": "text/html",
      "/a.css": "text/css",
      "/a.js": "text/javascript",
      "/a.mjs": "text/javascript",
      "/a.json": "application/json",
      "/a.png": "image/png",
      "/a.wasm": "application/wasm",
      "/hello.txt": "text/plain",
      "/a.svg": "image/svg+xml",
      "/a.md": "text/markdown",
      "/a.gz": "application/gzip",
      "/a.tar.gz": "application/gzip",
      "/noext": "application/octet-stream",
      "/a.jpg": "image/jpeg",
      "/a.ico": "image/vnd.microsoft.icon",
      "/a.xml": "application/xml",
      "/a.woff2": "font/woff2",
      "/a.TXT": "text/plain",
    };
    for (const [path, type] of Object.entries(expected)) {
      const r = parse((await raw(server.port, `HEAD ${path} HTTP/1.0\r\n\r\n`)).bytes);
      expect([path, header(r, "Content-type")]).toEqual([path, type]);
    }
  });

  it("streams a large file whole", async () => {
    const r = await get(server.port, "/big.bin");
    expect(header(r, "Content-Length")).toBe(String(2 * 1024 * 1024));
    expect(r.body.length).toBe(2 * 1024 * 1024);
    expect(r.body.every((b) => b === 0x61)).toBe(true);
  });
});

describe("conditional GET", () => {
  const ims = (value: string, extra = "") =>
    get(server.port, "/hello.txt", `If-Modified-Since: ${value}\r\n${extra}`);

  it("answers 304 with only Server and Date when the file is not newer", async () => {
    const r = await raw(
      server.port,
      "GET /hello.txt HTTP/1.1\r\nIf-Modified-Since: Thu, 26 Nov 2026 09:57:02 GMT\r\n\r\n",
    );
    const text = r.bytes.toString("latin1").replace(/Date: .*\r\n/, "Date: <date>\r\n");
    expect(text).toBe(
      "HTTP/1.0 304 Not Modified\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: <date>\r\n\r\n",
    );
    expect((await ims("Fri, 27 Nov 2026 00:00:00 GMT")).status).toBe(304);
    expect((await ims("Thu, 26 Nov 2026 09:57:02 -0000")).status).toBe(304);
    expect((await ims("Thursday, 26-Nov-26 09:57:02 GMT")).status).toBe(304);
  });

  it("answers 200 for an older, unparsable or non-UTC date, or when If-None-Match is present", async () => {
    expect((await ims("Thu, 26 Nov 2026 09:57:01 GMT")).status).toBe(200);
    expect((await ims("Thu, 01 Jan 1970 00:00:00 GMT")).status).toBe(200);
    expect((await ims("garbage")).status).toBe(200);
    expect((await ims("Mon, 30 Feb 2026 09:57:02 GMT")).status).toBe(200);
    expect((await ims("Thu, 26 Nov 2026 10:57:02 +0100")).status).toBe(200);
    expect((await ims("Thu, 26 Nov 2026 09:57:02 GMT", "If-None-Match: *\r\n")).status).toBe(200);
  });
});

describe("errors", () => {
  it("sends the 404 page byte for byte, and HEAD gets its headers only", async () => {
    const r = await get(server.port, "/nope.txt");
    expect(r.statusLine).toBe("HTTP/1.0 404 File not found");
    expect(r.headers.map(([k, v]) => (k === "Date" ? "Date" : `${k}: ${v}`))).toEqual([
      "Server: SimpleHTTP/0.6 Python/3.11.2",
      "Date",
      "Connection: close",
      "Content-Type: text/html;charset=utf-8",
      "Content-Length: 335",
    ]);
    expect(r.body.toString()).toBe(NOT_FOUND_BODY);
    const head = parse((await raw(server.port, "HEAD /nope.txt HTTP/1.1\r\n\r\n")).bytes);
    expect(head.statusLine).toBe("HTTP/1.0 404 File not found");
    expect(header(head, "Content-Length")).toBe("335");
    expect(head.body.length).toBe(0);
    await server.waitFor(() => ACCESS("HEAD /nope.txt HTTP/1.1", 404).test(server.stderr()), 2000);
    const lines = server.stderr().split("\n");
    const at = lines.findIndex((l) => l.includes('"GET /nope.txt HTTP/1.1" 404 -'));
    expect(lines[at - 1]).toMatch(
      new RegExp(`^127\\.0\\.0\\.1 - - ${LOG_TIME} code 404, message File not found$`),
    );
  });

  it("answers POST, PUT, DELETE and OPTIONS with 501", async () => {
    const post = parse(
      (await raw(server.port, "POST /hello.txt HTTP/1.1\r\nContent-Length: 3\r\n\r\na=1")).bytes,
    );
    expect(post.statusLine).toBe("HTTP/1.0 501 Unsupported method ('POST')");
    expect(header(post, "Content-Length")).toBe("357");
    expect(post.body.toString()).toBe(POST_BODY);
    for (const method of ["PUT", "DELETE", "OPTIONS"]) {
      const r = parse((await raw(server.port, `${method} / HTTP/1.1\r\n\r\n`)).bytes);
      expect(r.statusLine).toBe(`HTTP/1.0 501 Unsupported method ('${method}')`);
    }
  });

  it("follows parse_request for bad request lines", async () => {
    const statusOf = async (data: string) => parse((await raw(server.port, data)).bytes).statusLine;
    const bodyOf = async (data: string) => (await raw(server.port, data)).bytes.toString("latin1");
    expect(await statusOf("GET / x HTTP/1.1\r\n\r\n")).toBe(
      "HTTP/1.0 400 Bad request syntax ('GET / x HTTP/1.1')",
    );
    // Before the version is known, the reply is HTTP/0.9: a body without a status line.
    expect(await bodyOf("GARBAGE\r\n\r\n")).toMatch(
      /^<!DOCTYPE HTML>[\s\S]*Bad request syntax \('GARBAGE'\)\./,
    );
    expect(await bodyOf("GET / HTTP/1.1 x\r\n\r\n")).toContain(
      "<p>Message: Bad request version ('x').</p>",
    );
    expect(await bodyOf("GET / HTTP/2.0\r\n\r\n")).toContain(
      "<p>Message: Invalid HTTP version (2.0).</p>",
    );
    expect(await bodyOf("POST /\r\n\r\n")).toContain("Bad HTTP/0.9 request type ('POST')");
    expect(await bodyOf("GET /hello.txt\r\n\r\n")).toBe("hello\n");
    expect(await statusOf(`GET /${"a".repeat(70000)} HTTP/1.1\r\n\r\n`)).toBe(
      "HTTP/1.0 414 Request-URI Too Long",
    );
    expect(await statusOf(`GET / HTTP/1.1\r\nX: ${"b".repeat(70000)}\r\n\r\n`)).toBe(
      "HTTP/1.0 431 Line too long",
    );
    expect(await statusOf(`GET / HTTP/1.1\r\n${"X: y\r\n".repeat(100)}\r\n`)).toBe(
      "HTTP/1.0 431 Too many headers",
    );
    expect(await statusOf(`GET /hello.txt HTTP/1.1\r\n${"X: y\r\n".repeat(98)}\r\n`)).toBe(
      "HTTP/1.0 200 OK",
    );
  });

  it("closes without a word on an empty request line", async () => {
    const r = await raw(server.port, "\r\n");
    expect(r.bytes.length).toBe(0);
    expect(r.error).toBeUndefined();
  });

  it("logs the request line escaped: backslashes doubled, control characters as \\xNN", async () => {
    await raw(server.port, "GET /a\\b\x01c HTTP/1.1\r\n\r\n");
    await server.waitFor(
      () => server.stderr().includes("/a\\\\b\\x01c"),
      2000,
      "the escaped log line",
    );
    expect(server.stderr()).toMatch(ACCESS("GET /a\\\\b\\x01c HTTP/1.1", 404));
  });

  it("closes the connection after one response and ignores a pipelined second request", async () => {
    const r = await raw(
      server.port,
      "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n",
      { end: false },
    );
    expect(r.error).toBeUndefined();
    const text = r.bytes.toString("latin1");
    expect(text.match(/HTTP\/1\.0 /g)).toHaveLength(1);
    expect(text.endsWith("\r\n\r\nhello\n")).toBe(true);
  });
});

describe("confinement to the served directory", () => {
  const attempts: [string, string][] = [
    ["../", "/../../etc/passwd"],
    ["%2e%2e", "/%2e%2e/%2e%2e/etc/passwd"],
    ["..%2f", "/..%2f..%2fetc%2fpasswd"],
    ["all encoded", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
    ["//etc", "//etc/passwd"],
    ["backslashes", "/..\\..\\etc\\passwd"],
    ["%5c", "/..%5c..%5cetc%5cpasswd"],
    ["leading %5c", "/%5c..%5c..%5cetc%5cpasswd"],
    ["40 times ../", `/${"../".repeat(40)}etc/passwd`],
    ["an overlong path", `/${"a/".repeat(3000)}`],
    ["a symlink to a file outside", "/secret-link.txt"],
    ["a symlink to a directory outside", "/outside-dir/inner.txt"],
    ["a listing through a symlink outside", "/outside-dir/"],
  ];

  it.each(attempts)("%s is a 404 and never shows what lies outside", async (_name, target) => {
    const r = await get(server.port, target);
    expect(r.status).toBe(404);
    expect(r.body.toString()).not.toContain("root:");
    expect(r.body.toString()).not.toContain(SECRET);
  });

  it("also refuses absolute-form targets pointing outside", async () => {
    for (const target of ["http://evil/../../etc/passwd", `http://x/../..${outside}/secret.txt`]) {
      const r = parse((await raw(server.port, `GET ${target} HTTP/1.1\r\n\r\n`)).bytes);
      expect(r.status).toBe(404);
      expect(r.body.toString()).not.toContain(SECRET);
    }
  });

  it("serves paths that resolve inside, symlinks inside included", async () => {
    expect((await get(server.port, "/sub/../hello.txt")).body.toString()).toBe("hello\n");
    expect((await get(server.port, "/sub/%2e%2e/hello.txt")).body.toString()).toBe("hello\n");
    expect((await get(server.port, "/inside-link.txt")).body.toString()).toBe("hello\n");
    expect((await get(server.port, "/inside-dir/f.txt")).body.toString()).toBe("f\n");
  });

  it("drops the connection on a NUL byte and prints Python's traceback block", async () => {
    for (const data of [
      "GET /hello.txt%00.png HTTP/1.1\r\n\r\n",
      "GET /hello.txt\0.png HTTP/1.1\r\n\r\n",
    ]) {
      const r = await raw(server.port, data);
      expect(r.bytes.length).toBe(0);
    }
    await server.waitFor(
      () => (server.stderr().match(/ValueError: embedded null byte/g) ?? []).length >= 2,
      2000,
      "the traceback",
    );
    expect(server.stderr()).toMatch(
      /-{40}\nException occurred during processing of request from \('127\.0\.0\.1', \d+\)\nTraceback \(most recent call last\):\n[\s\S]*?ValueError: embedded null byte\n-{40}\n/,
    );
  });
});

describe("redirects stay on this site", () => {
  const location = async (data: string) =>
    header(parse((await raw(server.port, data)).bytes), "Location");

  it("reduces a leading // like CPython 3.11.2", async () => {
    expect(await location("GET //example.com/..%2fsub HTTP/1.1\r\n\r\n")).toBe(
      "/example.com/..%2fsub/",
    );
    expect(await location("GET ///example.com HTTP/1.1\r\n\r\n")).toBe("/example.com/");
    expect(await location("GET /%2f%2fexample.com HTTP/1.1\r\n\r\n")).toBe("/%2f%2fexample.com/");
  });

  it("never sends a Location a browser reads as another host", async () => {
    expect(await location("GET /\\example.com HTTP/1.1\r\n\r\n")).toBe("/%5Cexample.com/");
    expect(await location("GET http://evil/x HTTP/1.1\r\n\r\n")).toBe("/http://evil/x/");
    for (const data of [
      "GET //example.com/..%2fsub HTTP/1.1\r\n\r\n",
      "GET /\\example.com HTTP/1.1\r\n\r\n",
      "GET http://evil/x HTTP/1.1\r\n\r\n",
      "GET /%2f%2fexample.com HTTP/1.1\r\n\r\n",
    ]) {
      const value = (await location(data)) ?? "";
      expect(value).toMatch(/^\/[^/\\]/);
    }
  });
});

describe("robustness", () => {
  it("survives junk, huge headers, half requests and clients that vanish", async () => {
    const pid = server.child.pid ?? 0;
    await raw(server.port, randomBytes(64 * 1024));
    await raw(
      server.port,
      Buffer.concat([Buffer.from("GET / HTTP/1.1\r\n"), randomBytes(200_000)]),
    );
    await raw(server.port, `GET / HTTP/1.1\r\nX: ${"y".repeat(1_000_000)}\r\n\r\n`);
    const vanish = (data: string, afterMs: number) =>
      new Promise<void>((resolve) => {
        const socket = connect(server.port, "127.0.0.1", () => {
          socket.write(data);
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, afterMs);
        });
        socket.on("error", () => resolve());
        socket.on("data", () => {
          socket.resetAndDestroy();
          resolve();
        });
      });
    await Promise.all([
      vanish("GET /hel", 20),
      vanish("GET /hello.txt HTTP/1.1\r\nHost:", 20),
      vanish("GET /big.bin HTTP/1.1\r\n\r\n", 1000),
      vanish("GET /big.bin HTTP/1.1\r\n\r\n", 1000),
      ...Array.from({ length: 20 }, () => vanish("", 5)),
    ]);
    await sleep(100);
    expect(isAlive(pid)).toBe(true);
    const r = await get(server.port, "/hello.txt");
    expect(r.statusLine).toBe("HTTP/1.0 200 OK");
    expect(server.stderr()).not.toMatch(/Unexpected error|EPIPE|ECONNRESET/);
  });

  it("answers a request whose client half-closed before the blank line", async () => {
    const r = parse((await raw(server.port, "GET /hello.txt HTTP/1.1\r\nHost: x")).bytes);
    expect(r.statusLine).toBe("HTTP/1.0 200 OK");
  });
});

/** A client that sends half a request and holds it until `release()`. */
function slowClient(port: number) {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let answered = false;
  let answeredAt = 0;
  const done = new Promise<void>((resolve) => {
    socket.on("data", () => {
      answered = true;
      answeredAt = performance.now();
    });
    socket.on("close", () => resolve());
  });
  socket.write("GET /hello.txt HTTP/1.1\r\nHost: x\r\n");
  return {
    release: () => socket.end("\r\n"),
    done,
    answered: () => answered,
    answeredAt: () => answeredAt,
  };
}

describe("--threading", () => {
  it("off: a client holding a half-sent request blocks the next one until it finishes", async () => {
    const single = await startStatic(["0", "-d", site, "--threading", "off"]);
    try {
      const slow = slowClient(single.port);
      await sleep(150);
      let secondAt = 0;
      const second = raw(single.port, "GET /hello.txt HTTP/1.0\r\n\r\n", { timeoutMs: 6000 }).then(
        (r) => {
          secondAt = performance.now();
          return r;
        },
      );
      await sleep(900);
      expect(secondAt).toBe(0);
      expect(slow.answered()).toBe(false);
      slow.release();
      const r = await second;
      await slow.done;
      expect(parse(r.bytes).statusLine).toBe("HTTP/1.0 200 OK");
      expect(slow.answered()).toBe(true);
      expect(slow.answeredAt()).toBeLessThan(secondAt);
    } finally {
      single.kill();
    }
  });

  it("on (default): the next client is answered while the slow one still holds", async () => {
    const slow = slowClient(server.port);
    await sleep(100);
    const r = await raw(server.port, "GET /hello.txt HTTP/1.0\r\n\r\n", { timeoutMs: 3000 });
    expect(parse(r.bytes).statusLine).toBe("HTTP/1.0 200 OK");
    expect(slow.answered()).toBe(false);
    slow.release();
    await slow.done;
    expect(slow.answered()).toBe(true);
  });
});

describe("process life", () => {
  it("Ctrl+C (SIGINT) prints an empty line and the KeyboardInterrupt message, exit 0", async () => {
    const s = await startStatic(["0", "-d", site]);
    s.kill("SIGINT");
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stdout()).toBe(
      `Serving HTTP on 127.0.0.1 port ${s.port} (http://127.0.0.1:${s.port}/) ...\n\nKeyboard interrupt received, exiting.\n`,
    );
  });

  it("SIGTERM exits quietly", async () => {
    const s = await startStatic(["0", "-d", site]);
    s.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
    expect(s.stdout()).not.toContain("Keyboard");
  });

  it("a port in use ends in Python's OSError line, exit 1, and a fatal event over IPC", async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const s = await startStatic(["--port", String(port), "-d", site], {
        ipc: true,
        waitForBanner: false,
      });
      expect((await s.exited).code).toBe(1);
      expect(s.stderr()).toMatch(/^Traceback \(most recent call last\):\n/);
      expect(s.stderr().trimEnd().split("\n").at(-1)).toBe(
        "OSError: [Errno 98] Address already in use",
      );
      expect(s.stdout()).toBe("");
      const event: ErrorEvent = {
        type: "error",
        code: "EADDRINUSE",
        message: `Port ${port} is already in use on 127.0.0.1.`,
        hint: "Stop the program using it, or choose another port (--port 0 takes a free one).",
        fatal: true,
      };
      expect(s.messages).toEqual([{ v: 1, msg: event }]);
    } finally {
      blocker.close();
    }
  });

  it("rejects unknown flags and flavours with one line and exit 2", async () => {
    const unknown = await startStatic(["--bogus"], { waitForBanner: false });
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.stderr().trim().split("\n")).toHaveLength(1);
    expect(unknown.stderr()).toContain("'--bogus'");
    expect(unknown.stderr()).toContain("--help");

    const flavour = await startStatic(["--flavour", "gunicorn"], { waitForBanner: false });
    expect((await flavour.exited).code).toBe(2);
    expect(flavour.stderr()).toContain("gunicorn");

    const threading = await startStatic(["--threading", "maybe"], { waitForBanner: false });
    expect((await threading.exited).code).toBe(2);

    const help = await startStatic(["--help"], { waitForBanner: false });
    expect((await help.exited).code).toBe(0);
    expect(help.stdout()).toContain("--threading on|off");
  });

  it("shows localhost as 127.0.0.1 and warns when bound beyond this machine", async () => {
    const local = await startStatic(["0", "--bind", "localhost", "-d", site]);
    expect(local.host).toBe("127.0.0.1");
    expect(local.stderr()).toBe("");
    local.kill();
    const wide = await startStatic(["0", "--host", "0.0.0.0", "-d", site]);
    expect(wide.stdout()).toBe(
      `Serving HTTP on 0.0.0.0 port ${wide.port} (http://0.0.0.0:${wide.port}/) ...\n`,
    );
    expect(wide.stderr().trim().split("\n")).toHaveLength(1);
    expect(wide.stderr()).toMatch(/reachable from other machines/);
    wide.kill();
  });

  it("puts an IPv6 host in brackets in the URL", async (ctx) => {
    let s: Running;
    try {
      s = await startStatic(["0", "-b", "::1", "-d", site]);
    } catch {
      ctx.skip("no IPv6 loopback on this machine");
      return;
    }
    expect(s.stdout()).toBe(`Serving HTTP on ::1 port ${s.port} (http://[::1]:${s.port}/) ...\n`);
    const r = parse((await raw(s.port, "GET /hello.txt HTTP/1.0\r\n\r\n", { host: "::1" })).bytes);
    expect(r.status).toBe(200);
    s.kill();
  });
});

describe("IPC", () => {
  it("sends typed listening, request and stopping events and obeys stop", async () => {
    const s = await startStatic(["--port", "0", "--directory", site], { ipc: true });
    await s.waitFor(() => s.messages.length >= 1, 2000, "the listening event");
    await get(s.port, "/hello.txt?q=1", "User-Agent: test-agent\r\n");
    await get(s.port, "/nope%20here.txt");
    await s.waitFor(() => s.messages.length >= 3, 2000, "two request events");
    s.child.send({ v: 1, msg: { type: "stop" } });
    expect((await s.exited).code).toBe(0);

    for (const m of s.messages) expect(checkEnvelope(m)).toMatchObject({ ok: true });
    const events = s.messages.map((m) => (m as { msg: unknown }).msg);
    const listening = events[0] as ListeningEvent;
    expect(listening).toEqual({
      type: "listening",
      sandbox: "static",
      flavour: "http.server",
      pid: s.child.pid,
      host: "127.0.0.1",
      port: s.port,
      url: `http://127.0.0.1:${s.port}/`,
      directory: site,
      options: { threading: true },
    });
    const [ok, missing] = events.slice(1, 3) as RequestEvent[];
    expect(ok).toMatchObject({
      type: "request",
      remote: "127.0.0.1",
      method: "GET",
      target: "/hello.txt?q=1",
      path: "/hello.txt",
      version: "HTTP/1.1",
      status: 200,
      reason: "OK",
      requestHeaders: { host: "x", "user-agent": "test-agent" },
      bytes: 6,
    });
    expect(Object.keys(ok?.responseHeaders ?? {})).toEqual([
      "Server",
      "Date",
      "Content-type",
      "Content-Length",
      "Last-Modified",
    ]);
    expect(Number.isNaN(Date.parse(ok?.time ?? ""))).toBe(false);
    expect(ok?.durationMs).toBeGreaterThanOrEqual(0);
    expect(missing).toMatchObject({
      status: 404,
      reason: "File not found",
      path: "/nope here.txt",
      bytes: 335,
    });
    expect((missing?.id ?? 0) > (ok?.id ?? 0)).toBe(true);
    expect(events.at(-1)).toEqual({ type: "stopping", reason: "stop" });
  });

  it("exits within a second when its parent is killed", async () => {
    const script =
      `const c=require("node:child_process").fork(${JSON.stringify(staticEntry())},["0","-d",${JSON.stringify(site)}],{stdio:["ignore","ignore","ignore","ipc"]});` +
      `c.on("message",(m)=>{if(m.msg.type==="listening")process.send(c.pid)});`;
    const parent = spawn(process.execPath, ["-e", script], {
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    });
    const childPid = await new Promise<number>((resolve) =>
      parent.once("message", (m) => resolve(Number(m))),
    );
    expect(isAlive(childPid)).toBe(true);
    parent.kill("SIGKILL");
    const killedAt = performance.now();
    while (isAlive(childPid) && performance.now() - killedAt < 3000) await sleep(10);
    const took = performance.now() - killedAt;
    if (isAlive(childPid)) process.kill(childPid, "SIGKILL");
    expect(took).toBeLessThan(1000);
  });
});
