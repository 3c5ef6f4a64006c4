import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  acceptOf,
  asyncEntry,
  frame,
  rawConnect,
  removeAsyncEntry,
  SAMPLE_ACCEPT,
  SAMPLE_KEY,
  serverFrames,
  startAsync,
  upgradeRequest,
} from "./async-helpers.js";
import { get, header, parse, raw, sleep } from "./helpers.js";

afterAll(() => removeAsyncEntry());

const DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

function headLines(bytes: Buffer): string[] {
  const text = bytes.toString("latin1");
  return text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n");
}

function openWs(port: number, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once("message", (d: unknown) => resolve(String(d))));
}

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
}

describe("async sandbox: command line", () => {
  it("--help is complete and exits 0", () => {
    const r = spawnSync(process.execPath, [asyncEntry(), "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    for (const word of [
      "--flavour tornado|uvicorn",
      "--port",
      "--bind",
      "--max-message-size",
      "--ping-interval",
      "--ping-timeout",
      "--poll-timeout",
      "--access-log",
      "/sleep?ms=",
      "/block?ms=",
      "/poll",
      "/stats",
      "/ws",
    ]) {
      expect(r.stdout).toContain(word);
    }
  });

  it.each([
    [["--flavour", "gunicorn"], "unknown flavour 'gunicorn'"],
    [["--port", "x"], "invalid port 'x'"],
    [["--bogus"], "unknown option '--bogus'"],
    [["--max-message-size", "0"], "invalid max-message-size '0'"],
    [["--access-log", "maybe"], "takes on or off"],
  ])("usage error %j exits 2 with one line", (args, text) => {
    const r = spawnSync(process.execPath, [asyncEntry(), ...args], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(text);
  });
});

describe("async sandbox: tornado", () => {
  it("answers the WebSocket handshake with Tornado's bytes, echoes, and logs 101", async () => {
    const s = await startAsync([]);
    try {
      const c = await rawConnect(s.port);
      c.socket.write(upgradeRequest(s.port));
      const head = await c.waitFor((d) => d.includes("\r\n\r\n"));
      const lines = headLines(head);
      expect(lines[0]).toBe("HTTP/1.1 101 Switching Protocols");
      expect(lines.slice(1).map((l) => l.split(": ")[0])).toEqual([
        "Server",
        "Date",
        "Upgrade",
        "Connection",
        "Sec-Websocket-Accept",
      ]);
      expect(lines[1]).toBe("Server: TornadoServer/6.2");
      expect(lines[2]?.slice(6)).toMatch(DATE);
      expect(lines.slice(3)).toEqual([
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-Websocket-Accept: ${SAMPLE_ACCEPT}`,
      ]);
      c.socket.write(frame(1, Buffer.from("hi")));
      const data = await c.waitFor((d) => serverFrames(d).length > 0);
      expect(serverFrames(data)[0]).toEqual([1, Buffer.from("echo hi")]);
      c.socket.destroy();
      await s.waitFor(() => /101 GET \/ws/.test(s.stderr()), 3000, "the 101 line");
      expect(s.stderr()).toMatch(
        /^\[I \d{6} \d\d:\d\d:\d\d web:2293\] 101 GET \/ws \(127\.0\.0\.1\) \d+\.\d\dms$/m,
      );
      // The websocket open event carries the handshake, step by step.
      await s.waitFor(() => s.events.some((e) => e.type === "websocket" && e.phase === "open"));
      const open = s.events.find((e) => e.type === "websocket" && e.phase === "open");
      expect(open?.type === "websocket" && open.handshake).toEqual({
        key: SAMPLE_KEY,
        guid: "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
        sha1Hex: Buffer.from(SAMPLE_ACCEPT, "base64").toString("hex"),
        accept: SAMPLE_ACCEPT,
      });
    } finally {
      await s.stop();
    }
  });

  it("refuses a cross-origin upgrade with 403, a plain GET with 400, and logs W lines", async () => {
    const s = await startAsync([]);
    try {
      const evil = parse(
        (await raw(s.port, upgradeRequest(s.port, "Origin: http://evil.example\r\n"))).bytes,
      );
      expect(evil.statusLine).toBe("HTTP/1.1 403 Forbidden");
      expect(evil.headers.map(([k]) => k)).toEqual([
        "Server",
        "Content-Type",
        "Date",
        "Content-Length",
      ]);
      expect(header(evil, "Content-Type")).toBe("text/html; charset=UTF-8");
      expect(evil.body.toString()).toBe("Cross origin websockets not allowed");
      const same = await openWs(s.port, { Origin: `http://127.0.0.1:${s.port}` });
      same.close();
      const plain = await get(s.port, "/ws");
      expect(plain.status).toBe(400);
      expect(plain.body.toString()).toBe('Can "Upgrade" only to "WebSocket".');
      const noKey = await raw(
        s.port,
        `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      expect(parse(noKey.bytes).body.toString()).toBe("Missing/Invalid WebSocket headers");
      await s.waitFor(() => (s.stderr().match(/\] 400 GET \/ws/g) ?? []).length === 2);
      expect(s.stderr()).toMatch(
        /^\[W \d{6} \d\d:\d\d:\d\d web:2293\] 403 GET \/ws \(127\.0\.0\.1\) [\d.]+ms$/m,
      );
      expect(s.stderr()).toMatch(/^\[W [^\]]+\] 400 GET \/ws \(127\.0\.0\.1\) [\d.]+ms$/m);
    } finally {
      await s.stop();
    }
  });

  it("serves the chat page, 404 and 405 with Tornado's headers and log lines", async () => {
    const s = await startAsync([]);
    try {
      expect(s.stdout()).toBe(`Listening on http://127.0.0.1:${s.port}\n`);
      const page = await get(s.port, "/");
      expect(page.status).toBe(200);
      expect(page.headers.map(([k]) => k)).toEqual([
        "Server",
        "Content-Type",
        "Date",
        "Etag",
        "Content-Length",
      ]);
      expect(header(page, "Content-Type")).toBe("text/html; charset=UTF-8");
      expect(header(page, "Etag")).toMatch(/^"[0-9a-f]{40}"$/);
      const html = page.body.toString();
      expect(html).toContain('"/ws"');
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
      const again = await get(s.port, "/", `If-None-Match: ${header(page, "Etag")}\r\n`);
      expect(again.status).toBe(304);
      const missing = await get(s.port, "/nope");
      expect(missing.body.toString()).toBe(
        "<html><title>404: Not Found</title><body>404: Not Found</body></html>",
      );
      const post = parse(
        (await raw(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).bytes,
      );
      expect(post.status).toBe(405);
      const poll = await get(s.port, "/poll?ms=10");
      expect(header(poll, "Content-Type")).toBe("application/json; charset=UTF-8");
      expect(poll.body.toString()).toBe('{"message": null, "timeout": true}');
      const bad = await get(s.port, "/sleep?ms=99999999");
      expect(bad.status).toBe(400);
      await s.waitFor(() => /400 GET \/sleep/.test(s.stderr()));
      const log = s.stderr();
      expect(log).toMatch(
        /^\[I \d{6} \d\d:\d\d:\d\d web:2293\] 200 GET \/ \(127\.0\.0\.1\) \d+\.\d\dms$/m,
      );
      expect(log).toMatch(/^\[I [^\]]+\] 304 GET \/ /m);
      expect(log).toMatch(/^\[W [^\]]+\] 404 GET \/nope /m);
      expect(log).toMatch(/^\[W [^\]]+\] 400 GET \/sleep\?ms=99999999 /m);
      // Keep-alive: two requests on one connection.
      const two = await raw(
        s.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      const text = two.bytes.toString("latin1");
      expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(2);
    } finally {
      await s.stop();
    }
  });

  it("Ctrl+C prints Python's KeyboardInterrupt traceback and exits", async () => {
    const s = await startAsync([]);
    s.child.kill("SIGINT");
    const { code } = await s.exited;
    expect(code).toBe(0);
    expect(s.stderr()).toMatch(/asyncio\.run\(main\(\)\)\n[\s\S]*\nKeyboardInterrupt\n$/);
  });
});

describe("async sandbox: uvicorn", () => {
  it("prints the startup lines, the access log on stdout and the WebSocket lines", async () => {
    const s = await startAsync(["--flavour", "uvicorn"]);
    try {
      expect(s.stderr()).toBe(
        `INFO:     Started server process [${s.pid}]\nINFO:     Waiting for application startup.\nINFO:     Application startup complete.\nINFO:     Uvicorn running on http://127.0.0.1:${s.port} (Press CTRL+C to quit)\n`,
      );
      const page = await get(s.port, "/");
      expect(page.headers.map(([k]) => k)).toEqual([
        "date",
        "server",
        "content-length",
        "content-type",
      ]);
      expect(header(page, "server")).toBe("uvicorn");
      expect(header(page, "date")).toMatch(DATE);
      const c = await rawConnect(s.port);
      c.socket.write(upgradeRequest(s.port, "Origin: http://evil.example\r\n"));
      const head = await c.waitFor((d) => d.includes("\r\n\r\n"));
      const lines = headLines(head);
      expect(lines[0]).toBe("HTTP/1.1 101 Switching Protocols");
      expect(lines.slice(1, 4)).toEqual([
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`,
      ]);
      expect(lines[4]?.slice(6)).toMatch(DATE);
      expect(lines[5]).toBe("Server: Python/3.11 websockets/10.4");
      c.socket.destroy();
      const plain = await get(s.port, "/ws");
      expect(plain.status).toBe(404);
      const v8 = await raw(s.port, upgradeRequest(s.port).replace("Version: 13", "Version: 8"));
      const failed = parse(v8.bytes);
      expect(failed.status).toBe(400);
      expect(failed.headers.map(([k]) => k)).toEqual([
        "Date",
        "Server",
        "Content-Length",
        "Content-Type",
        "Connection",
      ]);
      expect(failed.body.toString()).toBe(
        "Failed to open a WebSocket connection: invalid Sec-WebSocket-Version header: 8.\n",
      );
      await s.waitFor(() => s.stdout().includes("/ws HTTP/1.1"));
      expect(s.stdout()).toMatch(/^INFO: {5}127\.0\.0\.1:\d+ - "GET \/ HTTP\/1\.1" 200 OK$/m);
      expect(s.stdout()).toMatch(
        /^INFO: {5}127\.0\.0\.1:\d+ - "GET \/ws HTTP\/1\.1" 404 Not Found$/m,
      );
      await s.waitFor(() => s.stderr().includes("connection failed"));
      expect(s.stderr()).toMatch(
        /^INFO: {5}\('127\.0\.0\.1', \d+\) - "WebSocket \/ws" \[accepted\]\nINFO: {5}connection open$/m,
      );
      expect(s.stderr()).toContain("INFO:     connection failed (400 Bad Request)\n");
      s.child.kill("SIGINT");
      await s.exited;
      expect(s.stderr()).toMatch(
        new RegExp(
          `INFO: {5}Shutting down\\nINFO: {5}Waiting for application shutdown\\.\\nINFO: {5}Application shutdown complete\\.\\nINFO: {5}Finished server process \\[${s.pid}\\]\\n$`,
        ),
      );
    } finally {
      await s.stop();
    }
  });
});

describe("async sandbox: WebSockets and long polling", () => {
  it("echoes, broadcasts to every client, and answers a long poll", async () => {
    const s = await startAsync(["--flavour", "uvicorn"]);
    try {
      const clients = await Promise.all([openWs(s.port), openWs(s.port), openWs(s.port)]);
      const [a, b, c] = clients as [WebSocket, WebSocket, WebSocket];
      const echo = nextMessage(a);
      a.send("ping");
      expect(await echo).toBe("echo ping");
      const got = clients.map(nextMessage);
      const poll = new Promise<{ status: number; body: string }>((resolve) => {
        request({ port: s.port, host: "127.0.0.1", path: "/poll?ms=5000", agent: false }, (res) => {
          let body = "";
          res.on("data", (d) => {
            body += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        }).end();
      });
      await s.waitFor(() => s.events.some((e) => e.type === "connections" && e.polls === 1));
      b.send("all:hello everyone");
      expect(await Promise.all(got)).toEqual([
        "broadcast hello everyone",
        "broadcast hello everyone",
        "broadcast hello everyone",
      ]);
      const answered = await poll;
      expect(answered.status).toBe(200);
      expect(JSON.parse(answered.body)).toEqual({ message: "all:hello everyone", from: 2 });
      const quiet = await get(s.port, "/poll?ms=50");
      expect(JSON.parse(quiet.body.toString())).toEqual({ message: null, timeout: true });
      const stats = JSON.parse((await get(s.port, "/stats")).body.toString());
      expect(stats.connections.websockets).toBe(3);
      expect(stats.messages).toEqual({ received: 2, sent: 4, broadcasts: 1 });
      for (const ws of [a, b, c]) ws.close();
      await s.waitFor(() => {
        const last = s.events.filter((e) => e.type === "connections").at(-1);
        return last?.type === "connections" && last.websockets === 0 && last.http === 0;
      });
      const message = s.events.find(
        (e) => e.type === "websocket" && e.phase === "message" && e.message?.broadcast,
      );
      expect(message?.type === "websocket" && message.message).toEqual({
        text: "all:hello everyone",
        bytes: 18,
        binary: false,
        broadcast: true,
        recipients: 3,
      });
      expect(
        s.events.some((e) => e.type === "websocket" && e.phase === "close" && e.code === 1005),
      ).toBe(true);
      expect(s.invalid).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it("over the event budget, a message event counts only the messages left out", async () => {
    const s = await startAsync([]);
    try {
      // 120 opens in one go: past the budget of 100 a second, some open events are left out.
      const clients = await Promise.all(Array.from({ length: 120 }, () => openWs(s.port)));
      const first = clients[0] as WebSocket;
      const reported = () => s.events.some((e) => e.type === "websocket" && e.phase === "message");
      // The budget comes back each second: messages go until one is reported, with those left
      // out before it counted in its `skipped`.
      let sent = 0;
      while (!reported() && sent < 8) {
        const echo = nextMessage(first);
        first.send(`message ${++sent}`);
        await echo;
        await sleep(600);
      }
      expect(reported()).toBe(true);
      const opens = s.events.filter((e) => e.type === "websocket" && e.phase === "open");
      const messages = s.events.filter((e) => e.type === "websocket" && e.phase === "message");
      expect(opens.length).toBeLessThan(120);
      const counted = messages.reduce(
        (n, e) => n + 1 + (e.type === "websocket" ? (e.skipped ?? 0) : 0),
        0,
      );
      expect(counted).toBe(sent);
      for (const ws of clients) ws.terminate();
    } finally {
      await s.stop();
    }
  });

  it("closes with 1009 over the size limit, 1007 for bad UTF-8, 1002 for an unmasked frame", async () => {
    const s = await startAsync(["--max-message-size", "1024"]);
    try {
      const ws = await openWs(s.port);
      const ok = nextMessage(ws);
      ws.send("x".repeat(1000));
      expect(await ok).toBe(`echo ${"x".repeat(1000)}`);
      const code = closeCode(ws);
      ws.send("x".repeat(2000));
      expect(await code).toBe(1009);

      const closeFrameCode = async (bytes: Buffer) => {
        const c = await rawConnect(s.port);
        c.socket.write(upgradeRequest(s.port));
        await c.waitFor((d) => d.includes("\r\n\r\n"));
        c.socket.write(bytes);
        const data = await c.waitFor((d) => serverFrames(d).some(([op]) => op === 8));
        c.socket.destroy();
        const close = serverFrames(data).find(([op]) => op === 8);
        return close?.[1].readUInt16BE(0);
      };
      expect(await closeFrameCode(frame(1, Buffer.from([0xff, 0xfe])))).toBe(1007);
      expect(await closeFrameCode(frame(1, Buffer.from("hi"), false))).toBe(1002);
      await s.waitFor(() =>
        [1009, 1007, 1002].every((code) =>
          s.events.some((e) => e.type === "websocket" && e.phase === "close" && e.code === code),
        ),
      );
    } finally {
      await s.stop();
    }
  });

  it("pings each WebSocket and closes one that never answers (1011 under uvicorn)", async () => {
    const s = await startAsync([
      "--flavour",
      "uvicorn",
      "--ping-interval",
      "0.1",
      "--ping-timeout",
      "0.2",
    ]);
    try {
      const c = await rawConnect(s.port);
      c.socket.write(upgradeRequest(s.port, "", "AAAAAAAAAAAAAAAAAAAAAA=="));
      const head = await c.waitFor((d) => d.includes("\r\n\r\n"));
      expect(head.toString("latin1")).toContain(
        `Sec-WebSocket-Accept: ${acceptOf("AAAAAAAAAAAAAAAAAAAAAA==")}`,
      );
      const data = await c.waitFor((d) => serverFrames(d).some(([op]) => op === 8), 3000);
      const frames = serverFrames(data);
      expect(frames.some(([op]) => op === 9)).toBe(true);
      const close = frames.find(([op]) => op === 8);
      expect(close?.[1].readUInt16BE(0)).toBe(1011);
      c.socket.destroy();
      // A client that answers pings (ws does) stays open.
      const ws = await openWs(s.port);
      await sleep(600);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.close();
    } finally {
      await s.stop();
    }
  });
});
