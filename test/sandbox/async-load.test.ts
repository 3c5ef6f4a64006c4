import { spawn } from "node:child_process";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { asyncEntry, fdCount, rawConnect, removeAsyncEntry, startAsync } from "./async-helpers.js";
import { get, isAlive, sleep } from "./helpers.js";

afterAll(() => removeAsyncEntry());

function timedGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ port, host: "127.0.0.1", path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    })
      .on("error", reject)
      .end();
  });
}

async function burst(port: number, path: string, n: number): Promise<number> {
  const started = performance.now();
  const statuses = await Promise.all(Array.from({ length: n }, () => timedGet(port, path)));
  expect(statuses).toEqual(Array(n).fill(200));
  return (performance.now() - started) / 1000;
}

describe("async sandbox under load", () => {
  it("waits without blocking (/sleep) but a busy handler blocks everyone (/block)", async () => {
    const s = await startAsync(["--access-log", "off"]);
    try {
      const nonBlocking = await burst(s.port, "/sleep?ms=200", 10);
      const blocking = await burst(s.port, "/block?ms=200", 10);
      // Real Tornado: 1.04 s against 10.04 s for 10 x 1 s.
      expect(nonBlocking).toBeLessThan(1.2);
      expect(blocking).toBeGreaterThan(1.8);
      expect(blocking / nonBlocking).toBeGreaterThan(3);
      // The event-loop delay shows the block.
      await s.waitFor(
        () => s.events.some((e) => e.type === "loop" && e.maxMs >= 150),
        3000,
        "a loop event",
      );
      expect(s.invalid).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it("opens and closes 1,000 WebSockets and 200 HTTP connections, leaking nothing", async () => {
    const s = await startAsync(["--access-log", "off"]);
    try {
      await get(s.port, "/stats");
      await sleep(100);
      const before = fdCount(s.pid);
      const sockets: WebSocket[] = [];
      for (let batch = 0; batch < 10; batch++) {
        const opened = await Promise.all(
          Array.from(
            { length: 100 },
            () =>
              new Promise<WebSocket>((resolve, reject) => {
                const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
                ws.once("open", () => resolve(ws));
                ws.once("error", reject);
              }),
          ),
        );
        sockets.push(...opened);
      }
      await s.waitFor(
        () => {
          const last = s.events.filter((e) => e.type === "connections").at(-1);
          return last?.type === "connections" && last.websockets === 1000;
        },
        5000,
        "1000 websockets",
      );
      const raws: Socket[] = [];
      for (let batch = 0; batch < 2; batch++) {
        const opened = await Promise.all(
          Array.from({ length: 100 }, async () => (await rawConnect(s.port)).socket),
        );
        raws.push(...opened);
      }
      await s.waitFor(
        () => {
          const last = s.events.filter((e) => e.type === "connections").at(-1);
          return last?.type === "connections" && last.http === 200;
        },
        5000,
        "200 HTTP connections",
      );
      for (const ws of sockets) ws.close();
      for (const socket of raws) socket.destroy();
      await s.waitFor(
        () => {
          const last = s.events.filter((e) => e.type === "connections").at(-1);
          return last?.type === "connections" && last.websockets === 0 && last.http === 0;
        },
        8000,
        "no connections left",
      );
      const last = s.events.filter((e) => e.type === "connections").at(-1);
      expect(last?.type === "connections" && last.accepted).toBeGreaterThanOrEqual(1201);
      if (before !== undefined) {
        await s.waitFor(() => (fdCount(s.pid) ?? 0) <= before + 2, 3000, "the fds to close");
      }
      // Events stayed bounded: websocket events at most 100 a second, the rest counted.
      const wsEvents = s.events.filter((e) => e.type === "websocket");
      expect(wsEvents.length).toBeLessThan(1500);
      expect(s.invalid).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it.skipIf(process.platform === "win32")(
    "says once when the open-file limit refuses connections, and goes on serving",
    async () => {
      const s = await startAsync(["--flavour", "uvicorn"], { ulimit: 64 });
      try {
        const first = await rawConnect(s.port);
        const sockets: Socket[] = [];
        await Promise.all(
          Array.from(
            { length: 120 },
            () =>
              new Promise<void>((resolve) => {
                const socket = connect(s.port, "127.0.0.1");
                sockets.push(socket);
                socket.on("error", () => resolve());
                socket.on("close", () => resolve());
                socket.on("connect", () => setTimeout(resolve, 100));
              }),
          ),
        );
        await s.waitFor(() => /ulimit -n 20000/.test(s.stderr()), 5000, "the limit line");
        await sleep(200);
        const lines = s
          .stderr()
          .split("\n")
          .filter((l) => l.includes("Too many open files"));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(
          /^ERROR: {4}Too many open files: .*ulimit -n: 64\).*ulimit -n 20000$/,
        );
        // A connection opened before the limit still gets its answer.
        first.socket.write("GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
        const answer = await first.waitFor((d) => d.includes("}"));
        expect(answer.toString("latin1")).toMatch(/^HTTP\/1\.1 200 OK/);
        const stats = JSON.parse(answer.toString("latin1").split("\r\n\r\n")[1] ?? "{}");
        expect(stats.connections.refused).toBeGreaterThan(0);
        expect(s.events.some((e) => e.type === "error" && e.code === "EMFILE" && !e.fatal)).toBe(
          true,
        );
        for (const socket of sockets) socket.destroy();
        first.socket.destroy();
      } finally {
        await s.stop();
      }
    },
  );

  it("exits within 1 s of an IPC disconnect", async () => {
    const s = await startAsync([]);
    const open = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    await new Promise((resolve) => open.once("open", resolve));
    const started = Date.now();
    s.child.disconnect();
    await s.exited;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(isAlive(s.pid)).toBe(false);
  });

  it.skipIf(process.platform === "win32")(
    "exits within 1 s when its parent dies, even while /block holds the loop",
    async () => {
      // A middle process forks the sandbox, reports its pid and port, and is then SIGKILLed.
      const script = `const c = require("node:child_process").fork(process.argv[1], ["--port", "0"], { stdio: "ignore" });
c.on("message", (m) => { if (m.msg.type === "listening") console.log(m.msg.pid + " " + m.msg.port); });`;
      const middle = spawn(process.execPath, ["-e", script, asyncEntry()], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const line = await new Promise<string>((resolve) => {
        let out = "";
        middle.stdout?.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("\n")) resolve(out.trim());
        });
      });
      const [pid, port] = line.split(" ").map(Number) as [number, number];
      const pending = timedGet(port, "/block?ms=5000").catch(() => 0);
      await sleep(200);
      const started = Date.now();
      middle.kill("SIGKILL");
      while (isAlive(pid) && Date.now() - started < 3000) await sleep(10);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(isAlive(pid)).toBe(false);
      await pending;
    },
  );
});
