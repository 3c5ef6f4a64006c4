import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, labSchema } from "../../src/course/schema.js";
import { LabSession } from "../../src/lab/session.js";
import { stopAll } from "../../src/lab/supervisor.js";
import type { LabSessionSnapshot } from "../../src/lab/types.js";
import { ProgressStore } from "../../src/progress/store.js";
import { waitForSnapshot } from "../lab/helpers.js";
import { isAlive } from "./helpers.js";

const homes: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const lab: Lab = labSchema.parse({
  sandbox: "proxy",
  workspace: "site",
  options: { workers: 1, "read-timeout": 2, cache: 5 },
  intro: "nginx in front of Gunicorn.",
  experiments: [
    {
      key: 1,
      id: "add-worker",
      title: "TTIN to Gunicorn",
      explain: "x",
      action: { kind: "signal", signal: "TTIN" },
    },
    {
      key: 2,
      id: "kill-one",
      title: "Kill a worker",
      explain: "x",
      action: { kind: "kill-worker" },
    },
    {
      key: 3,
      id: "slow-client",
      title: "A slow client, then a second request",
      explain: "x",
      action: { kind: "slow-client", holdMs: 1500, path: "/?second-client" },
    },
    {
      key: 4,
      id: "static",
      title: "A static file",
      explain: "x",
      action: { kind: "request", path: "/static/style.css" },
    },
    {
      key: 5,
      id: "too-slow",
      title: "Slower than the read timeout",
      explain: "x",
      action: { kind: "request", path: "/slow?ms=4000", timeoutMs: 8000 },
    },
    {
      key: 6,
      id: "burst",
      title: "A burst through the proxy",
      explain: "x",
      action: { kind: "burst", path: "/slow?ms=100", count: 6, concurrency: 6 },
    },
    {
      key: 7,
      id: "slow-direct",
      title: "A slow client straight to Gunicorn",
      explain: "x",
      action: { kind: "slow-client", target: "upstream", holdMs: 800, path: "/?direct" },
    },
    {
      key: 8,
      id: "term-app",
      title: "TERM the app server",
      explain: "x",
      action: { kind: "signal", signal: "TERM" },
    },
  ],
  missions: [
    {
      id: "forwarded",
      title: "The app receives X-Forwarded-For",
      hint: "curl 127.0.0.1:PORT/environ",
      when: {
        event: "request",
        match: { upstream: { present: true }, "requestHeaders.x-forwarded-for": { present: true } },
      },
    },
    {
      id: "gateway-timeout",
      title: "A 504 from the proxy",
      hint: "press 5",
      when: { event: "request", match: { status: 504, upstream: { present: false } } },
    },
    {
      id: "cached",
      title: "A cache hit",
      hint: "fetch / twice",
      when: { event: "request", match: { "responseHeaders.X-Cache": "HIT" } },
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

describe("a lab on the proxy sandbox", () => {
  let session: LabSession;

  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), "lw-proxy-lab-"));
    homes.push(home);
    const progress = ProgressStore.open({ home });
    session = new LabSession({ lessonId: "production-test", lab, progress });
    await session.start();
    await waitFor(session, (s) => s.state === "listening" && live(s).length === 1);
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("shows Gunicorn's worker behind the proxy, and serves the workspace's static files", async () => {
    const snap = session.snapshot();
    const [worker] = live(snap);
    expect(worker?.pid).not.toBe(snap.pid);
    expect(isAlive(worker?.pid ?? 0)).toBe(true);
    const result = await session.runExperiment(4);
    expect(result?.values.status).toBe(200);
    expect(result?.exchange?.response).toContain("Server: nginx/1.22.1");
  });

  it("sends TTIN and kill-worker through the proxy to Gunicorn's master", async () => {
    const ttin = await session.runExperiment(1);
    expect(ttin?.ok).toBe(true);
    expect(ttin?.values).toMatchObject({ signal: "TTIN", booted: 1, workers: 2 });
    const before = live(session.snapshot()).map((r) => r.pid);
    const kill = await session.runExperiment(2);
    expect(kill?.ok).toBe(true);
    expect(before).toContain(kill?.values.killed);
    expect(kill?.values.respawned).toBe(true);
    await waitFor(session, (s) => live(s).length === 2);
  });

  it("answers a second client at once while a slow one is still sending", async () => {
    const result = await session.runExperiment(3);
    expect(result?.ok).toBe(true);
    expect(result?.values.blocked).toBe(false);
  });

  it("sends a slow client straight to Gunicorn's own port, not to its Unix socket", async () => {
    const result = await session.runExperiment(7);
    expect(result?.ok).toBe(true);
    expect(result?.exchange?.note).toMatch(
      /straight to the app server on 127\.0\.0\.1:\d+ with no proxy/,
    );
  });

  it("says which workers answered a burst, and meets missions from the forwarded events", async () => {
    const result = await session.runExperiment(6);
    expect(result?.ok).toBe(true);
    expect(Number(result?.values.workers)).toBeGreaterThanOrEqual(1);
    const timeout = await session.runExperiment(5);
    expect(timeout?.values.status).toBe(504);
    await session.runExperiment(4);
    const snap = await waitFor(
      session,
      (s) => s.missions.find((m) => m.id === "gateway-timeout")?.met === true,
    );
    expect(snap.missions.find((m) => m.id === "forwarded")?.met).toBe(true);
    const environ = await fetch(`http://127.0.0.1:${snap.port}/`);
    expect(environ.status).toBe(200);
    await fetch(`http://127.0.0.1:${snap.port}/`);
    await waitFor(session, (s) => s.missions.find((m) => m.id === "cached")?.met === true);
  });

  it("says that TERM stopped the app server while the proxy runs on", async () => {
    const result = await session.runExperiment(8);
    expect(result?.ok).toBe(true);
    expect(result?.values).toMatchObject({ signal: "TERM", appServerStopped: true });
    expect(result?.values).not.toHaveProperty("stopped");
    expect(result?.summary).toMatch(
      /^TERM: that app server's master stopped \(workers: .+\); the proxy runs on/,
    );
    expect(session.snapshot().state).toBe("listening");
  });
});
