import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ErrorEvent, SignalEvent, WorkerEvent } from "../../sandboxes/shared/protocol.js";
import { get, sleep } from "./helpers.js";
import { alive, pidOf } from "./prefork-helpers.js";
import { proxyEntry, type RunningProxy, removeProxyEntry, startProxy } from "./proxy-helpers.js";

const started: RunningProxy[] = [];

async function start(
  args: string[],
  options?: Parameters<typeof startProxy>[1],
): Promise<RunningProxy> {
  const p = await startProxy(args, options);
  started.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  removeProxyEntry();
});

async function allGone(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((pid) => !alive(pid))) return true;
    await sleep(20);
  }
  return pids.every((pid) => !alive(pid));
}

/** The proxy, its app servers' masters and their workers, once every one is known. */
async function processTree(p: RunningProxy, workers: number): Promise<number[]> {
  await p.waitFor(() => p.masters().length > 0, 3000, "the app server's pid");
  await p.waitFor(() => p.liveWorkers().length === workers, 3000, "the workers");
  const pids = [p.pid, ...p.masters(), ...p.liveWorkers()];
  expect(pids.every(alive)).toBe(true);
  return pids;
}

/** Sends a request head a few bytes at a time over `ms`; resolves with the answer once it ends. */
function trickle(port: number, ms: number): Promise<string> {
  const head =
    "GET /?slow=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: slow-client\r\nConnection: close\r\nX-Pad: aaaaaaaaaaaa\r\n\r\n";
  const steps = 20;
  const size = Math.ceil(head.length / steps);
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    socket.on("data", (d: Buffer) => got.push(d));
    socket.on("error", () => {});
    socket.on("close", () => resolve(Buffer.concat(got).toString("latin1")));
    let i = 0;
    const timer = setInterval(() => {
      socket.write(head.slice(i * size, (i + 1) * size));
      i++;
      if (i >= steps) clearInterval(timer);
    }, ms / steps);
    setTimeout(() => socket.end(), ms + 3000);
  });
}

describe("proxy sandbox: buffering slow clients", () => {
  it("a client trickling its request for 2 s keeps no worker busy behind the proxy, one without it", async () => {
    const p = await start(["--workers", "1"]);
    const appPort = Number(new URL(p.direct()[0] ?? "").port);

    // Behind the proxy: the only worker stays free for everyone else.
    const slow = trickle(p.port, 2000);
    await p.waitFor(() => (p.lastUpstreams()?.clients.reading ?? 0) === 1, 2000, "the slow client");
    // The proxy is reading it, and holds no connection to the app server for it.
    expect(p.lastUpstreams()?.upstreams[0]?.active).toBe(0);
    const t0 = performance.now();
    const other = await get(p.port, "/slow?ms=100");
    const waited = performance.now() - t0;
    expect(other.status).toBe(200);
    expect(waited).toBeLessThan(1200);
    const answer = await slow;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    await p.waitFor(() => p.proxyEvents().some((e) => e.target === "/?slow=1"), 3000, "its event");
    const event = p.proxyEvents().find((e) => e.target === "/?slow=1");
    // The upstream was chosen only once the whole request was in, ~2 s after its first byte.
    expect(event?.readMs).toBeGreaterThan(1500);
    expect(event?.attempts[0]?.chosenMs).toBeGreaterThanOrEqual(event?.readMs ?? 0);
    const app = p.requests().find((e) => e.upstream && e.target === "/?slow=1");
    expect(app?.durationMs).toBeLessThan(500);

    // Straight to the app server, the same client holds its only worker until it is done.
    const direct = trickle(appPort, 2000);
    await sleep(400);
    const t1 = performance.now();
    const blocked = await get(appPort, "/");
    const blockedMs = performance.now() - t1;
    expect(blocked.status).toBe(200);
    expect(blockedMs).toBeGreaterThan(1200);
    expect(await direct).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe("proxy sandbox: the lab's controls reach gunicorn", () => {
  it("passes signal and kill-worker to the app server's master, and its events back", async () => {
    const p = await start(["--workers", "1"]);
    await processTree(p, 1);
    const [master] = p.masters();
    p.control({ type: "signal", signal: "TTIN" });
    await p.waitFor(() => p.liveWorkers().length === 2, 5000, "a second worker");
    const signal = p.events.find((e): e is SignalEvent => e.type === "signal");
    expect(signal).toMatchObject({ signal: "TTIN", via: "ipc", pid: master });
    await p.waitFor(
      () => p.stderr().includes("[INFO] Handling signal: ttin"),
      3000,
      "gunicorn's line",
    );

    const victim = p.liveWorkers()[0] ?? 0;
    p.control({ type: "kill-worker", signal: "SIGKILL", pid: victim });
    await p.waitFor(
      () =>
        p.events.some(
          (e) =>
            e.type === "worker" &&
            e.pid === victim &&
            e.state === "exited" &&
            e.signal === "SIGKILL",
        ),
      5000,
      "the worker killed",
    );
    await p.waitFor(() => p.liveWorkers().length === 2 && !p.liveWorkers().includes(victim), 5000);
    const r = await get(p.port, "/");
    expect(p.liveWorkers()).toContain(pidOf(r.body));
    expect(p.invalid).toEqual([]);
  });

  it("with two app servers, stopping one leaves the other answering", async () => {
    const p = await start(["--app-servers", "2", "--workers", "1"]);
    await p.waitFor(() => p.masters().length === 2, 5000, "two masters");
    const [first, second] = p.masters();
    expect(p.upstreams()).toHaveLength(2);
    const pids = new Set<number>();
    for (let i = 0; i < 4; i++) pids.add(pidOf((await get(p.port, "/")).body));
    expect(pids.size).toBe(2);
    // TERM goes to the first app server still running.
    p.control({ type: "signal", signal: "TERM" });
    await p.waitFor(() => !alive(first ?? 0), 5000, "the first master to stop");
    const error = await (async () => {
      await p.waitFor(() => p.events.some((e) => e.type === "error" && e.code === "EUPSTREAM"));
      return p.events.find((e): e is ErrorEvent => e.type === "error" && e.code === "EUPSTREAM");
    })();
    expect(error?.fatal).toBe(false);
    for (let i = 0; i < 4; i++) expect((await get(p.port, `/?after=${i}`)).status).toBe(200);
    expect(alive(second ?? 0)).toBe(true);
    // Gunicorn removed its socket file as it stopped: nginx logs that at crit (on Windows, where
    // the app servers listen on ports, connect() is refused instead).
    if (process.platform === "win32") {
      await p.waitFor(() => p.stderr().includes("connect() failed (111: Connection refused)"));
      return;
    }
    const [gone] = p.upstreams();
    const missing = `connect() to ${gone} failed (2: No such file or directory) while connecting to upstream`;
    await p.waitFor(() => p.stderr().includes(missing), 3000, "the failed connect");
    const line = p
      .stderr()
      .split("\n")
      .find((l) => l.includes(missing));
    expect(line).toMatch(/ \[crit\] \d+#\d+: \*\d+ connect\(\) to unix:/);
    await p.waitFor(() => p.lastUpstreams()?.upstreams.some((u) => u.state === "down") === true);
  });

  it("a master killed outright: its workers are reported gone, as they follow it", async () => {
    const p = await start(["--app-servers", "2", "--workers", "2"]);
    await p.waitFor(() => p.masters().length === 2, 5000, "two masters");
    const workerEvents = () => p.events.filter((e): e is WorkerEvent => e.type === "worker");
    await p.waitFor(
      () =>
        new Set(
          workerEvents()
            .filter((e) => e.state === "idle")
            .map((e) => e.pid),
        ).size === 4,
      5000,
      "four idle workers",
    );
    const [first] = p.masters();
    const before = new Set(workerEvents().map((e) => e.pid));
    process.kill(first ?? 0, "SIGKILL");
    await p.waitFor(
      () =>
        workerEvents().filter((e) => e.state === "exited" && e.reason === "shutdown").length === 2,
      5000,
      "two workers reported exited",
    );
    const gone = workerEvents()
      .filter((e) => e.state === "exited")
      .map((e) => e.pid);
    expect(gone.every((pid) => before.has(pid))).toBe(true);
    // Only the killed master's workers: the other app server still answers.
    expect((await get(p.port, "/")).status).toBe(200);
    await p.waitFor(() => gone.every((pid) => !alive(pid)), 3000, "its workers to be gone");
    if (process.platform === "win32") return;
    // The killed master left its socket file; with the proxy killed too, the other app server
    // removes the folder, stale socket and all.
    const socketDir = dirname((p.upstreams()[0] ?? "").replace(/^unix:/, ""));
    expect(existsSync(socketDir)).toBe(true);
    p.child.kill("SIGKILL");
    const deadline = Date.now() + 3000;
    while (existsSync(socketDir) && Date.now() < deadline) await sleep(50);
    expect(existsSync(socketDir)).toBe(false);
  });

  it("keeps answering 502 with an app that does not import, and says why", async () => {
    const p = await start(["--app", "broken"]);
    await p.waitFor(() => p.events.some((e) => e.type === "error"), 5000, "the app server's error");
    expect(
      p.events.filter((e) => e.type === "error").every((e) => e.type === "error" && !e.fatal),
    ).toBe(true);
    const r = await get(p.port, "/");
    expect(r.statusLine).toBe("HTTP/1.1 502 Bad Gateway");
    expect(p.stderr()).toContain("Reason: Worker failed to boot.");
  });
});

describe("proxy sandbox: no process left behind", () => {
  const ways: [string, (p: RunningProxy) => void][] = [
    ["SIGTERM", (p) => p.child.kill("SIGTERM")],
    ["SIGINT", (p) => p.child.kill("SIGINT")],
    ["the lab's stop", (p) => p.control({ type: "stop" })],
    ["its parent going away", (p) => p.child.disconnect()],
    ["SIGKILL", (p) => p.child.kill("SIGKILL")],
  ];
  for (const [way, leave] of ways) {
    it(`after ${way}, the app server's master and workers are gone too, and its socket's folder`, async () => {
      const p = await start(["--workers", "2"]);
      const pids = await processTree(p, 2);
      const unix = process.platform !== "win32";
      const socketDir = dirname((p.upstreams()[0] ?? "").replace(/^unix:/, ""));
      if (unix) expect(existsSync(socketDir)).toBe(true);
      const t0 = performance.now();
      leave(p);
      const exit = await p.exited;
      if (way === "SIGKILL") expect(exit.signal).toBe("SIGKILL");
      else expect(exit.code).toBe(0);
      // Gone within about a second of the proxy (more on a busy machine).
      expect(await allGone(pids, 2500)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(4000);
      // Even after SIGKILL: the app server, exiting last, removes the emptied folder.
      if (unix) expect(existsSync(socketDir)).toBe(false);
      if (way === "SIGTERM") expect(p.stderr()).toContain("signal 15 (SIGTERM) received, exiting");
      if (way === "SIGINT") expect(p.stderr()).toContain("signal 2 (SIGINT) received, exiting");
    });
  }

  it("when its port is taken, says so as nginx does and stops its app server", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const address = holder.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const p = await start(["--port", String(port)], { waitForListening: false });
    const exit = await p.exited;
    holder.close();
    expect(exit.code).toBe(1);
    expect(p.stderr()).toMatch(
      new RegExp(
        `\\[emerg\\] ${p.pid}#${p.pid}: bind\\(\\) to 127\\.0\\.0\\.1:${port} failed \\(\\d+: Address already in use\\)`,
      ),
    );
    expect(p.stderr()).toContain("still could not bind()");
    const error = p.events.find((e): e is ErrorEvent => e.type === "error");
    expect(error).toMatchObject({ code: "EADDRINUSE", fatal: true });
    const workers = p.events.filter((e): e is WorkerEvent => e.type === "worker").map((e) => e.pid);
    expect(await allGone(workers, 2500)).toBe(true);
  });
});

describe("proxy sandbox: Ctrl+C in a terminal", () => {
  it.skipIf(process.platform === "win32")(
    "reaches the whole process group, and every worker still says goodbye",
    async () => {
      // Its own process group, as a terminal gives a foreground command.
      const child = spawn(process.execPath, [proxyEntry(), "--port", "0", "--workers", "3"], {
        detached: true,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
      try {
        const deadline = Date.now() + 10_000;
        while (!err.includes("proxy listening on") && Date.now() < deadline) await sleep(50);
        expect(err).toContain("proxy listening on");
        process.kill(-(child.pid ?? 0), "SIGINT");
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(-(child.pid ?? 0), "SIGKILL");
        }
      }
      expect(err).toContain("signal 2 (SIGINT) received, exiting");
      expect(err.match(/\[INFO\] Worker exiting \(pid: \d+\)/g)).toHaveLength(3);
      expect(err).toContain("[INFO] Shutting down: Master");
    },
  );
});

describe.skipIf(process.platform === "win32")(
  "proxy sandbox: where its app servers' sockets go",
  () => {
    it("uses /tmp when the temporary folder is missing or too deep for a socket path", async () => {
      const deep = mkdtempSync(join(tmpdir(), `lws-deep-${"d".repeat(100)}-`));
      try {
        for (const TMPDIR of [join(deep, "missing"), deep]) {
          const p = await start(["--workers", "1"], { env: { TMPDIR } });
          expect(p.upstreams()[0]).toMatch(/^unix:\/tmp\/lws-proxy-\w+\/app-1\.sock$/);
          expect((await get(p.port, "/")).status).toBe(200);
          p.control({ type: "stop" });
          expect((await p.exited).code).toBe(0);
        }
      } finally {
        rmSync(deep, { recursive: true, force: true });
      }
    });
  },
);

describe("proxy sandbox run by the CLI (LEARN_WEBSERVERS_EVENTS=lifecycle)", () => {
  it("says it listens and stops, but sends nothing per request, nor does its app server", async () => {
    const p = await start(["--workers", "2"], { env: { LEARN_WEBSERVERS_EVENTS: "lifecycle" } });
    if (process.platform !== "win32") expect(p.upstreams()[0]).toMatch(/^unix:/);
    for (let i = 0; i < 5; i++) expect((await get(p.port, `/?n=${i}`)).status).toBe(200);
    await p.waitFor(() => (p.stdout().match(/"GET \/\?n=\d HTTP\/1\.1" 200 /g) ?? []).length === 5);
    await sleep(400);
    const types = new Set<string>(p.events.map((e) => e.type));
    expect(types.has("listening")).toBe(true);
    for (const type of ["request", "proxy", "upstreams"]) expect(types.has(type)).toBe(false);
    const states = p.events.flatMap((e) => (e.type === "worker" ? [e.state] : []));
    expect(states).toContain("booting");
    expect(states).not.toContain("busy");
    expect(states).not.toContain("idle");
    p.control({ type: "stop" });
    expect((await p.exited).code).toBe(0);
    expect(p.events.some((e) => e.type === "stopping")).toBe(true);
  });
});
