import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, labSchema } from "../../src/course/schema.js";
import { LabSession } from "../../src/lab/session.js";
import { stopAll } from "../../src/lab/supervisor.js";
import type { LabSessionSnapshot } from "../../src/lab/types.js";
import { ProgressStore } from "../../src/progress/store.js";
import { alive, waitForSnapshot } from "./helpers.js";

const homes: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const lab: Lab = labSchema.parse({
  sandbox: "prefork",
  flavour: "gunicorn",
  workspace: "wsgi-app",
  options: { workers: 2, timeout: 2 },
  intro: "Two sync workers.",
  experiments: [
    {
      key: 1,
      id: "add-worker",
      title: "TTIN",
      explain: "x",
      action: { kind: "signal", signal: "TTIN" },
    },
    {
      key: 2,
      id: "kill-one",
      title: "Kill the oldest worker",
      explain: "x",
      action: { kind: "kill-worker" },
    },
    {
      key: 3,
      id: "four-slow",
      title: "4 slow requests on 2 workers",
      explain: "x",
      predict: { prompt: "All answered after about?", choices: ["0.4 s", "0.8 s"], answer: 1 },
      action: { kind: "burst", path: "/slow?ms=400", count: 4, concurrency: 4 },
    },
    {
      key: 4,
      id: "hang",
      title: "Hang past the timeout",
      explain: "x",
      action: { kind: "request", path: "/hang", timeoutMs: 10_000 },
    },
    {
      key: 5,
      id: "stop",
      title: "TERM",
      explain: "x",
      action: { kind: "signal", signal: "TERM" },
    },
    {
      key: 6,
      id: "cpu",
      title: "CPU, 1 vs 2 workers",
      explain: "x",
      action: { kind: "burst", path: "/cpu?ms=50", count: 6, concurrency: 6, workers: [1, 2] },
    },
  ],
  missions: [
    {
      id: "two-workers",
      title: "Two workers answer",
      hint: "press 3",
      when: { event: "request", match: { status: 200 }, count: 2, distinct: "worker" },
    },
    {
      id: "own-ttin",
      title: "TTIN from your own terminal",
      hint: "kill -TTIN <master pid>",
      when: { event: "signal", from: "learner", match: { signal: "TTIN" } },
    },
    {
      id: "a-timeout",
      title: "A worker times out",
      hint: "press 4",
      when: { event: "worker", match: { state: "exited", reason: "timeout" } },
    },
  ],
});

function waitFor(
  session: LabSession,
  test: (s: LabSessionSnapshot) => boolean,
  ms = 8_000,
): Promise<LabSessionSnapshot> {
  return waitForSnapshot(session, test, ms, (s) => `workers: ${JSON.stringify(s.workers?.rows)}`);
}

const live = (s: LabSessionSnapshot) => s.workers?.rows.filter((r) => r.state !== "exited") ?? [];

describe("a lab on the prefork sandbox", () => {
  let session: LabSession;
  let progress: ProgressStore;

  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), "lw-prefork-"));
    homes.push(home);
    progress = ProgressStore.open({ home });
    session = new LabSession({ lessonId: "gunicorn-test", lab, progress });
    await session.start();
    await waitFor(session, (s) => s.state === "listening" && live(s).length === 2);
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("shows each worker from the sandbox's events, and the master's pid", () => {
    const snap = session.snapshot();
    expect(snap.pid).toBeGreaterThan(0);
    const rows = live(snap);
    expect(rows.map((r) => r.state)).toEqual(["idle", "idle"]);
    for (const row of rows) {
      expect(row.pid).not.toBe(snap.pid);
      expect(alive(row.pid)).toBe(true);
    }
    expect(snap.workers?.stats.live).toBe(2);
  });

  it("predicts, then bursts: the result carries the guess and which workers answered", async () => {
    const result = await session.runExperiment(3, 0);
    expect(result?.ok).toBe(true);
    expect(result?.prediction).toEqual({
      prompt: "All answered after about?",
      chosen: "0.4 s",
      answer: "0.8 s",
      correct: false,
    });
    expect(result?.values.workers).toBe(2);
    // Two sync workers, four requests of 400 ms: two rounds, not one.
    expect(Number(result?.values.ms)).toBeGreaterThanOrEqual(750);
    const snap = session.snapshot();
    expect(snap.missions.find((m) => m.id === "two-workers")?.met).toBe(true);
    const bars = snap.workers?.lanes.flatMap((l) =>
      l.bars.filter((b) => b.target.startsWith("/slow")),
    );
    expect(bars).toHaveLength(4);
    expect(bars?.every((b) => b.outcome === "ok")).toBe(true);
  });

  it("adds a worker with TTIN sent as a control message, which is not the learner's signal", async () => {
    const result = await session.runExperiment(1);
    expect(result?.ok).toBe(true);
    expect(result?.values).toMatchObject({ signal: "TTIN", booted: 1, workers: 3 });
    const snap = await waitFor(session, (s) => live(s).length === 3);
    expect(snap.missions.find((m) => m.id === "own-ttin")?.met).toBe(false);
  });

  it("meets the learner's mission with a real kill -TTIN to the master", async () => {
    if (process.platform === "win32") return;
    const master = session.snapshot().pid ?? 0;
    process.kill(master, "SIGTTIN");
    const snap = await waitFor(
      session,
      (s) => s.missions.find((m) => m.id === "own-ttin")?.met === true && live(s).length === 4,
    );
    expect(live(snap)).toHaveLength(4);
  });

  it("kills the oldest worker and reports the one booted in its place", async () => {
    const before = live(session.snapshot()).map((r) => r.pid);
    const result = await session.runExperiment(2);
    expect(result?.ok).toBe(true);
    expect(before).toContain(result?.values.killed);
    expect(result?.values.respawned).toBe(true);
    expect(before).not.toContain(result?.values.newPid);
    expect(alive(Number(result?.values.killed))).toBe(false);
    const snap = await waitFor(session, (s) => live(s).length === before.length);
    expect(snap.workers?.stats.respawns).toBeGreaterThanOrEqual(1);
  });

  it("gets an empty reply when a worker hangs past the timeout, and the worker is replaced", async () => {
    const result = await session.runExperiment(4);
    expect(result?.values.empty).toBe(true);
    expect(Number(result?.values.ms)).toBeGreaterThan(1_500);
    const snap = await waitFor(
      session,
      (s) => s.missions.find((m) => m.id === "a-timeout")?.met === true,
    );
    expect(snap.workers?.stats.timeouts).toBe(1);
    const timedOut = snap.workers?.lanes.flatMap((l) => l.bars).filter((b) => b.target === "/hang");
    expect(timedOut?.map((b) => b.outcome)).toEqual(["timeout"]);
  });

  it("compares one and two workers on CPU-bound requests, then runs as before", async () => {
    const before = session.snapshot().options;
    const result = await session.runExperiment(6);
    expect(result?.ok).toBe(true);
    expect(Number(result?.values["rps-1"])).toBeGreaterThan(0);
    expect(Number(result?.values["rps-2"])).toBeGreaterThan(0);
    expect(Number(result?.values.speedup)).toBeGreaterThan(0);
    const snap = await waitFor(session, (s) => s.state === "listening" && live(s).length === 2);
    expect(snap.options).toEqual(before);
  });

  it("stops on TERM, says so, and starts again", async () => {
    const master = session.snapshot().pid ?? 0;
    const port = session.snapshot().port;
    const result = await session.runExperiment(5);
    expect(result?.ok).toBe(true);
    expect(result?.values.stopped).toBe(true);
    expect(alive(master)).toBe(false);
    const snap = await waitFor(session, (s) => s.state === "listening" && live(s).length === 2);
    expect(snap.pid).not.toBe(master);
    expect(snap.port).toBe(port);
  });

  it("shows a learner's own kill -TERM as a stop it asked for, and s starts it again", async () => {
    if (process.platform === "win32") return;
    const master = session.snapshot().pid ?? 0;
    process.kill(master, "SIGTERM");
    const stopped = await waitFor(session, (s) => s.state === "stopped");
    expect(stopped.error?.message).toBe("The server stopped, as SIGTERM to its master asks.");
    await session.start();
    const again = await waitFor(session, (s) => s.state === "listening");
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${again.port}/`, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => {
            text += c.toString();
          });
          res.on("end", () => resolve(text));
        })
        .on("error", reject);
    });
    expect(body).toMatch(/pid=\d+/);
  });
});
