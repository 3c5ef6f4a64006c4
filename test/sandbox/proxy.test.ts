import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get, header, parse, raw, sleep } from "./helpers.js";
import { pidOf } from "./prefork-helpers.js";
import {
  makeSite,
  type RunningProxy,
  removeProxyEntry,
  reply,
  startProxy,
  type TinyUpstream,
  tinyUpstream,
} from "./proxy-helpers.js";

const started: RunningProxy[] = [];
const upstreams: TinyUpstream[] = [];
const site = makeSite();

async function start(args: string[]): Promise<RunningProxy> {
  const p = await startProxy(args);
  started.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await Promise.all(upstreams.map((u) => u.close()));
  removeProxyEntry();
  site.remove();
});

/** nginx 1.22.1's error page for `status`, byte for byte. */
function nginxPage(title: string): string {
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n`;
}

const ACCESS_LINE =
  /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(.*)" (\d{3}) (\d+) "(.*)" "(.*)"$/;

/** Log lines reach the test a moment after the answer: waits for one, then checks it. */
async function logged(p: RunningProxy, pattern: RegExp | string): Promise<void> {
  const test = () =>
    typeof pattern === "string" ? p.stderr().includes(pattern) : pattern.test(p.stderr());
  await p.waitFor(test, 3000, `the log line ${pattern}`);
  expect(test()).toBe(true);
}

function accessLines(p: RunningProxy): string[] {
  return p
    .stdout()
    .split("\n")
    .filter((l) => ACCESS_LINE.test(l));
}

describe("proxy sandbox in front of its own prefork sandbox", () => {
  let p: RunningProxy;

  beforeAll(async () => {
    p = await start(["--directory", site.dir, "--workers", "2"]);
  });

  it("starts gunicorn behind itself, then prints nginx's notice lines and its address", async () => {
    await logged(p, "proxy listening on");
    const err = p.stderr();
    expect(err).toMatch(/\[INFO\] Starting gunicorn 20\.1\.0\n/);
    expect(err).toMatch(/\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[notice\] \d+#\d+: nginx\/1\.22\.1\n/);
    expect(err).toContain(`proxy listening on http://127.0.0.1:${p.port}/`);
    expect(err.indexOf("Starting gunicorn")).toBeLessThan(err.indexOf("nginx/1.22.1"));
    // As the lesson's nginx.conf: Gunicorn on a Unix socket, and on a port to reach it directly.
    const [upstream] = p.upstreams();
    const [direct] = p.direct();
    expect(direct).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    if (process.platform === "win32") {
      // No Unix sockets there: the proxy passes requests to the port.
      expect(upstream).toBe(direct);
      expect(err).toContain(`Listening at: ${direct} (`);
    } else {
      expect(upstream).toMatch(/^unix:\/.+\/app-1\.sock$/);
      expect(err).toContain(`Listening at: ${upstream},${direct} (`);
    }
    expect(err).toContain(`the rest to ${upstream}\n`);
    expect(p.liveWorkers()).toHaveLength(2);
    expect(p.invalid).toEqual([]);
  });

  it("serves /static/ itself with nginx's headers, and no worker is involved", async () => {
    const before = p.requests().filter((r) => r.upstream !== undefined).length;
    const r = await get(p.port, "/static/hello.txt", "User-Agent: curl/8.0\r\n");
    expect(r.statusLine).toBe("HTTP/1.1 200 OK");
    expect(r.headers.map(([k]) => k)).toEqual([
      "Server",
      "Date",
      "Content-Type",
      "Content-Length",
      "Last-Modified",
      "Connection",
      "ETag",
      "Accept-Ranges",
    ]);
    expect(header(r, "Server")).toBe("nginx/1.22.1");
    expect(header(r, "Content-Type")).toBe("text/plain");
    expect(header(r, "ETag")).toMatch(/^"[0-9a-f]+-19"$/);
    expect(r.body.toString()).toBe("hello from a static file\n");
    await p.waitFor(() => p.proxyEvents().some((e) => e.target === "/static/hello.txt"));
    const event = p.proxyEvents().find((e) => e.target === "/static/hello.txt");
    expect(event?.route).toBe("static");
    expect(event?.attempts).toEqual([]);
    expect(event?.worker).toBeUndefined();
    await sleep(100);
    expect(p.requests().filter((r) => r.upstream !== undefined)).toHaveLength(before);
  });

  it("passes the rest to a worker, and says which worker answered", async () => {
    const r = await get(p.port, "/?who=1", "User-Agent: curl/8.0\r\n");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain("Hello from behind the proxy!");
    const pid = pidOf(r.body);
    expect(p.liveWorkers()).toContain(pid);
    expect(header(r, "Server")).toBe("nginx/1.22.1");
    await p.waitFor(() => p.proxyEvents().some((e) => e.target === "/?who=1"), 3000, "proxy event");
    const event = p.proxyEvents().find((e) => e.target === "/?who=1");
    expect(event).toMatchObject({ route: "proxied", status: 200, worker: pid });
    expect(event?.upstream).toBe(p.upstreams()[0]);
    const [attempt] = event?.attempts ?? [];
    expect(attempt?.outcome).toBe("ok");
    // Each step comes after the one before it.
    const steps = [
      event?.readMs,
      attempt?.chosenMs,
      attempt?.connectMs,
      attempt?.firstByteMs,
      attempt?.doneMs,
      event?.sentMs,
    ];
    for (const [i, step] of steps.entries()) {
      expect(step).toBeTypeOf("number");
      if (i > 0) expect(step as number).toBeGreaterThanOrEqual((steps[i - 1] as number) - 0.05);
    }
    // The app server's own request event comes through, marked as the upstream's, before the
    // proxy's event that names its worker.
    const upstreamEvent = p.requests().find((e) => e.upstream && e.target === "/?who=1");
    expect(upstreamEvent).toMatchObject({ worker: pid, version: "HTTP/1.0" });
    const own = p.requests().find((e) => !e.upstream && e.target === "/?who=1");
    expect(own).toMatchObject({ status: 200, version: "HTTP/1.1", id: event?.id });
    expect(own?.responseHeaders.Server).toBe("nginx/1.22.1");
  });

  it("adds X-Forwarded-For, X-Forwarded-Proto, Host and X-Request-ID, as the app sees them", async () => {
    const r = await get(
      p.port,
      "/environ",
      "X-Forwarded-For: 203.0.113.7\r\nUser-Agent: curl/8.0\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n",
    );
    const environ = r.body.toString();
    expect(environ).toContain("HTTP_X_FORWARDED_FOR = '203.0.113.7, 127.0.0.1'");
    expect(environ).toContain("HTTP_X_FORWARDED_PROTO = 'http'");
    // `proxy_set_header Host $http_host`: the Host the client sent.
    expect(environ).toContain("HTTP_HOST = 'x'");
    expect(environ).toMatch(/HTTP_X_REQUEST_ID = '[0-9a-f]{32}'/);
    // The proxy speaks HTTP/1.0 to the app and closes after each answer; Keep-Alive stays behind.
    expect(environ).toContain("SERVER_PROTOCOL = 'HTTP/1.0'");
    expect(environ).toContain("HTTP_CONNECTION = 'close'");
    expect(environ).not.toContain("HTTP_KEEP_ALIVE");
    // Over the Unix socket the app sees no address for its peer, as with Gunicorn.
    if (process.platform === "win32") expect(environ).toContain("REMOTE_ADDR = '127.0.0.1'");
    else {
      expect(environ).toContain("REMOTE_ADDR = ''");
      expect(environ).not.toContain("REMOTE_PORT");
    }
  });

  it("logs in nginx's combined format, escaping what nginx escapes", async () => {
    await get(
      p.port,
      "/static/hello.txt",
      "User-Agent: curl/8.0\r\nReferer: http://example.test/\r\n",
    );
    await get(p.port, '/static/"q\\', 'User-Agent: a"b\r\n');
    await p.waitFor(() => accessLines(p).some((l) => l.includes("%22") || l.includes("\\x22")));
    const lines = accessLines(p);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/static\/hello\.txt HTTP\/1\.1" 200 25 "http:\/\/example\.test\/" "curl\/8\.0"$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/"GET \/static\/\\x22q\\x5C HTTP\/1\.1" 404 153 "-" "a\\x22b"$/),
    );
    const proxied = lines.find((l) => l.includes('"GET /?who=1 HTTP/1.1"'));
    expect(proxied).toMatch(/" 200 \d+ "-" "curl\/8\.0"$/);
    // A file that is not there: nginx's error-log line.
    await logged(
      p,
      /\[error\] \d+#\d+: \*\d+ open\(\) ".*static\/"q\\" failed \(2: No such file or directory\), client: 127\.0\.0\.1, server: localhost, request: "GET \/static\/"q\\ HTTP\/1\.1", host: "x"\n/,
    );
  });

  it("answers conditional and range requests for static files as nginx does", async () => {
    const first = await get(p.port, "/static/style.css");
    const etag = header(first, "ETag") ?? "";
    const lastModified = header(first, "Last-Modified") ?? "";
    const byTag = await get(p.port, "/static/style.css", `If-None-Match: ${etag}\r\n`);
    expect(byTag.statusLine).toBe("HTTP/1.1 304 Not Modified");
    expect(byTag.headers.map(([k]) => k)).toEqual([
      "Server",
      "Date",
      "Last-Modified",
      "Connection",
      "ETag",
    ]);
    expect(byTag.body.length).toBe(0);
    const byDate = await get(p.port, "/static/style.css", `If-Modified-Since: ${lastModified}\r\n`);
    expect(byDate.status).toBe(304);
    const range = await get(p.port, "/static/style.css", "Range: bytes=0-3\r\n");
    expect(range.statusLine).toBe("HTTP/1.1 206 Partial Content");
    expect(header(range, "Content-Range")).toBe("bytes 0-3/22");
    expect(range.body.toString()).toBe("body");
    const dir = await get(p.port, "/static/docs?x=1");
    expect(dir.statusLine).toBe("HTTP/1.1 301 Moved Permanently");
    expect(header(dir, "Location")).toBe(`http://x:${p.port}/static/docs/?x=1`);
    expect(dir.body.toString()).toBe(nginxPage("301 Moved Permanently"));
    expect((await get(p.port, "/static/docs/")).body.toString()).toBe("<h1>docs</h1>\n");
    const listing = await get(p.port, "/static/sub/");
    expect(listing.status).toBe(403);
    expect(listing.body.toString()).toBe(nginxPage("403 Forbidden"));
    const post = parse(
      (await raw(p.port, "POST /static/hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
        .bytes,
    );
    expect(post.statusLine).toBe("HTTP/1.1 405 Not Allowed");
    const missing = await get(p.port, "/static/nope.txt");
    expect(missing.body.toString()).toBe(nginxPage("404 Not Found"));
    expect(header(missing, "Content-Length")).toBe("153");
  });

  it("never serves a byte from outside the static folder", async () => {
    const targets = [
      "/static/../secret.txt",
      "/static/%2e%2e/secret.txt",
      "/static/..%2fsecret.txt",
      "/static/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/static/../../secret.txt",
      "/../secret.txt",
      "/static/docs/../../secret.txt",
      "/static//../secret.txt",
      "/static/link-out.txt",
      "/static/private-dir/key.txt",
      "/static/a%00b",
      "/static/%zz",
      "/static/..\\secret.txt",
      "/static/%5c..%5csecret.txt",
      "http://x/static/../../secret.txt",
    ];
    for (const target of targets) {
      const r = parse((await raw(p.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`)).bytes);
      expect(r.status, target).toBeGreaterThan(0);
      expect(r.body.toString(), target).not.toContain(site.secret);
    }
    const statusOf = async (target: string) =>
      parse((await raw(p.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`)).bytes).status;
    // Above the root: nginx refuses the request itself.
    expect(await statusOf("/../secret.txt")).toBe(400);
    expect(await statusOf("/static/../../secret.txt")).toBe(400);
    expect(await statusOf("/static/a%00b")).toBe(400);
    expect(await statusOf("/static/%zz")).toBe(400);
    // `..` that stays below the root leaves /static/: the request goes to the app instead.
    const toApp = await get(p.port, "/static/../secret.txt");
    expect(toApp.body.toString()).not.toContain(site.secret);
    await p.waitFor(
      () => p.requests().some((e) => e.upstream && e.target === "/static/../secret.txt"),
      3000,
      "the app's request event",
    );
    if (process.platform !== "win32") {
      expect(await statusOf("/static/link-out.txt")).toBe(403);
      expect(await statusOf("/static/private-dir/key.txt")).toBe(403);
      await logged(p, 'static/link-out.txt" failed (40: Too many levels of symbolic links)');
      // A link that stays inside is followed.
      const inside = await get(p.port, "/static/link-in.txt");
      expect(inside.body.toString()).toBe("hello from a static file\n");
    }
  });

  it("keeps connections alive for HTTP/1.1 and pipelined requests, closes for HTTP/1.0", async () => {
    const pipelined = await raw(
      p.port,
      "GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /static/style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      { end: false, timeoutMs: 5000 },
    );
    const text = pipelined.bytes.toString("latin1");
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(text.indexOf("hello from a static file")).toBeLessThan(text.indexOf("pid="));
    expect(text.indexOf("pid=")).toBeLessThan(text.indexOf("color: #123"));
    expect(text).toContain("Connection: keep-alive");
    expect(pipelined.error).toBeUndefined();
    const old = parse((await raw(p.port, "GET /static/hello.txt HTTP/1.0\r\n\r\n")).bytes);
    expect(header(old, "Connection")).toBe("close");
  });
});

describe("proxy sandbox: what nginx refuses", () => {
  let p: RunningProxy;
  let upstream: TinyUpstream;

  beforeAll(async () => {
    upstream = await tinyUpstream(() => reply("from upstream\n"));
    upstreams.push(upstream);
    p = await start(["--upstream", upstream.url, "--static", `${site.dir}/static`]);
  });

  const send = async (bytes: string | Buffer) => parse((await raw(p.port, bytes)).bytes);

  it("answers junk with nginx's error pages and closes", async () => {
    const cases: [string | Buffer, number, string][] = [
      ["garbage\r\n\r\n", 400, "400 Bad Request"],
      ["get / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "400 Bad Request"],
      ["GET / HTTP/1.1\r\n\r\n", 400, "400 Bad Request"],
      ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "400 Bad Request"],
      ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "505 HTTP Version Not Supported"],
      ["GET /\r\n\r\n", 400, "400 Bad Request"],
      ["OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "400 Bad Request"],
      ["GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400, "400 Bad Request"],
      ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400, "400 Bad Request"],
      [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
        "400 Bad Request",
      ],
      ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "501 Not Implemented"],
      [`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, "414 Request-URI Too Large"],
      [Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]), 400, "400 Bad Request"],
    ];
    for (const [bytes, status, title] of cases) {
      const r = await send(bytes);
      expect(r.statusLine, String(bytes).slice(0, 40)).toBe(`HTTP/1.1 ${title}`);
      expect(r.status).toBe(status);
      expect(header(r, "Connection")).toBe("close");
      expect(header(r, "Server")).toBe("nginx/1.22.1");
      expect(r.body.toString()).toBe(nginxPage(title));
    }
    expect(upstream.received).toHaveLength(0);
  });

  it("answers a header too large with 400 and nginx's own page for it", async () => {
    const long = await send(`GET / HTTP/1.1\r\nHost: x\r\nCookie: ${"a".repeat(9000)}\r\n\r\n`);
    const many = await send(
      `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 6 }, (_, i) => `X-H${i}: ${"b".repeat(7000)}\r\n`).join("")}\r\n`,
    );
    for (const r of [long, many]) {
      expect(r.statusLine).toBe("HTTP/1.1 400 Bad Request");
      expect(r.body.toString()).toBe(
        "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n",
      );
    }
    await p.waitFor(() => accessLines(p).filter((l) => l.includes('" 400 233 ')).length >= 2);
  });

  it("refuses a body over client_max_body_size with 413 before reading it", async () => {
    const r = await raw(
      p.port,
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nabc",
      { end: false, timeoutMs: 8000 },
    );
    const parsed = parse(r.bytes);
    expect(parsed.statusLine).toBe("HTTP/1.1 413 Request Entity Too Large");
    expect(parsed.body.toString()).toBe(nginxPage("413 Request Entity Too Large"));
    expect(r.ms).toBeLessThan(7000);
    await logged(
      p,
      /\[error\] \d+#\d+: \*\d+ client intended to send too large body: 2000000 bytes, client: 127\.0\.0\.1, server: localhost, request: "POST \/upload HTTP\/1\.1", host: "x"\n/,
    );
    expect(upstream.received.some((t) => t.startsWith("POST /upload"))).toBe(false);
  });

  it("reads a chunked or 100-continue body whole and sends it on with a length", async () => {
    const chunked = await send(
      "POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
    );
    expect(chunked.status).toBe(200);
    const sent = upstream.received.find((t) => t.startsWith("POST /form HTTP/1.0"));
    expect(sent).toContain("\r\nContent-Length: 5\r\n");
    expect(sent).not.toMatch(/transfer-encoding/i);
    expect(sent?.endsWith("\r\n\r\nabcde")).toBe(true);

    const socket = connect(p.port, "127.0.0.1");
    const got: Buffer[] = [];
    socket.on("data", (d: Buffer) => got.push(d));
    await new Promise((r) => socket.once("connect", r));
    socket.write(
      "POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    );
    const until = Date.now() + 3000;
    while (!Buffer.concat(got).toString().includes("100 Continue") && Date.now() < until)
      await sleep(10);
    expect(Buffer.concat(got).toString()).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    socket.end("wxyz");
    await new Promise((r) => socket.once("close", r));
    expect(Buffer.concat(got).toString()).toMatch(/100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(upstream.received.find((t) => t.startsWith("POST /expect"))?.endsWith("wxyz")).toBe(
      true,
    );
  });

  it("drops nginx's hidden headers and keeps the upstream's others in order", async () => {
    const custom = await tinyUpstream(
      () =>
        "HTTP/1.1 201 Fine Thanks\r\nServer: tiny\r\nDate: yesterday\r\nX-Pad: avoid\r\nSet-Cookie: a=1\r\nContent-Type: text/plain\r\nSet-Cookie: b=2\r\nConnection: close\r\nX-Thing: 1\r\n\r\nclose-delimited body",
    );
    upstreams.push(custom);
    const q = await start(["--upstream", custom.url]);
    const r = await get(q.port, "/");
    expect(r.statusLine).toBe("HTTP/1.1 201 Fine Thanks");
    expect(r.headers).toEqual([
      ["Server", "nginx/1.22.1"],
      ["Date", expect.stringMatching(/ GMT$/)],
      ["Content-Type", "text/plain"],
      ["Transfer-Encoding", "chunked"],
      ["Connection", "keep-alive"],
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
      ["X-Thing", "1"],
    ]);
    expect(r.body.toString()).toBe("14\r\nclose-delimited body\r\n0\r\n\r\n");
    const old = parse((await raw(q.port, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")).bytes);
    expect(header(old, "Connection")).toBe("close");
    expect(header(old, "Transfer-Encoding")).toBeUndefined();
    expect(old.body.toString()).toBe("close-delimited body");
  });

  it("survives clients that vanish halfway", async () => {
    for (const partial of [
      "GET / HT",
      "GET / HTTP/1.1\r\nHost: x\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
    ]) {
      const socket = connect(p.port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((r) => socket.once("connect", r));
      socket.write(partial);
      await sleep(30);
      socket.destroy();
    }
    const r = await get(p.port, "/static/hello.txt");
    expect(r.status).toBe(200);
    expect(p.child.exitCode).toBeNull();
    expect(p.invalid).toEqual([]);
  });
});

/**
 * Sends `request` and reads nothing for `pauseMs` (the kernel's buffers fill and the proxy has to
 * wait for the client), then reads the answer to its Content-Length.
 */
function slowRead(port: number, request: string, pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let want = -1;
    const socket = connect(port, "127.0.0.1", () => {
      socket.pause();
      socket.write(request);
      setTimeout(() => socket.resume(), pauseMs);
    });
    socket.on("error", reject);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (want < 0) {
        const all = Buffer.concat(chunks);
        const end = all.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = /\r\ncontent-length: *(\d+)/i.exec(all.toString("latin1", 0, end))?.[1];
        want = end + 4 + Number(length ?? 0);
      }
      if (got >= want) {
        socket.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

describe("proxy sandbox: large answers to a client that reads slowly", () => {
  const big = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = 32 + ((i * 7 + (i >> 12)) % 95);
  const bigText = big.toString("latin1");

  for (const [name, env] of [
    ["libuv's TCP handles", {}],
    ["net.Socket", { LEARN_WEBSERVERS_PROXY_NET_SOCKET: "1" }],
  ] as const) {
    it(`waits for the client and loses no byte, a file or an upstream's answer (${name})`, async () => {
      const staticDir = join(site.dir, "static");
      writeFileSync(join(staticDir, "big.bin"), big);
      const upstream = await tinyUpstream(() => reply(bigText));
      upstreams.push(upstream);
      const q = await startProxy(["--upstream", upstream.url, "--static", staticDir], { env });
      started.push(q);
      for (const target of ["/static/big.bin", "/big"]) {
        const answer = await slowRead(q.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 400);
        const parsed = parse(answer);
        expect(parsed.status).toBe(200);
        expect(header(parsed, "content-length")).toBe(String(big.length));
        expect(parsed.body.length).toBe(big.length);
        expect(parsed.body.equals(big)).toBe(true);
      }
      // The connection after it still works: nothing was left half-written.
      expect((await get(q.port, "/static/hello.txt")).status).toBe(200);
      await q.waitFor(() => accessLines(q).length >= 3, 3000, "three access-log lines");
      expect(
        accessLines(q)
          .slice(0, 2)
          .map((l) => ACCESS_LINE.exec(l)?.[3]),
      ).toEqual([String(big.length), String(big.length)]);
    });
  }
});

describe("proxy sandbox: the micro-cache", () => {
  it("keeps a 200 for --cache seconds: MISS, HIT, then EXPIRED", async () => {
    let served = 0;
    const upstream = await tinyUpstream((request) => {
      served++;
      if (request.startsWith("GET /private"))
        return reply(`private ${served}\n`, { "Cache-Control": "private" });
      if (request.startsWith("GET /cookie"))
        return reply(`cookie ${served}\n`, { "Set-Cookie": "s=1" });
      return reply(`answer ${served}\n`);
    });
    upstreams.push(upstream);
    const p = await start(["--upstream", upstream.url, "--cache", "1"]);
    const first = await get(p.port, "/page?a=1");
    const second = await get(p.port, "/page?a=1");
    expect(header(first, "X-Cache")).toBe("MISS");
    expect(header(second, "X-Cache")).toBe("HIT");
    expect(second.body.toString()).toBe(first.body.toString());
    expect(second.headers.at(-1)).toEqual(["X-Cache", "HIT"]);
    expect(upstream.received).toHaveLength(1);
    // HEAD is answered from the same entry, without a body.
    const head = parse((await raw(p.port, "HEAD /page?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")).bytes);
    expect(header(head, "X-Cache")).toBe("HIT");
    expect(head.body.length).toBe(0);
    // Another query string is another entry.
    expect(header(await get(p.port, "/page?a=2"), "X-Cache")).toBe("MISS");
    await sleep(1100);
    const third = await get(p.port, "/page?a=1");
    expect(header(third, "X-Cache")).toBe("EXPIRED");
    expect(third.body.toString()).not.toBe(first.body.toString());
    expect(header(await get(p.port, "/page?a=1"), "X-Cache")).toBe("HIT");
    // What nginx never stores: private answers, answers setting a cookie, other methods.
    for (const path of ["/private", "/cookie"]) {
      expect(header(await get(p.port, path), "X-Cache")).toBe("MISS");
      expect(header(await get(p.port, path), "X-Cache")).toBe("MISS");
    }
    const post = parse(
      (await raw(p.port, "POST /page?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).bytes,
    );
    expect(header(post, "X-Cache")).toBeUndefined();
    await p.waitFor(() => (p.lastUpstreams()?.cache?.hits ?? 0) >= 3, 3000, "cache counts");
    expect(p.lastUpstreams()?.cache).toMatchObject({ expired: 1 });
    const hit = p.proxyEvents().find((e) => e.cache === "HIT");
    expect(hit).toMatchObject({ route: "cache", attempts: [] });
    expect(p.proxyEvents().find((e) => e.cache === "MISS")?.route).toBe("proxied");
  });
});
