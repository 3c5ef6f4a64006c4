import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get, header, parse, raw } from "./helpers.js";
import {
  proxyEntry,
  type RunningProxy,
  removeProxyEntry,
  reply,
  startProxy,
  type TinyUpstream,
  tinyUpstream,
} from "./proxy-helpers.js";

const started: RunningProxy[] = [];
const apps: SocketApp[] = [];
const tcpUpstreams: TinyUpstream[] = [];
let dir = "";

/** What the app on the Unix socket received, as it answers it. */
interface Received {
  name: string;
  method: string;
  url: string;
  httpVersion: string;
  rawHeaders: string[];
}

interface SocketApp {
  path: string;
  received: Received[];
  close(): Promise<void>;
}

/**
 * An HTTP app listening on a Unix socket that answers with what it received and closes each
 * connection after its answer, as a Gunicorn sync worker does.
 */
async function socketApp(name: string): Promise<SocketApp> {
  const path = join(dir, `${name}.sock`);
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const got: Received = {
      name,
      method: req.method ?? "",
      url: req.url ?? "",
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders,
    };
    received.push(got);
    req.resume();
    req.on("end", () => {
      const body = `${JSON.stringify(got)}\n`;
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body),
        Connection: "close",
      });
      res.end(body);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const app: SocketApp = {
    path,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  apps.push(app);
  return app;
}

/** A socket file nobody listens on: a process bound it and exited without removing it. */
function deadSocket(name: string): string {
  const path = join(dir, `${name}.sock`);
  execFileSync(process.execPath, [
    "-e",
    "require('node:net').createServer().listen(process.argv[1], () => process.exit(0))",
    path,
  ]);
  return path;
}

async function start(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<RunningProxy> {
  const p = await startProxy(args, options);
  started.push(p);
  return p;
}

function body(r: { body: Buffer }): Received {
  return JSON.parse(r.body.toString()) as Received;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** `(2: No such file or directory)`, numbered as this system numbers the errno. */
function errno(code: "ENOENT" | "ECONNREFUSED"): string {
  const text = code === "ENOENT" ? "No such file or directory" : "Connection refused";
  return `(${constants.errno[code]}: ${text})`;
}

/** nginx's line for a connect() to a Unix socket that failed, for `GET target`. */
function connectLine(level: "crit" | "error", path: string, code: "ENOENT" | "ECONNREFUSED") {
  return (target: string) =>
    new RegExp(
      `\\[${level}\\] \\d+#\\d+: \\*\\d+ ${escapeRegex(
        `connect() to unix:${path} failed ${errno(code)} while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET ${target} HTTP/1.1", upstream: "http://unix:${path}:${target}", host: "x"`,
      )}\\n`,
    );
}

const PAGE_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

async function logged(p: RunningProxy, pattern: RegExp): Promise<void> {
  await p.waitFor(() => pattern.test(p.stderr()), 3000, `the log line ${pattern}`);
  expect(p.stderr()).toMatch(pattern);
}

beforeAll(() => {
  // A short folder: a Unix socket's path holds 107 bytes at most on Linux, 103 on macOS.
  dir = mkdtempSync(join(tmpdir(), "lws-proxy-unix-"));
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(tcpUpstreams.map((u) => u.close()));
  removeProxyEntry();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform === "win32")("proxy sandbox: upstreams on Unix sockets", () => {
  it("passes a request over a Unix socket with nginx's headers, naming the upstream unix:PATH", async () => {
    const app = await socketApp("app");
    // A relative path is taken from the proxy's current folder.
    const p = await start(["--upstream", "unix:app.sock"], { cwd: dir });
    const url = `unix:${app.path}`;
    expect(p.upstreams()).toEqual([url]);
    expect(p.stderr()).toMatch(
      new RegExp(
        `\\[notice\\] \\d+#\\d+: proxy listening on http://127\\.0\\.0\\.1:${p.port}/: /static/ from .+, the rest to ${escapeRegex(url)}\\n`,
      ),
    );

    const r = parse(
      (
        await raw(
          p.port,
          "GET /hello?x=1 HTTP/1.1\r\nHost: example.test:8080\r\nX-Forwarded-For: 10.0.0.1\r\nUser-Agent: curl/8.0\r\n\r\n",
        )
      ).bytes,
    );
    expect(r.statusLine).toBe("HTTP/1.1 200 OK");
    expect(header(r, "Server")).toBe("nginx/1.22.1");
    expect(header(r, "Content-Type")).toBe("application/json");
    const got = body(r);
    expect(got).toMatchObject({
      name: "app",
      method: "GET",
      url: "/hello?x=1",
      httpVersion: "1.0",
    });
    const pairs: [string, string][] = [];
    for (let i = 0; i < got.rawHeaders.length; i += 2)
      pairs.push([got.rawHeaders[i] ?? "", got.rawHeaders[i + 1] ?? ""]);
    expect(pairs.slice(0, 5)).toEqual([
      ["X-Forwarded-For", "10.0.0.1, 127.0.0.1"],
      ["X-Forwarded-Proto", "http"],
      ["Host", "example.test:8080"],
      ["X-Request-ID", expect.stringMatching(/^[0-9a-f]{32}$/)],
      ["Connection", "close"],
    ]);
    expect(pairs.slice(5)).toEqual([["User-Agent", "curl/8.0"]]);

    await p.waitFor(() => p.proxyEvents().length === 1 && p.lastUpstreams() !== undefined);
    const event = p.proxyEvents()[0];
    expect(event?.upstream).toBe(url);
    expect(event?.attempts.map((a) => [a.upstream, a.outcome])).toEqual([[url, "ok"]]);
    expect(p.lastUpstreams()?.upstreams.map((u) => u.upstream)).toEqual([url]);
    await p.waitFor(() =>
      /"GET \/hello\?x=1 HTTP\/1\.1" 200 \d+ "-" "curl\/8\.0"/.test(p.stdout()),
    );
    expect(p.invalid).toEqual([]);
  });

  it("goes past a missing socket (crit) and a dead one (error) to the live one", async () => {
    const missing = join(dir, "missing.sock");
    const dead = deadSocket("dead");
    const live = await socketApp("live");
    const p = await start([
      "--upstream",
      `unix:${missing}`,
      "--upstream",
      `unix:${dead}`,
      "--upstream",
      `unix:${live.path}`,
    ]);
    const first = await get(p.port, "/");
    expect(first.status).toBe(200);
    expect(body(first).name).toBe("live");
    const missingLine = connectLine("crit", missing, "ENOENT")("/");
    const deadLine = connectLine("error", dead, "ECONNREFUSED")("/");
    await logged(p, missingLine);
    await logged(p, deadLine);
    const lines = p.stderr().split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(`${l}\n`));
    expect(at(missingLine)).toBeLessThan(at(deadLine));

    await p.waitFor(() => p.proxyEvents().length === 1);
    expect(p.proxyEvents()[0]?.attempts.map((a) => [a.upstream, a.outcome])).toEqual([
      [`unix:${missing}`, "refused"],
      [`unix:${dead}`, "refused"],
      [`unix:${live.path}`, "ok"],
    ]);
    // max_fails 1: both are out now, so the next requests go straight to the live one.
    for (let i = 0; i < 3; i++) expect(body(await get(p.port, `/again${i}`)).name).toBe("live");
    expect(p.stderr().match(/connect\(\) to unix:/g)).toHaveLength(2);
    await p.waitFor(
      () => {
        const states = p.lastUpstreams()?.upstreams.map((u) => [u.upstream, u.state, u.failures]);
        return (
          JSON.stringify(states) ===
          JSON.stringify([
            [`unix:${missing}`, "down", 1],
            [`unix:${dead}`, "down", 1],
            [`unix:${live.path}`, "up", 0],
          ])
        );
      },
      3000,
      "the two failed sockets shown down",
    );
    expect(p.invalid).toEqual([]);
  });

  it("answers 502 Bad Gateway when no socket answers", async () => {
    const missing = join(dir, "nobody.sock");
    const dead = deadSocket("dead502");
    const p = await start(["--upstream", `unix:${missing},unix:${dead}`]);
    const r = await get(p.port, "/gone");
    expect(r.statusLine).toBe("HTTP/1.1 502 Bad Gateway");
    expect(header(r, "Content-Length")).toBe("157");
    expect(r.body.toString()).toBe(PAGE_502);
    await logged(p, connectLine("crit", missing, "ENOENT")("/gone"));
    await logged(p, connectLine("error", dead, "ECONNREFUSED")("/gone"));
    await p.waitFor(() => /"GET \/gone HTTP\/1\.1" 502 157 /.test(p.stdout()));

    // A single upstream is never taken out: each request tries the socket again.
    const q = await start(["--upstream", `unix:${missing}`]);
    expect((await get(q.port, "/1")).status).toBe(502);
    expect((await get(q.port, "/2")).status).toBe(502);
    await logged(q, connectLine("crit", missing, "ENOENT")("/2"));
    expect(q.stderr()).not.toContain("no live upstreams");
  });

  it("takes turns between a TCP upstream and a Unix one, and fails over when the socket goes", async () => {
    const tcp = await tinyUpstream(() => reply('{"name":"tcp"}\n'));
    tcpUpstreams.push(tcp);
    const app = await socketApp("mixed");
    // nginx's proxy_pass spelling of a Unix socket works too.
    const p = await start(["--upstream", tcp.url, "--upstream", `http://unix:${app.path}:`]);
    expect(p.upstreams()).toEqual([tcp.url, `unix:${app.path}`]);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(body(await get(p.port, `/rr${i}`)).name);
    expect(names).toEqual(["tcp", "mixed", "tcp", "mixed", "tcp", "mixed"]);
    expect(app.received).toHaveLength(3);
    expect(tcp.received).toHaveLength(3);

    // Stopping the app removes its socket file: the request whose turn it is (/after1, the TCP
    // upstream takes /after0) finds nothing there and goes on to the TCP one.
    await app.close();
    for (let i = 0; i < 3; i++) expect(body(await get(p.port, `/after${i}`)).name).toBe("tcp");
    await logged(p, connectLine("crit", app.path, "ENOENT")("/after1"));
    await p.waitFor(() => p.proxyEvents().some((e) => e.target === "/after1"));
    expect(
      p
        .proxyEvents()
        .find((e) => e.target === "/after1")
        ?.attempts.map((a) => [a.upstream, a.outcome]),
    ).toEqual([
      [`unix:${app.path}`, "refused"],
      [tcp.url, "ok"],
    ]);
    expect(p.invalid).toEqual([]);
  });

  it("does the same over net.Socket where Node's pipe handles are not at hand", async () => {
    const env = { LEARN_WEBSERVERS_PROXY_NET_SOCKET: "1" };
    const missing = join(dir, "gone.sock");
    const dead = deadSocket("deadnet");
    const app = await socketApp("net");
    const p = await start(
      [
        "--upstream",
        `unix:${missing}`,
        "--upstream",
        `unix:${dead}`,
        "--upstream",
        `unix:${app.path}`,
      ],
      { env },
    );
    const r = parse(
      (await raw(p.port, "GET /net HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n"))
        .bytes,
    );
    expect(r.status).toBe(200);
    const got = body(r);
    expect(got).toMatchObject({ name: "net", url: "/net", httpVersion: "1.0" });
    expect(got.rawHeaders.slice(0, 6)).toEqual([
      "X-Forwarded-For",
      "10.0.0.2, 127.0.0.1",
      "X-Forwarded-Proto",
      "http",
      "Host",
      "x",
    ]);
    await logged(p, connectLine("crit", missing, "ENOENT")("/net"));
    await logged(p, connectLine("error", dead, "ECONNREFUSED")("/net"));
    await p.waitFor(() => p.proxyEvents().length === 1);
    expect(p.proxyEvents()[0]?.attempts.map((a) => a.outcome)).toEqual([
      "refused",
      "refused",
      "ok",
    ]);
    expect(p.invalid).toEqual([]);
  });

  it("documents unix:PATH and refuses a socket path too long for the system", () => {
    const help = execFileSync(process.execPath, [proxyEntry(), "--help"], { encoding: "utf8" });
    expect(help).toContain("--upstream unix:PATH");
    const long = `unix:/${"a".repeat(120)}.sock`;
    const r = spawnSync(process.execPath, [proxyEntry(), "--port", "0", "--upstream", long], {
      encoding: "utf8",
      timeout: 10000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("a Unix socket path holds at most");
    expect(r.stderr).toContain("put the socket in a shorter folder");
  });
});
