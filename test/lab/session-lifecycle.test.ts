import { mkdtempSync, rmSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type Lab, labSchema } from "../../src/course/schema.js";
import { LabSession } from "../../src/lab/session.js";
import { liveSandboxes, startSandbox, stopAll } from "../../src/lab/supervisor.js";
import { ProgressStore } from "../../src/progress/store.js";
import { alive } from "./helpers.js";

const homes: string[] = [];
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-lifecycle-"));
  homes.push(dir);
  return dir;
}

afterEach(async () => {
  await stopAll();
});
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const lab: Lab = labSchema.parse({
  sandbox: "static",
  options: { threading: true },
  intro: "Serve a folder.",
  experiments: [
    {
      key: 1,
      id: "single",
      title: "One thread",
      explain: "x",
      action: { kind: "restart", options: { threading: false } },
    },
  ],
  missions: [{ id: "m", title: "m", hint: "h", when: { event: "listening" } }],
});

function session(h: string, port?: number): LabSession {
  return new LabSession({
    lessonId: "lifecycle",
    lab,
    progress: ProgressStore.open({ home: h }),
    ...(port !== undefined ? { port } : {}),
  });
}

/** Every sandbox pid seen while `during` runs. */
async function watchPids<T>(during: () => Promise<T>): Promise<{ value: T; pids: Set<number> }> {
  const pids = new Set<number>();
  const look = () => {
    for (const s of liveSandboxes()) if (s.pid > 0) pids.add(s.pid);
  };
  const timer = setInterval(look, 2);
  try {
    const value = await during();
    look();
    return { value, pids };
  } finally {
    clearInterval(timer);
  }
}

describe("leaving a lab during a restart (P1)", () => {
  it("stop() right after a restart experiment starts leaves no sandbox running", async () => {
    const s = session(home());
    await s.start();
    expect(s.snapshot().state).toBe("listening");
    const { value: result, pids } = await watchPids(async () => {
      const running = s.runExperiment(1);
      await s.stop();
      const afterStop = liveSandboxes().length;
      return { result: await running, afterStop };
    });
    expect(result.afterStop).toBe(0);
    expect(result.result?.ok).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(liveSandboxes()).toEqual([]);
    expect(s.snapshot().state).toBe("stopped");
    expect(pids.size).toBeGreaterThan(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it("stop() while the restarted sandbox is starting stops it too", async () => {
    const s = session(home());
    await s.start();
    const { value: result, pids } = await watchPids(async () => {
      const running = s.runExperiment(1);
      await new Promise<void>((resolve) => {
        const off = s.subscribe((snap) => {
          if (snap.state === "starting") {
            off();
            resolve();
          }
        });
      });
      await s.stop();
      return running;
    });
    expect(result?.ok).toBe(false);
    expect(liveSandboxes()).toEqual([]);
    expect(s.snapshot().state).toBe("stopped");
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it("a restart asked for after stop() starts nothing", async () => {
    const s = session(home());
    await s.start();
    await s.stop();
    const result = await s.runExperiment(1);
    expect(result?.ok).toBe(false);
    expect(liveSandboxes()).toEqual([]);
    expect(s.snapshot().state).toBe("stopped");
  });
});

describe.skipIf(process.platform === "win32")("reopening on a fixed port (P3)", () => {
  it("a start waits for a stop pending on the same port", async () => {
    const port = await freePort();
    const a = startSandbox({ sandbox: "static", port });
    await a.ready;
    // A paused sandbox holds its port until it is resumed and handles the stop.
    process.kill(a.pid, "SIGSTOP");
    const stopping = a.stop();
    const b = startSandbox({ sandbox: "static", port });
    const resume = setTimeout(() => process.kill(a.pid, "SIGCONT"), 400);
    try {
      const ready = await b.ready;
      expect(ready.port).toBe(port);
      expect(a.exited).toBe(true);
    } finally {
      clearTimeout(resume);
      if (!a.exited) process.kill(a.pid, "SIGCONT");
      await stopping;
      await b.stop();
    }
  });

  it("leaving a lab and opening it again at once on the same --port", async () => {
    const port = await freePort();
    const h = home();
    const one = session(h, port);
    await one.start();
    const pid = one.snapshot().pid as number;
    expect(one.snapshot().state).toBe("listening");
    process.kill(pid, "SIGSTOP");
    const leaving = one.stop();
    const resume = setTimeout(() => process.kill(pid, "SIGCONT"), 400);
    const two = session(h, port);
    try {
      await two.start();
      expect(two.snapshot().error).toBeUndefined();
      expect(two.snapshot().state).toBe("listening");
      expect(two.snapshot().port).toBe(port);
    } finally {
      clearTimeout(resume);
      if (alive(pid)) process.kill(pid, "SIGCONT");
      await leaving;
      await two.stop();
    }
  });
});
