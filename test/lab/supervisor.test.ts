import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SandboxEvent } from "../../sandboxes/shared/protocol.js";
import type { SandboxName } from "../../src/course/sandboxes.js";
import {
  liveSandboxes,
  type SandboxLog,
  SandboxStartError,
  sandboxArgs,
  startSandbox,
  stopAll,
} from "../../src/lab/supervisor.js";
import { sandboxEntry } from "../../src/paths.js";
import { alive, bundleFixture } from "./helpers.js";

const _here = dirname(fileURLToPath(import.meta.url));

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !alive(pid);
}

function listen(port: number, host = "127.0.0.1"): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

afterEach(async () => {
  await stopAll();
});

describe("sandboxArgs", () => {
  it("turns start options into flags, booleans as on/off, the app's own flags last", () => {
    expect(
      sandboxArgs({
        sandbox: "static",
        host: "0.0.0.0",
        directory: "/w",
        flavour: "http.server",
        options: { threading: false, workers: 3 },
      }),
    ).toEqual([
      "--threading",
      "off",
      "--workers",
      "3",
      "--port",
      "0",
      "--host",
      "0.0.0.0",
      "--directory",
      "/w",
      "--flavour",
      "http.server",
    ]);
    expect(sandboxArgs({ sandbox: "static", port: 8000, options: { threading: true } })).toEqual([
      "--threading",
      "on",
      "--port",
      "8000",
    ]);
  });
});

describe("startSandbox", () => {
  it("resolves ready with a free port, splits output into lines and forwards events", async () => {
    const s = startSandbox({ sandbox: "static", port: 0 });
    const logs: SandboxLog[] = [];
    const events: SandboxEvent[] = [];
    s.on("log", (l) => logs.push(l));
    s.on("event", (e) => events.push(e));
    const ready = await s.ready;
    expect(ready.port).toBeGreaterThan(0);
    expect(ready.pid).toBe(s.pid);
    expect(events[0]?.type).toBe("listening");
    await new Promise((r) => setTimeout(r, 100));
    expect(logs).toContainEqual({
      stream: "stdout",
      text: `Serving HTTP on 127.0.0.1 port ${ready.port} (http://127.0.0.1:${ready.port}/) ...`,
    });
    expect(liveSandboxes()).toContain(s);
  });

  it("a taken port fails with one clear line", async () => {
    const blocker = await listen(0);
    const { port } = blocker.address() as AddressInfo;
    try {
      const s = startSandbox({ sandbox: "static", port });
      const err = await s.ready.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SandboxStartError);
      expect((err as SandboxStartError).code).toBe("EADDRINUSE");
      expect((err as SandboxStartError).message).toBe(
        `Port ${port} is already in use on 127.0.0.1. Stop the program using it, or leave out --port to take a free one.`,
      );
      expect((err as SandboxStartError).hint).toContain(String(port));
      expect(await gone(s.pid, 2000)).toBe(true);
    } finally {
      await close(blocker);
    }
  });

  it("stop() leaves no process and frees the port", async () => {
    const s = startSandbox({ sandbox: "static", port: 0 });
    const exits: (number | null)[] = [];
    s.on("exit", (code) => exits.push(code));
    const { port } = await s.ready;
    await s.stop();
    expect(s.exited).toBe(true);
    expect(exits).toEqual([0]);
    expect(alive(s.pid)).toBe(false);
    expect(() => process.kill(s.pid, 0)).toThrow();
    await close(await listen(port));
    expect(liveSandboxes()).not.toContain(s);
    await s.stop();
  });

  it("stopAll stops every child", async () => {
    const a = startSandbox({ sandbox: "static", port: 0 });
    const b = startSandbox({ sandbox: "static", port: 0, options: { threading: false } });
    await Promise.all([a.ready, b.ready]);
    expect(liveSandboxes()).toHaveLength(2);
    await stopAll();
    expect(liveSandboxes()).toHaveLength(0);
    expect(alive(a.pid)).toBe(false);
    expect(alive(b.pid)).toBe(false);
  });

  it("a sandbox that refuses its flags rejects ready with what it said", async () => {
    const s = startSandbox({ sandbox: "static", flavour: "gunicorn" });
    const err = (await s.ready.then(
      () => undefined,
      (e: unknown) => e,
    )) as SandboxStartError;
    expect(err).toBeInstanceOf(SandboxStartError);
    expect(`${err.message} ${err.hint}`).toContain("gunicorn");
    expect(await gone(s.pid, 1000)).toBe(true);
  });

  it("says when a sandbox is not built, and how to build it", () => {
    const missing = "not-built" as SandboxName;
    expect(existsSync(sandboxEntry(missing))).toBe(false);
    expect(() => startSandbox({ sandbox: missing })).toThrow(/not built/);
  });
});

describe("when the parent goes away", () => {
  let dir: string;
  let parentScript: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lw-supervisor-"));
    parentScript = join(dir, "parent.mjs");
    await bundleFixture("supervisor-parent.ts", parentScript);
  });

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  function runParent(mode: string) {
    const child = spawn(process.execPath, [parentScript, mode], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on("exit", (code, signal) => r({ code, signal })),
    );
    const started = new Promise<{ pid: number; port: number }>((resolve, reject) => {
      child.stdout.on("data", () => {
        const line = out.split("\n").find((l) => l.includes('"pid"'));
        if (line) resolve(JSON.parse(line));
      });
      void exited.then(() => reject(new Error(`parent exited early: ${err}`)));
    });
    return { child, started, exited, out: () => out, err: () => err };
  }

  it("SIGKILL of the parent: the sandbox exits on IPC disconnect", async () => {
    const p = runParent("wait");
    const { pid } = await p.started;
    expect(alive(pid)).toBe(true);
    p.child.kill("SIGKILL");
    await p.exited;
    expect(await gone(pid, 1500)).toBe(true);
  });

  it("a bare node parent that dies takes the sandbox with it too", async () => {
    const code = `
      const { fork } = require("node:child_process");
      const c = fork(${JSON.stringify(sandboxEntry("static"))}, ["--port", "0"], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
      c.on("message", (m) => { if (m.msg.type === "listening") console.log(c.pid); });
      setInterval(() => {}, 1000);`;
    const parent: ChildProcess = spawn(process.execPath, ["-e", code], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.push(parent);
    const pid = await new Promise<number>((r) =>
      parent.stdout?.once("data", (d) => r(Number(String(d).trim()))),
    );
    expect(alive(pid)).toBe(true);
    parent.kill("SIGKILL");
    expect(await gone(pid, 1500)).toBe(true);
  });

  it.skipIf(process.platform === "win32")(
    "SIGTERM goes through shutdown: hooks first, then the children are stopped",
    async () => {
      const p = runParent("wait");
      const { pid, port } = await p.started;
      p.child.kill("SIGTERM");
      const { code } = await p.exited;
      expect(code).toBe(143);
      expect(p.out()).toContain('"childAliveDuringHook":true');
      expect(alive(pid)).toBe(false);
      await close(await listen(port));
    },
  );

  it("shutdown(code) exits with that code after stopping the children", async () => {
    const p = runParent("shutdown");
    const { pid } = await p.started;
    expect((await p.exited).code).toBe(5);
    expect(p.out()).toContain('"hook":true');
    expect(alive(pid)).toBe(false);
  });

  it("an uncaught error is printed and goes through shutdown", async () => {
    const p = runParent("crash");
    const { pid } = await p.started;
    expect((await p.exited).code).toBe(1);
    expect(p.err()).toContain("boom from the parent");
    expect(p.out()).toContain('"hook":true');
    expect(alive(pid)).toBe(false);
  });

  it("a plain process.exit still kills the children synchronously", async () => {
    const p = runParent("exit");
    const { pid } = await p.started;
    expect((await p.exited).code).toBe(3);
    expect(await gone(pid, 500)).toBe(true);
  });
});
