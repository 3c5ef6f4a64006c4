#!/usr/bin/env node
// Runs `python3 -m http.server` and the static sandbox side by side on the same directory, sends
// both the same raw requests, and prints every difference in status lines, header names and
// order, bodies and log lines. Exits 0 when the only differences are the documented safety ones.
//
//   node scripts/build.mjs && node scripts/compare-real.mjs [--verbose]
//
// PYTHON=/path/to/python3 picks the interpreter (default: /usr/bin/python3 when it is there,
// else python3 on PATH). The reference transcripts were taken with CPython 3.11.2.

import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const sandbox = join(root, "dist", "sandboxes", "static.js");
const verbose = process.argv.includes("--verbose");

function findPython() {
  const candidates = [process.env.PYTHON, "/usr/bin/python3", "python3"].filter(Boolean);
  for (const cmd of candidates) {
    const r = spawnSync(cmd, ["-c", "import sys; print(sys.version.split()[0])"], {
      encoding: "utf8",
    });
    if (r.status === 0) return { cmd, version: r.stdout.trim() };
  }
  return undefined;
}

const python = findPython();
if (!python) {
  console.log("compare-real: python3 not found; nothing to compare.");
  process.exit(0);
}
if (!existsSync(sandbox)) {
  console.error(`compare-real: ${sandbox} is missing; run node scripts/build.mjs first.`);
  process.exit(1);
}

// The served directory: the transcripts' files, names that need escaping, symlinks in and out.
const dir = mkdtempSync(join(tmpdir(), "lws-compare-"));
const outside = mkdtempSync(join(tmpdir(), "lws-outside-"));
const MTIME = new Date("2026-11-26T09:57:02Z");
const files = {
  "hello.txt": "hello\n",
  "sub/f.txt": "f\n",
  "site/index.html": "<p>index</p>\n",
  "site2/index.htm": "<p>htm</p>\n",
  "<script>alert(1).txt": "x",
  "<img src=x onerror=alert(1)>.txt": "x",
  'a&b "q".txt': "x",
  "héllo wörld.txt": "x",
  "README.md": "# readme\n",
  "readme.txt": "readme\n",
  "Zebra.txt": "z",
  "apple.txt": "a",
  "index2.html": "<p>2</p>",
  "a.css": "a{}",
  "a.js": "1",
  "a.mjs": "1",
  "a.json": "{}",
  "a.png": "png",
  "a.wasm": "wasm",
  "a.svg": "<svg/>",
  "a.md": "#",
  "a.gz": "gz",
  "a.tar.gz": "tgz",
  "a.tgz": "tgz",
  "a.xml": "<x/>",
  "a.jpg": "jpg",
  "a.woff2": "woff2",
  "a.css.br": "br",
  "a.svgz": "svgz",
  "a.TXT": "upper",
  noext: "noext",
  ".hidden": "hidden",
  "big.bin": "0123456789abcdef".repeat(20000),
  "example.com/x.txt": "x",
  "\\example.com/x.txt": "x",
  "http:/evil/x/y.txt": "y",
  "empty/.keep": "",
};
for (const [name, content] of Object.entries(files)) {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, MTIME, MTIME);
}
rmSync(join(dir, "empty/.keep"));
writeFileSync(Buffer.from(`${dir}/bad\xff.txt`, "latin1"), "bad");
writeFileSync(join(outside, "secret.txt"), "TOP SECRET\n");
symlinkSync("sub", join(dir, "link-in"));
symlinkSync("hello.txt", join(dir, "link-file"));
symlinkSync(outside, join(dir, "link-out"));
symlinkSync(join(outside, "secret.txt"), join(dir, "link-secret.txt"));

const CRLF = "\r\n";
const get = (target, extra = "") => `GET ${target} HTTP/1.1${CRLF}Host: x${CRLF}${extra}${CRLF}`;
const head = (target) => `HEAD ${target} HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`;
const ims = (value, extra = "") => get("/hello.txt", `If-Modified-Since: ${value}${CRLF}${extra}`);

/** [name, raw request, options]; `expect` marks a documented safety difference. */
const cases = [
  ["file", get("/hello.txt")],
  ["head file", head("/hello.txt")],
  ["http/1.0 file", `GET /hello.txt HTTP/1.0${CRLF}${CRLF}`],
  ["dir no slash", get("/sub")],
  ["dir no slash, query", get("/sub?x=1")],
  ["dir no slash, fragment", get("/sub#frag")],
  ["listing sub", get("/sub/")],
  ["listing root", get("/")],
  ["head listing", head("/")],
  ["listing with query", get("/sub/?q=1")],
  ["listing empty dir", get("/empty/")],
  ["index.html", get("/site/")],
  ["index.htm", get("/site2/")],
  ["index.html direct", get("/site/index.html")],
  ["percent-encoded name", get("/site/%69ndex.html")],
  ["big file", get("/big.bin")],
  ["head big file", head("/big.bin")],
  ["ims equal", ims("Thu, 26 Nov 2026 09:57:02 GMT")],
  ["ims newer", ims("Fri, 27 Nov 2026 09:57:02 GMT")],
  ["ims older", ims("Thu, 01 Jan 1970 00:00:00 GMT")],
  ["ims one second older", ims("Thu, 26 Nov 2026 09:57:01 GMT")],
  ["ims garbage", ims("garbage")],
  ["ims empty", ims("")],
  ["ims with if-none-match", ims("Thu, 26 Nov 2026 09:57:02 GMT", `If-None-Match: *${CRLF}`)],
  ["ims -0000", ims("Thu, 26 Nov 2026 09:57:02 -0000")],
  ["ims +0000", ims("Thu, 26 Nov 2026 09:57:02 +0000")],
  ["ims +0100", ims("Thu, 26 Nov 2026 10:57:02 +0100")],
  ["ims no zone", ims("Thu, 26 Nov 2026 09:57:02")],
  ["ims unknown zone", ims("Thu, 26 Nov 2026 09:57:02 XYZ")],
  ["ims rfc850", ims("Thursday, 26-Nov-26 09:57:02 GMT")],
  ["ims asctime", ims("Thu Nov 26 09:57:02 2026")],
  ["ims feb 30", ims("Mon, 30 Feb 2026 09:57:02 GMT")],
  [
    "ims folded",
    get("/hello.txt", `If-Modified-Since: Thu, 26 Nov${CRLF} 2026 09:57:02 GMT${CRLF}`),
  ],
  [
    "ims lower-case name",
    get("/hello.txt", `if-modified-since: Thu, 26 Nov 2026 09:57:02 GMT${CRLF}`),
  ],
  [
    "ims after a non-header line",
    get("/hello.txt", `Junk${CRLF}If-Modified-Since: Thu, 26 Nov 2026 09:57:02 GMT${CRLF}`),
  ],
  [
    "ims 304 on a listing is 200",
    get("/sub/", `If-Modified-Since: Fri, 27 Nov 2099 09:57:02 GMT${CRLF}`),
  ],
  ["404", get("/nope.txt")],
  ["head 404", head("/nope.txt")],
  ["POST", `POST /hello.txt HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 3${CRLF}${CRLF}a=1`],
  ["PUT", `PUT /hello.txt HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
  ["DELETE", `DELETE /hello.txt HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
  ["OPTIONS", `OPTIONS / HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
  ["lower-case get", `get / HTTP/1.1${CRLF}${CRLF}`],
  ["traversal ../", get("/../../etc/passwd")],
  ["traversal %2e%2e", get("/%2e%2e/%2e%2e/etc/passwd")],
  ["traversal ..%2f", get("/..%2f..%2fetc%2fpasswd")],
  ["traversal all encoded", get("/%2e%2e%2f%2e%2e%2fetc%2fpasswd")],
  ["traversal backslash", get("/..\\..\\etc\\passwd")],
  ["traversal %5c", get("/..%5c..%5cetc%5cpasswd")],
  ["traversal //etc", get("//etc/passwd")],
  ["traversal absolute-form", `GET http://evil/../../etc/passwd HTTP/1.1${CRLF}${CRLF}`],
  ["inside ..", get("/sub/../hello.txt")],
  ["inside %2e%2e", get("/sub/%2e%2e/hello.txt")],
  ["NUL escaped", get("/hello.txt%00.png")],
  ["NUL raw", `GET /hello.txt\0.png HTTP/1.1${CRLF}${CRLF}`],
  ["NUL with slash", get("/a%00/")],
  ["utf-8 name", get("/h%C3%A9llo%20w%C3%B6rld.txt")],
  ["escaped name", get("/%3Cscript%3Ealert%281%29.txt")],
  ["query and fragment", get("/hello.txt?x=1#f")],
  ["file with slash", get("/hello.txt/")],
  ["upper-case extension", head("/a.TXT")],
  ["invalid utf-8 escape", get("/%FF")],
  ["surrogateescape name", get("/bad%ED%B3%BF.txt")],
  ["lone surrogate", get("/%ED%A0%80x")],
  ["lone surrogate in listing title", get("/sub/?%ED%A0%80")],
  ["undecodable listing title", get("/sub/?q=%C3%A9%FF")],
  ["symlink in, no slash", get("/link-in")],
  ["symlink in", get("/link-in/f.txt")],
  ["symlink file", get("/link-file")],
  ["redirect //sub", get("//sub")],
  ["redirect //example.com/..%2fsub", get("//example.com/..%2fsub")],
  ["redirect %2f%2fexample.com", get("/%2f%2fexample.com")],
  ["redirect ///example.com", get("///example.com")],
  ["GARBAGE", `GARBAGE${CRLF}${CRLF}`],
  ["HTTP/2.0", `GET / HTTP/2.0${CRLF}${CRLF}`],
  ["HEAD HTTP/2.0", `HEAD / HTTP/2.0${CRLF}${CRLF}`],
  ["four words", `GET / x HTTP/1.1${CRLF}${CRLF}`],
  ["version x", `GET / HTTP/1.1 x${CRLF}${CRLF}`],
  ["version HTTP/1", `GET / HTTP/1${CRLF}${CRLF}`],
  ["version HTTP/1.1.1", `GET / HTTP/1.1.1${CRLF}${CRLF}`],
  ["version HTTP/-1.5", `GET /hello.txt HTTP/-1.5${CRLF}${CRLF}`],
  ["version HTTP/2.-1", `GET /hello.txt HTTP/2.-1${CRLF}${CRLF}`],
  ["version HTTP/1_1.0", `GET /hello.txt HTTP/1_1.0${CRLF}${CRLF}`],
  ["version in quotes", `GET / it's${CRLF}${CRLF}`],
  ["HTTP/0.9 GET", `GET /hello.txt${CRLF}${CRLF}`],
  ["HTTP/0.9 POST", `POST /${CRLF}${CRLF}`],
  ["HTTP/0.9 listing", `GET /sub/${CRLF}${CRLF}`],
  ["control chars logged", `GET /a\\b\x01\xe9 HTTP/1.1 x${CRLF}${CRLF}`],
  ["empty line", CRLF],
  ["whitespace line", `   ${CRLF}`],
  ["nothing", ""],
  ["request line at EOF", "GET /hello.txt HTTP/1.0"],
  ["half request at EOF", `GET /hello.txt HTTP/1.1${CRLF}Host: x`],
  ["pipelined", get("/hello.txt") + get("/sub/")],
  ["LF only", "GET /hello.txt HTTP/1.1\nHost: x\n\n"],
  ["keep-alive asked", get("/hello.txt", `Connection: keep-alive${CRLF}`)],
  ["expect 100-continue", get("/hello.txt", `Expect: 100-continue${CRLF}`)],
  ["414", `GET /${"a".repeat(70000)} HTTP/1.1${CRLF}${CRLF}`],
  ["request line of exactly 65536", `GET /${"a".repeat(65536 - 16)} HTTP/1.1\n`],
  ["431 long header", get("/hello.txt", `X-Long: ${"b".repeat(70000)}${CRLF}`)],
  ["431 many headers", get("/hello.txt", `X: y${CRLF}`.repeat(100))],
  ["99 headers is fine", get("/hello.txt", `X: y${CRLF}`.repeat(98))],
  [
    "random bytes",
    Buffer.from([
      0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0a, 0x0d, 0x0a,
    ]),
  ],
  // The documented safety differences: the real server leaves the root or the site here.
  [
    "symlink out of the root (dir)",
    get("/link-out/secret.txt"),
    { expect: "404 instead of the file outside the root" },
  ],
  [
    "symlink out of the root (file)",
    get("/link-secret.txt"),
    { expect: "404 instead of the file outside the root" },
  ],
  [
    "redirect /\\example.com",
    get("/\\example.com"),
    { expect: "Location /%5Cexample.com/ instead of /\\example.com/ (browsers read /\\ as //)" },
  ],
  [
    "redirect absolute-form",
    `GET http://evil/x HTTP/1.1${CRLF}${CRLF}`,
    { expect: "Location /http://evil/x/ instead of http://evil/x/ (off-site)" },
  ],
];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const out = { stdout: "", stderr: "", child };
  child.stdout.setEncoding("utf8").on("data", (d) => {
    out.stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d) => {
    out.stderr += d;
  });
  return out;
}

async function waitForBanner(server, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!server.stdout.includes("Serving HTTP")) {
    if (Date.now() > deadline || server.child.exitCode !== null) {
      throw new Error(`no banner; stderr: ${server.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function exchange(port, raw) {
  return new Promise((resolve) => {
    const chunks = [];
    let error = "";
    const socket = connect(port, "127.0.0.1", () => {
      socket.end(typeof raw === "string" ? Buffer.from(raw, "latin1") : raw);
    });
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", (e) => {
      error = e.code ?? e.message;
    });
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), error });
    });
  });
}

function normalizeResponse(bytes) {
  const text = bytes.toString("latin1");
  const split = text.indexOf("\r\n\r\n");
  if (!text.startsWith("HTTP/") || split < 0) return { head: [], body: text };
  const lines = text.slice(0, split).split("\r\n");
  const head = lines.map((line) => {
    if (/^Date: /.test(line)) return "Date: <date>";
    if (/^Server: /.test(line)) return line.replace(/Python\/[\d.]+\S*/, "Python/<version>");
    return line;
  });
  return { head, body: text.slice(split + 4) };
}

function normalizeLog(text) {
  const out = [];
  let inBlock = false;
  for (const line of text.split("\n")) {
    if (line === "-".repeat(40)) {
      inBlock = !inBlock;
      out.push(line);
      continue;
    }
    if (inBlock) {
      // Tracebacks: the exception and where it was raised; frames differ between Python builds.
      if (line.startsWith("Exception occurred")) out.push(line.replace(/\d+\)$/, "<port>)"));
      else if (/^[A-Za-z.]*(Error|Exception)\b/.test(line)) out.push(line);
      continue;
    }
    out.push(line.replace(/\[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\]/, "[<time>]"));
  }
  return out;
}

function show(value) {
  const s = JSON.stringify(value);
  return s.length > 300 ? `${s.slice(0, 300)}...(${s.length} chars)` : s;
}

const [pyPort, ourPort] = [await freePort(), await freePort()];
const py = start(
  python.cmd,
  ["-m", "http.server", String(pyPort), "--bind", "127.0.0.1", "--directory", dir],
  { PYTHONUNBUFFERED: "1" },
);
const ours = start(process.execPath, [
  sandbox,
  String(ourPort),
  "--bind",
  "127.0.0.1",
  "--directory",
  dir,
]);
let failures = 0;
const documented = [];

try {
  await Promise.all([waitForBanner(py), waitForBanner(ours)]);
  console.log(`python: ${python.cmd} ${python.version}   sandbox: ${sandbox}`);
  if (python.version !== "3.11.2") {
    console.log(
      "note: the sandbox imitates CPython 3.11.2; later releases changed details (3.11.5+ only\n" +
        "accepts ASCII digits in the request version, for one), so some differences below may be those.",
    );
  }
  console.log(`served directory: ${dir}\n`);
  const banner = (s, port) => s.stdout.split("\n")[0].replaceAll(String(port), "<port>");
  if (banner(py, pyPort) !== banner(ours, ourPort)) {
    failures++;
    console.log(`DIFF banner\n  python: ${banner(py, pyPort)}\n  ours:   ${banner(ours, ourPort)}`);
  }

  for (const [name, raw, options = {}] of cases) {
    const pyLogStart = py.stderr.length;
    const ourLogStart = ours.stderr.length;
    const [a, b] = [await exchange(pyPort, raw), await exchange(ourPort, raw)];
    await new Promise((r) => setTimeout(r, 30));
    const ra = normalizeResponse(a.bytes);
    const rb = normalizeResponse(b.bytes);
    const la = normalizeLog(py.stderr.slice(pyLogStart));
    const lb = normalizeLog(ours.stderr.slice(ourLogStart));
    const problems = [];
    if (ra.head.join("\n") !== rb.head.join("\n")) {
      problems.push(`  head python: ${show(ra.head)}\n  head ours:   ${show(rb.head)}`);
    }
    if (ra.body !== rb.body)
      problems.push(`  body python: ${show(ra.body)}\n  body ours:   ${show(rb.body)}`);
    if (la.join("\n") !== lb.join("\n"))
      problems.push(`  log python: ${show(la)}\n  log ours:   ${show(lb)}`);
    if (options.expect) {
      const leaked =
        b.bytes.includes("TOP SECRET") || /Location: (?!\/[^/\\])/.test(rb.head.join("\n"));
      if (problems.length === 0 || leaked) {
        failures++;
        console.log(
          `FAIL ${name}: expected a safety difference (${options.expect}), got ${leaked ? "a leak" : "none"}`,
        );
      } else {
        documented.push(`${name}: ${options.expect}`);
        if (verbose) console.log(`expected difference ${name}\n${problems.join("\n")}`);
      }
      continue;
    }
    if (problems.length > 0) {
      failures++;
      console.log(
        `DIFF ${name} ${show(typeof raw === "string" ? raw.slice(0, 80) : "<bytes>")}\n${problems.join("\n")}`,
      );
    } else if (verbose) {
      console.log(
        `same ${name}: ${ra.head[0] ?? (a.bytes.length ? "(body only)" : "(no response)")}`,
      );
    }
  }

  const interrupted = await Promise.all(
    [py, ours].map(
      (s) =>
        new Promise((resolve) => {
          s.child.once("exit", (code, signal) => resolve({ code, signal, stdout: s.stdout }));
          s.child.kill("SIGINT");
        }),
    ),
  );
  const tail = (r) =>
    `${r.code}/${r.signal} ${JSON.stringify(r.stdout.slice(r.stdout.indexOf("\n") + 1))}`;
  if (tail(interrupted[0]) !== tail(interrupted[1])) {
    failures++;
    console.log(
      `DIFF SIGINT\n  python: ${tail(interrupted[0])}\n  ours:   ${tail(interrupted[1])}`,
    );
  }
} finally {
  for (const s of [py, ours]) if (s.child.exitCode === null) s.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
}

console.log(`\n${cases.length} requests, banner and Ctrl+C compared.`);
console.log("Documented safety differences (the sandbox on purpose does not do what Python does):");
for (const line of documented) console.log(`  - ${line}`);
console.log(
  "Not compared: the default bind address (127.0.0.1 here, 0.0.0.0 for Python), ports above 65535",
);
console.log(
  "(Python wraps them, the sandbox refuses), and FIFOs in the served directory (Python hangs on them).",
);
console.log(
  failures === 0 ? "\nOK: no other differences." : `\n${failures} unexpected difference(s).`,
);
process.exit(failures === 0 ? 0 : 1);
