import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { type IncomingHttpHeaders, request } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RequestEvent } from "../../sandboxes/shared/protocol.js";
import { get, sleep } from "./helpers.js";
import { type Prefork, pidOf, removePreforkEntry, startPrefork } from "./prefork-helpers.js";

// A short folder: a Unix socket's path must fit in sun_path (107 bytes on Linux).
const dir = mkdtempSync(join(tmpdir(), "lws-pu-"));
const started: Prefork[] = [];
async function start(args: string[], options?: Parameters<typeof startPrefork>[1]) {
  const p = await startPrefork(args, options);
  started.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  removePreforkEntry();
  rmSync(dir, { recursive: true, force: true });
});

let sockets = 0;
const socketPath = () => join(dir, `g${++sockets}.sock`);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET over a Unix socket with node:http (which sends `Host: localhost` unless told otherwise). */
function unixGet(path: string, target: string, headers: Record<string, string> = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      { socketPath: path, path: target, headers: { "User-Agent": "curl/7.88.1", ...headers } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer on ${path}`)));
    req.end();
  });
}

/** Sends `data` over a Unix socket, half-closes, reads until the server closes. */
function unixRaw(path: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(path, () => socket.end(data, "latin1"));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer on ${path}`)));
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

/** Whether something accepts connections at `path`. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function goneWithin(path: string, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (existsSync(path)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

const requests = (p: Prefork) => p.events.filter((e): e is RequestEvent => e.type === "request");

describe.skipIf(process.platform === "win32")(
  "prefork sandbox: -b unix:PATH, as gunicorn -b unix:PATH",
  () => {
    it("listens on a Unix socket and TCP, in the order given, with gunicorn's lines", async () => {
      const sock = socketPath();
      const p = await start(["-w", "2", "-b", `unix:${sock}`, "-b", "127.0.0.1", "--access-log"]);
      expect(p.stderr()).toContain(
        `[${p.pid}] [INFO] Listening at: unix:${sock},http://127.0.0.1:${p.port} (${p.pid})\n`,
      );
      const listening = p.events.find((e) => e.type === "listening");
      expect(listening).toMatchObject({
        port: p.port,
        url: `http://127.0.0.1:${p.port}/`,
        unix: sock,
      });
      expect(p.port).toBeGreaterThan(0);
      expect(statSync(sock).isSocket()).toBe(true);

      const overUnix = await unixGet(sock, "/");
      expect(overUnix.status).toBe(200);
      expect(overUnix.headers.server).toBe("gunicorn");
      expect(p.liveWorkers()).toContain(pidOf(overUnix.body));
      const overTcp = await get(p.port, "/", "User-Agent: curl/7.88.1\r\n");
      expect(overTcp.status).toBe(200);
      expect(p.liveWorkers()).toContain(pidOf(overTcp.body));

      // Gunicorn's %(h)s is REMOTE_ADDR, which is '' over a Unix socket.
      await p.waitFor(() => p.stdout().split('"GET / HTTP/1.1" 200').length === 3);
      const access = p
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"GET / HTTP/1.1"'));
      expect(access[0]).toMatch(
        /^ - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/ HTTP\/1\.1" 200 \d+ "-" "curl\/7\.88\.1"$/,
      );
      expect(access[1]).toMatch(
        /^127\.0\.0\.1 - - \[.+\] "GET \/ HTTP\/1\.1" 200 \d+ "-" "curl\/7\.88\.1"$/,
      );

      await p.waitFor(() => requests(p).length === 2, 3000, "two request events");
      expect(requests(p).map((e) => e.remote)).toEqual(["", "127.0.0.1"]);
      expect(p.invalid).toEqual([]);

      p.control({ type: "stop" });
      expect((await p.exited).code).toBe(0);
      expect(await goneWithin(sock)).toBe(true);
    });

    it("builds the environ of a Unix socket: Host names the server, no client address", async () => {
      const sock = socketPath();
      const p = await start(["-b", `unix:${sock}`, "--port", "0"]);

      const withHost = (await unixGet(sock, "/environ")).body;
      for (const line of [
        "REMOTE_ADDR = ''",
        "SERVER_NAME = 'localhost'",
        "SERVER_PORT = '80'",
        `gunicorn.socket = <socket.socket fd=9, family=1, type=1, proto=0, laddr=${sock}>`,
      ]) {
        expect(withHost).toContain(`${line}\n`);
      }
      expect(withHost).not.toMatch(/^REMOTE_PORT = /m);

      const named = (await unixGet(sock, "/environ", { Host: "example.com:81" })).body;
      expect(named).toContain("SERVER_NAME = 'example.com'\nSERVER_PORT = '81'\n");

      // HTTP/1.0 without a Host header: the socket's path and an empty port.
      const bare = await unixRaw(sock, "GET /environ HTTP/1.0\r\n\r\n");
      expect(bare.startsWith("HTTP/1.0 200 OK\r\n")).toBe(true);
      expect(bare).toContain(`SERVER_NAME = '${sock}'\nSERVER_PORT = ''\n`);
      expect(bare).toContain("REMOTE_ADDR = ''\n");

      // Over TCP nothing changes: the address listened on, the client's address and port.
      const tcp = (await get(p.port, "/environ")).body.toString();
      expect(tcp).toContain(`SERVER_NAME = '127.0.0.1'\nSERVER_PORT = '${p.port}'\n`);
      expect(tcp).toMatch(/^REMOTE_PORT = '\d+'$/m);
      expect(tcp).toContain(
        "gunicorn.socket = <socket.socket fd=9, family=2, type=1, proto=0, laddr=(",
      );
    });

    it("trusts X-Forwarded-Proto and its kin from 127.0.0.1 and a Unix socket, as gunicorn does", async () => {
      const sock = socketPath();
      const p = await start(["-b", `unix:${sock}`, "--port", "0"]);
      const scheme = (body: string) => /^wsgi\.url_scheme = '(\w+)'$/m.exec(body)?.[1];
      // forwarded_allow_ips is 127.0.0.1 by default, and a Unix socket's peer has no address.
      expect(scheme((await unixGet(sock, "/environ", { "X-Forwarded-Proto": "https" })).body)).toBe(
        "https",
      );
      for (const [extra, expected] of [
        ["X-Forwarded-Proto: https\r\n", "https"],
        ["X-Forwarded-Ssl: on\r\n", "https"],
        ["X-Forwarded-Protocol: ssl\r\n", "https"],
        ["X-Forwarded-Proto: HTTPS\r\n", "http"],
        ["", "http"],
      ]) {
        expect(scheme((await get(p.port, "/environ", extra)).body.toString()), extra).toBe(
          expected,
        );
      }
      // Two of them that disagree: 400, and the app is not called.
      const both = await get(
        p.port,
        "/environ",
        "X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n",
      );
      expect(both.statusLine).toBe("HTTP/1.1 400 Bad Request");
      expect(both.body.toString()).toContain("Contradictory scheme headers");
      // Over the socket, https without a port in Host makes SERVER_PORT 443, as Gunicorn's wsgi.py.
      const secure = (await unixGet(sock, "/environ", { "X-Forwarded-Ssl": "on" })).body;
      expect(secure).toContain("SERVER_NAME = 'localhost'\nSERVER_PORT = '443'\n");
    });

    it("after a contradictory request that came in pieces, the worker is free, not timed out", async () => {
      const p = await start(["--timeout", "1"]);
      const pid = pidOf((await get(p.port, "/")).body.toString());
      const answer = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = connect(p.port, "127.0.0.1", () => {
          socket.write("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n");
          // The rest a moment later: the worker waits for it, as for any slow client.
          setTimeout(() => socket.write("X-Forwarded-Ssl: off\r\n\r\n"), 300);
        });
        socket.on("data", (d: Buffer) => chunks.push(d));
        socket.on("error", reject);
        socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
      });
      expect(answer.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
      await sleep(2500);
      expect(p.stderr()).not.toContain("WORKER TIMEOUT");
      expect(pidOf((await get(p.port, "/")).body.toString())).toBe(pid);
    });

    it("on TERM removes the socket file at once, while a request in flight finishes", async () => {
      const sock = socketPath();
      const p = await start(["-b", `unix:${sock}`, "--port", "0"]);
      const inFlight = unixGet(sock, "/slow?ms=1500");
      await sleep(300);
      p.child.kill("SIGTERM");
      // Gunicorn's Arbiter.stop() closes (and unlinks) its sockets before it waits for workers.
      expect(await goneWithin(sock, 600)).toBe(true);
      expect(await accepts(sock)).toBe(false);
      expect((await inFlight).status).toBe(200);
    });

    it("with -b unix:PATH alone listens there only: port 0 and a unix: url in the event", async () => {
      const sock = socketPath();
      const p = await start(["-b", `unix:${sock}`], { tcp: false });
      expect(p.stderr()).toContain(`[INFO] Listening at: unix:${sock} (${p.pid})\n`);
      expect(p.stderr()).not.toContain("http://");
      const listening = p.events.find((e) => e.type === "listening");
      expect(listening).toMatchObject({ port: 0, url: `unix:${sock}`, unix: sock });
      expect(p.invalid).toEqual([]);
      expect((await unixGet(sock, "/")).body).toMatch(/^Hello from a WSGI app!\npid=\d+\n$/);
      p.control({ type: "stop" });
      expect((await p.exited).code).toBe(0);
      expect(await goneWithin(sock)).toBe(true);
    });

    it("binds a relative path in its own folder, names it as given, reports it absolute", async () => {
      const cwd = mkdtempSync(join(dir, "c"));
      const p = await start(["-b", "unix:rel.sock"], { tcp: false, cwd });
      const sock = join(cwd, "rel.sock");
      expect(p.stderr()).toContain(`[INFO] Listening at: unix:rel.sock (${p.pid})\n`);
      expect(p.events.find((e) => e.type === "listening")).toMatchObject({
        url: `unix:${sock}`,
        unix: sock,
      });
      const environ = await unixRaw(sock, "GET /environ HTTP/1.0\r\n\r\n");
      expect(environ).toContain("SERVER_NAME = 'rel.sock'\n");
      expect(environ).toContain("laddr=rel.sock>\n");
      process.kill(p.pid, "SIGTERM");
      await p.exited;
      expect(await goneWithin(sock)).toBe(true);
    });

    for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) {
      it(`removes the socket file when ${signal} stops it`, async () => {
        const sock = socketPath();
        const p = await start(["-w", "2", "-b", `unix:${sock}`], { tcp: false });
        expect(await accepts(sock)).toBe(true);
        process.kill(p.pid, signal);
        expect((await p.exited).code).toBe(0);
        expect(await goneWithin(sock)).toBe(true);
        expect(p.stderr()).toContain(`[INFO] Handling signal: ${signal.slice(3).toLowerCase()}`);
      });
    }

    it("removes the socket file after a fatal error once bound (the app fails to import)", async () => {
      const sock = socketPath();
      const p = await start(["-b", `unix:${sock}`, "--app", "broken"], {
        tcp: false,
        waitForListening: false,
      });
      expect((await p.exited).code).toBe(3);
      expect(p.stderr()).toContain(`[INFO] Listening at: unix:${sock} (${p.pid})\n`);
      expect(p.stderr()).toContain("[INFO] Reason: Worker failed to boot.\n");
      expect(existsSync(sock)).toBe(false);
    });

    it("replaces a socket file a dead server left behind, as gunicorn's sock.py does", async () => {
      const sock = socketPath();
      // A server killed outright never removes its socket file.
      spawnSync(process.execPath, [
        "-e",
        `require("node:net").createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, "SIGKILL"))`,
      ]);
      expect(statSync(sock).isSocket()).toBe(true);
      expect(await accepts(sock)).toBe(false);
      const p = await start(["-b", `unix:${sock}`], { tcp: false });
      expect((await unixGet(sock, "/")).status).toBe(200);
      expect(p.stderr()).toContain(`[INFO] Listening at: unix:${sock} (${p.pid})\n`);
    });

    it("refuses a path that holds a file which is not a socket, and leaves the file alone", async () => {
      const path = join(dir, "notes.txt");
      writeFileSync(path, "keep me\n");
      const p = await start(["-b", `unix:${path}`, "--port", "0"], { waitForListening: false });
      expect((await p.exited).code).toBe(1);
      expect(p.stderr()).toBe(
        `Error: '${path}' is not a socket. Remove that file, or choose another path for -b unix:PATH.\n`,
      );
      expect(p.events).toContainEqual(
        expect.objectContaining({ type: "error", code: "ENOTSOCK", fatal: true }),
      );
      expect(p.events.some((e) => e.type === "listening")).toBe(false);
      expect(readFileSync(path, "utf8")).toBe("keep me\n");
    });

    it("says why a socket cannot be created in a folder that does not exist", async () => {
      const sock = join(dir, "missing", "g.sock");
      const p = await start(["-b", `unix:${sock}`], { tcp: false, waitForListening: false });
      expect((await p.exited).code).toBe(1);
      expect(p.stderr()).toContain(`[ERROR] Can't connect to ${sock}\n`);
      expect(p.stderr()).toContain("its folder does not exist (ENOENT)");
      expect(p.events).toContainEqual(
        expect.objectContaining({ type: "error", code: "ENOENT", fatal: true }),
      );
    });

    it("refuses a Unix socket for uwsgi, and a path longer than the OS takes, in one line", async () => {
      const sock = socketPath();
      const uwsgi = await start(["--flavour", "uwsgi", "-b", `unix:${sock}`], {
        waitForListening: false,
      });
      expect((await uwsgi.exited).code).toBe(2);
      expect(uwsgi.stderr()).toBe(
        `prefork: '-b unix:${sock}' is a Unix socket: that is for --flavour gunicorn here (see --help)\n`,
      );
      expect(existsSync(sock)).toBe(false);

      const long = join(dir, "x".repeat(120));
      const tooLong = await start(["-b", `unix:${long}`], { waitForListening: false });
      expect((await tooLong.exited).code).toBe(2);
      expect(tooLong.stderr()).toMatch(
        /^prefork: the Unix socket path '.+' is \d+ bytes long and the OS takes at most 10[37]: choose a shorter one \(see --help\)\n$/,
      );
      expect(existsSync(long)).toBe(false);
    });

    it("takes gunicorn's -b HOST:PORT, and refuses a second port given with --port", async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, "127.0.0.1", () => {
          const address = probe.address();
          probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
        });
      });
      const p = await start(["-b", `127.0.0.1:${port}`], { tcp: false });
      expect(p.port).toBe(port);
      expect(p.stderr()).toContain(`[INFO] Listening at: http://127.0.0.1:${port} (${p.pid})\n`);
      // The production lesson's /whoami, through no proxy: the client itself.
      const whoami = (await get(port, "/whoami")).body.toString();
      expect(whoami).toBe(
        "REMOTE_ADDR = '127.0.0.1'\nHTTP_X_FORWARDED_FOR = ''\nHTTP_X_FORWARDED_PROTO = ''\nHTTP_HOST = 'x'\nwsgi.url_scheme = 'http'\n",
      );
      const twice = await start(["-b", `127.0.0.1:${port}`, "--port", "1"], {
        waitForListening: false,
        tcp: false,
      });
      expect((await twice.exited).code).toBe(2);
      expect(twice.stderr()).toBe(
        `prefork: '-b 127.0.0.1:${port}' and '--port 1' name two ports: give the port once (see --help)\n`,
      );
    });

    it("keeps -b HOST --port N as it was: one TCP listener, no unix in the event", async () => {
      const p = await start(["-b", "127.0.0.1"]);
      expect(p.stderr()).toContain(`[INFO] Listening at: http://127.0.0.1:${p.port} (${p.pid})\n`);
      const listening = p.events.find((e) => e.type === "listening");
      expect(listening).toMatchObject({ url: `http://127.0.0.1:${p.port}/` });
      expect(listening).not.toHaveProperty("unix");
      expect((await get(p.port, "/")).status).toBe(200);
    });
  },
);
