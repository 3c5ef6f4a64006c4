import { describe, expect, test } from "vitest";
import type { ReloadEvent, RequestEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { ReloadModel } from "../../src/lab/reloads.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

type Reloader = ReloadEvent["reloader"];

/** One phase of reload `n`, `after` ms after the save at `savedAt`. */
function phase(
  n: number,
  name: ReloadEvent["phase"],
  savedAt: number,
  after: number,
  extra: Partial<ReloadEvent> = {},
): ReloadEvent {
  return {
    type: "reload",
    reload: n,
    phase: name,
    reloader: "stat",
    file: "app.py",
    savedAt,
    at: savedAt + after,
    ...extra,
  };
}

/** A whole reload as the sandbox reports it: detected, stopped 30 ms later, ready. */
function reload(
  n: number,
  savedAt: number,
  detect: number,
  ready: number,
  reloader: Reloader = "stat",
): ReloadEvent[] {
  return [
    phase(n, "detected", savedAt, detect, { reloader }),
    phase(n, "stopped", savedAt, detect + 30, { reloader }),
    phase(n, "ready", savedAt, ready, { reloader, latencyMs: ready, downtimeMs: ready - detect }),
  ];
}

function request(end: number, status: number): RequestEvent {
  return {
    type: "request",
    id: 1,
    time: new Date(end).toISOString(),
    remote: "127.0.0.1",
    method: "GET",
    target: "/",
    path: "/",
    version: "HTTP/1.1",
    status,
    reason: "",
    requestHeaders: {},
    responseHeaders: {},
    bytes: 0,
    durationMs: 1,
  };
}

function feed(model: ReloadModel, events: SandboxEvent[]): void {
  for (const ev of events) model.push(ev);
}

describe("ReloadModel", () => {
  test("phases in order: detecting, restarting, then ready with its latency and downtime", () => {
    const model = new ReloadModel();
    const saved = T0 + 1_000;
    const v0 = model.version;
    expect(model.push(phase(1, "detected", saved, 620))).toBe(true);
    expect(model.version).toBeGreaterThan(v0);
    expect(model.reloads()).toEqual([
      {
        reload: 1,
        reloader: "stat",
        file: "app.py",
        savedAt: saved,
        detectedAt: saved + 620,
        state: "detecting",
      },
    ]);
    model.push(phase(1, "stopped", saved, 650));
    expect(model.reloads()[0]?.state).toBe("restarting");
    expect(model.stats()).toEqual({ count: 1, failed: 0, byReloader: {} });
    model.push(phase(1, "ready", saved, 710, { latencyMs: 710, downtimeMs: 90 }));
    expect(model.reloads()).toEqual([
      {
        reload: 1,
        reloader: "stat",
        file: "app.py",
        savedAt: saved,
        detectedAt: saved + 620,
        stoppedAt: saved + 650,
        readyAt: saved + 710,
        latencyMs: 710,
        downtimeMs: 90,
        state: "ready",
      },
    ]);
    expect(model.stats()).toEqual({
      count: 1,
      failed: 0,
      byReloader: { stat: { n: 1, medianMs: 710, minMs: 710, maxMs: 710 } },
    });
  });

  test("phases out of order end in the same row; a repeated phase changes nothing", () => {
    const model = new ReloadModel();
    const saved = T0;
    const [detected, stopped, ready] = reload(1, saved, 40, 120, "events");
    if (!detected || !stopped || !ready) throw new Error("unreachable");
    expect(model.push(ready)).toBe(true);
    expect(model.reloads()[0]?.state).toBe("ready");
    expect(model.push(stopped)).toBe(true);
    expect(model.push(detected)).toBe(true);
    const version = model.version;
    expect(model.push(ready)).toBe(false);
    expect(model.push(detected)).toBe(false);
    expect(model.version).toBe(version);
    const [row] = model.reloads();
    expect(row).toMatchObject({
      state: "ready",
      reloader: "events",
      detectedAt: saved + 40,
      stoppedAt: saved + 70,
      readyAt: saved + 120,
      latencyMs: 120,
      downtimeMs: 80,
    });
    // One sample, not three.
    expect(model.stats().byReloader.events?.n).toBe(1);
  });

  test("a ready without measurements gets them from the times it knows", () => {
    const model = new ReloadModel();
    feed(model, [
      phase(1, "detected", T0, 300),
      phase(1, "stopped", T0, 320),
      phase(1, "ready", T0, 500),
    ]);
    expect(model.reloads()[0]).toMatchObject({ latencyMs: 500, downtimeMs: 200, state: "ready" });
    expect(model.stats().byReloader.stat?.medianMs).toBe(500);
  });

  test("a failed reload keeps its error; the fix is a new reload that goes live", () => {
    const model = new ReloadModel();
    const broken = T0 + 5_000;
    feed(model, [
      phase(1, "detected", broken, 400),
      phase(1, "stopped", broken, 430),
      phase(1, "failed", broken, 480, { error: "SyntaxError: invalid syntax (app.py, line 3)" }),
    ]);
    expect(model.reloads()[0]).toMatchObject({
      state: "failed",
      failedAt: broken + 480,
      error: "SyntaxError: invalid syntax (app.py, line 3)",
    });
    expect(model.reloads()[0]?.latencyMs).toBeUndefined();
    expect(model.stats()).toEqual({ count: 1, failed: 1, byReloader: {} });

    // Flask answers 500 with the traceback while the code is broken: counted against that reload.
    expect(model.push(request(broken + 470, 500))).toBe(false); // before it failed
    expect(model.push(request(broken + 2_000, 500))).toBe(true);
    expect(model.push(request(broken + 2_100, 404))).toBe(false);
    expect(model.push(request(broken + 2_200, 500))).toBe(true);
    expect(model.reloads()[0]?.errorResponses).toBe(2);

    const fixed = T0 + 9_000;
    feed(model, reload(2, fixed, 500, 620));
    expect(model.push(request(fixed + 1_000, 500))).toBe(false); // the latest reload is live
    const rows = model.reloads();
    expect(rows.map((r) => [r.reload, r.state])).toEqual([
      [1, "failed"],
      [2, "ready"],
    ]);
    expect(rows[0]?.errorResponses).toBe(2);
    expect(rows[1]?.errorResponses).toBeUndefined();
    expect(model.stats()).toMatchObject({ count: 2, failed: 1 });
    expect(model.stats().byReloader.stat?.n).toBe(1);
  });

  test("a save during a reload interrupts it; so does the sandbox stopping", () => {
    const model = new ReloadModel();
    feed(model, [phase(1, "detected", T0, 300), phase(1, "stopped", T0, 320)]);
    expect(model.reloads()[0]?.interrupted).toBeUndefined();
    model.push(phase(2, "detected", T0 + 400, 100));
    const [first, second] = model.reloads();
    expect(first).toMatchObject({ state: "restarting", interrupted: true });
    expect(second?.interrupted).toBeUndefined();
    expect(model.push({ type: "stopping", reason: "lab closed" })).toBe(true);
    expect(model.reloads()[1]).toMatchObject({ state: "detecting", interrupted: true });
    // Nothing left in flight: a second stop changes nothing.
    expect(model.push({ type: "stopping", reason: "again" })).toBe(false);
  });

  test("a restarted sandbox numbers its reloads from 1 again: they are new rows", () => {
    const model = new ReloadModel();
    feed(model, reload(1, T0, 600, 700));
    model.push(phase(2, "detected", T0 + 2_000, 600));
    expect(
      model.push({
        type: "listening",
        sandbox: "dev-reload",
        flavour: "flask",
        pid: 10,
        host: "127.0.0.1",
        port: 5000,
        url: "http://127.0.0.1:5000/",
        options: { reloader: "events" },
      }),
    ).toBe(true); // reload 2 can no longer finish
    feed(model, reload(1, T0 + 10_000, 10, 90, "events"));
    const rows = model.reloads();
    expect(rows.map((r) => [r.reload, r.reloader, r.state, r.interrupted ?? false])).toEqual([
      [1, "stat", "ready", false],
      [2, "stat", "detecting", true],
      [1, "events", "ready", false],
    ]);
    expect(model.stats().count).toBe(3);
  });

  test("rows and samples are bounded, newest last; late events for dropped reloads are ignored", () => {
    const model = new ReloadModel({ maxRows: 5, maxSamples: 3 });
    for (let n = 1; n <= 8; n++) feed(model, reload(n, T0 + n * 10_000, 100, 100 + n * 10));
    const rows = model.reloads();
    expect(rows.map((r) => r.reload)).toEqual([4, 5, 6, 7, 8]);
    expect(model.stats().count).toBe(8);
    // The last three samples: 160, 170, 180.
    expect(model.stats().byReloader.stat).toEqual({ n: 3, medianMs: 170, minMs: 160, maxMs: 180 });
    expect(model.push(phase(2, "failed", T0 + 20_000, 300))).toBe(false);
    expect(model.reloads().map((r) => r.reload)).toEqual([4, 5, 6, 7, 8]);

    const big = new ReloadModel();
    for (let n = 1; n <= 120; n++) feed(big, reload(n, T0 + n * 10_000, 100, 200));
    expect(big.reloads()).toHaveLength(50);
    expect(big.reloads().at(-1)?.reload).toBe(120);
    expect(big.stats().byReloader.stat?.n).toBe(100);
  });

  test("medians per reloader: odd and even counts, min and max", () => {
    const model = new ReloadModel();
    [900, 300, 600].forEach((ms, i) => {
      feed(model, reload(i + 1, T0 + i * 10_000, ms - 50, ms));
    });
    [40, 100, 60, 80].forEach((ms, i) => {
      feed(model, reload(10 + i, T0 + 100_000 + i * 10_000, 5, ms, "events"));
    });
    expect(model.stats().byReloader).toEqual({
      stat: { n: 3, medianMs: 600, minMs: 300, maxMs: 900 },
      events: { n: 4, medianMs: 70, minMs: 40, maxMs: 100 },
    });
  });

  test("resetKeepingSamples forgets the reloads but keeps both reloaders' latencies; reset forgets all", () => {
    const model = new ReloadModel();
    feed(model, [...reload(1, T0, 550, 600), ...reload(2, T0 + 5_000, 700, 800)]);
    feed(model, [phase(3, "detected", T0 + 9_000, 900), phase(3, "failed", T0 + 9_000, 1_000)]);
    const version = model.version;
    model.resetKeepingSamples();
    expect(model.version).toBeGreaterThan(version);
    expect(model.reloads()).toEqual([]);
    expect(model.stats()).toEqual({
      count: 0,
      failed: 0,
      byReloader: { stat: { n: 2, medianMs: 700, minMs: 600, maxMs: 800 } },
    });
    // The sandbox, restarted with the other reloader, numbers its reloads from 1 again.
    feed(model, [...reload(1, T0 + 20_000, 10, 60, "events")]);
    expect(model.reloads().map((r) => [r.reload, r.reloader])).toEqual([[1, "events"]]);
    expect(model.stats()).toEqual({
      count: 1,
      failed: 0,
      byReloader: {
        stat: { n: 2, medianMs: 700, minMs: 600, maxMs: 800 },
        events: { n: 1, medianMs: 60, minMs: 60, maxMs: 60 },
      },
    });
    model.reset();
    expect(model.reloads()).toEqual([]);
    expect(model.stats()).toEqual({ count: 0, failed: 0, byReloader: {} });
  });

  test("events that are not about reloads change nothing", () => {
    const model = new ReloadModel();
    expect(model.push({ type: "signal", signal: "HUP", via: "os", pid: 1 })).toBe(false);
    expect(model.push(request(T0, 500))).toBe(false); // no failed reload
    expect(model.push({ type: "error", code: "X", message: "m", fatal: false })).toBe(false);
    expect(model.push({ type: "stopping", reason: "x" })).toBe(false);
    expect(model.push(phase(1, "detected", T0, Number.NaN))).toBe(false);
    expect(model.version).toBe(0);
  });
});
