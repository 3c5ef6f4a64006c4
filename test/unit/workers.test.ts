import { describe, expect, test } from "vitest";
import type { RequestEvent, SandboxEvent, WorkerEvent } from "../../sandboxes/shared/protocol.js";
import { exitLabel, WorkerModel } from "../../src/lab/workers.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function worker(
  pid: number,
  fields: Partial<WorkerEvent> & Pick<WorkerEvent, "state" | "at">,
): WorkerEvent {
  return { type: "worker", pid, index: 1, bootedAt: T0, served: 0, ...fields };
}

function busy(pid: number, id: number, at: number, target = `/r${id}`, served = 0): WorkerEvent {
  return worker(pid, {
    state: "busy",
    at,
    served,
    request: { id, method: "GET", target, startedAt: at },
  });
}

function request(
  worker: number,
  id: number,
  end: number,
  durationMs: number,
  status = 200,
): RequestEvent {
  return {
    type: "request",
    id,
    time: new Date(end).toISOString(),
    remote: "127.0.0.1",
    method: "GET",
    target: `/r${id}`,
    path: `/r${id}`,
    version: "HTTP/1.1",
    status,
    reason: status === 200 ? "OK" : "Internal Server Error",
    requestHeaders: {},
    responseHeaders: {},
    bytes: 10,
    durationMs,
    worker,
  };
}

function feed(model: WorkerModel, events: SandboxEvent[]): void {
  for (const ev of events) model.push(ev);
}

/** A worker booted at T0 and idle 100 ms later. */
function booted(model: WorkerModel, pid: number, index = 1, at = T0): void {
  feed(model, [
    worker(pid, { state: "booting", at, index, bootedAt: at }),
    worker(pid, { state: "idle", at: at + 100, index, bootedAt: at }),
  ]);
}

describe("WorkerModel", () => {
  test("a booting worker becomes a live row, then idle", () => {
    const model = new WorkerModel();
    expect(model.push(worker(101, { state: "booting", at: T0 }))).toBe(true);
    expect(model.rows(T0)).toEqual([
      { pid: 101, index: 1, state: "booting", served: 0, bootedAt: T0 },
    ]);
    model.push(worker(101, { state: "idle", at: T0 + 50 }));
    expect(model.rows(T0 + 50)[0]?.state).toBe("idle");
    expect(model.stats()).toEqual({ live: 1, busy: 0, served: 0, respawns: 0, timeouts: 0 });
    expect(model.lanes(T0)).toEqual([{ pid: 101, index: 1, bootedAt: T0, bars: [] }]);
  });

  test("a master gone without a word takes its live workers with it, a running bar ends", () => {
    const model = new WorkerModel();
    booted(model, 101, 1);
    booted(model, 102, 2);
    model.push(busy(102, 1, T0 + 200));
    expect(model.stats().live).toBe(2);
    expect(model.masterGone(T0 + 500)).toBe(true);
    expect(model.stats()).toMatchObject({ live: 0, busy: 0 });
    expect(model.rows(T0 + 600).map((r) => [r.pid, r.state])).toEqual([
      [101, "exited"],
      [102, "exited"],
    ]);
    expect(model.lanes(T0).find((l) => l.pid === 102)?.bars[0]?.end).toBe(T0 + 500);
    // Nothing more to end the second time.
    expect(model.masterGone(T0 + 700)).toBe(false);
  });

  test("events that do not concern workers change nothing; listening does not wipe", () => {
    const model = new WorkerModel();
    booted(model, 101);
    const listening: SandboxEvent = {
      type: "listening",
      sandbox: "prefork",
      flavour: "gunicorn",
      pid: 100,
      host: "127.0.0.1",
      port: 8000,
      url: "http://127.0.0.1:8000",
      options: {},
    };
    expect(model.push(listening)).toBe(false);
    expect(model.push({ type: "signal", signal: "TTIN", via: "os", pid: 100 })).toBe(false);
    expect(model.push({ type: "stopping", reason: "stop" })).toBe(false);
    expect(model.rows(T0 + 200)).toHaveLength(1);
    model.reset();
    expect(model.rows(T0 + 200)).toEqual([]);
    expect(model.lanes(0)).toEqual([]);
  });

  test("busy shows the current request and a running bar; idle then the request event ends it", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 7, T0 + 1000, "/slow"));
    const row = model.rows(T0 + 1500)[0];
    expect(row?.state).toBe("busy");
    expect(row?.current).toEqual({ id: 7, method: "GET", target: "/slow", startedAt: T0 + 1000 });
    expect(model.stats().busy).toBe(1);
    expect(model.lanes(T0)[0]?.bars).toEqual([
      { requestId: 7, target: "/slow", start: T0 + 1000, outcome: "running" },
    ]);

    model.push(worker(101, { state: "idle", at: T0 + 1300, served: 1 }));
    expect(model.rows(T0 + 1500)[0]?.current).toBeUndefined();
    expect(model.lanes(T0)[0]?.bars[0]).toMatchObject({ end: T0 + 1300, outcome: "ok" });
    expect(model.lanes(T0)[0]?.bars[0]?.status).toBeUndefined();

    expect(model.push(request(101, 7, T0 + 1290, 290, 500))).toBe(true);
    expect(model.lanes(T0)[0]?.bars[0]).toEqual({
      requestId: 7,
      target: "/slow",
      start: T0 + 1000,
      end: T0 + 1290,
      outcome: "error",
      status: 500,
    });
    expect(model.stats()).toMatchObject({ served: 1, busy: 0 });
  });

  test("a request event before the idle event ends the bar too", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 3, T0 + 1000));
    model.push(request(101, 3, T0 + 1200, 200, 404));
    model.push(worker(101, { state: "idle", at: T0 + 1210, served: 1 }));
    expect(model.lanes(T0)[0]?.bars).toEqual([
      { requestId: 3, target: "/r3", start: T0 + 1000, end: T0 + 1200, outcome: "ok", status: 404 },
    ]);
  });

  test("a request event before its busy event waits for it", () => {
    const model = new WorkerModel();
    booted(model, 101);
    expect(model.push(request(101, 4, T0 + 1100, 100))).toBe(false);
    model.push(busy(101, 4, T0 + 1000));
    model.push(worker(101, { state: "idle", at: T0 + 1105, served: 1 }));
    expect(model.lanes(T0)[0]?.bars).toEqual([
      { requestId: 4, target: "/r4", start: T0 + 1000, end: T0 + 1100, outcome: "ok", status: 200 },
    ]);
  });

  test("ids are matched per worker: two workers may number their requests alike", () => {
    const model = new WorkerModel();
    booted(model, 101, 1);
    booted(model, 102, 2);
    model.push(busy(101, 1, T0 + 1000));
    model.push(busy(102, 1, T0 + 1001));
    model.push(request(102, 1, T0 + 1050, 49, 503));
    model.push(request(101, 1, T0 + 1080, 80, 200));
    const [a, b] = model.lanes(T0);
    expect(a?.bars[0]).toMatchObject({ status: 200, outcome: "ok", end: T0 + 1080 });
    expect(b?.bars[0]).toMatchObject({ status: 503, outcome: "error", end: T0 + 1050 });
  });

  test("if the sandbox numbered busy and request events differently, a worker's are matched in order", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000));
    model.push(worker(101, { state: "idle", at: T0 + 1100 }));
    model.push(busy(101, 2, T0 + 1200));
    model.push(request(101, 501, T0 + 1090, 90, 200));
    model.push(request(101, 502, T0 + 1290, 90, 503));
    model.push(worker(101, { state: "idle", at: T0 + 1300 }));
    // Before its busy event and with another id: taken when that request is over.
    model.push(request(101, 503, T0 + 1450, 50, 404));
    model.push(busy(101, 3, T0 + 1400));
    model.push(worker(101, { state: "idle", at: T0 + 1460 }));
    expect(model.lanes(T0)[0]?.bars.map((b) => [b.requestId, b.status])).toEqual([
      [1, 200],
      [2, 503],
      [3, 404],
    ]);
  });

  test("once ids were seen to agree, a request event only goes to the bar with its id", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000));
    model.push(request(101, 1, T0 + 1090, 90));
    model.push(worker(101, { state: "idle", at: T0 + 1100 }));
    model.push(busy(101, 2, T0 + 1200));
    model.push(worker(101, { state: "idle", at: T0 + 1300 }));
    expect(model.push(request(101, 7, T0 + 1290, 90, 500))).toBe(false);
    expect(model.lanes(T0)[0]?.bars[1]).toMatchObject({ requestId: 2, outcome: "ok" });
    expect(model.lanes(T0)[0]?.bars[1]?.status).toBeUndefined();
  });

  test("a busy event without a request is matched by worker alone", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(worker(101, { state: "busy", at: T0 + 1000 }));
    model.push(worker(101, { state: "idle", at: T0 + 1200 }));
    model.push(request(101, 99, T0 + 1190, 190, 201));
    expect(model.lanes(T0)[0]?.bars).toEqual([
      { target: "/r99", start: T0 + 1000, end: T0 + 1190, outcome: "ok", status: 201 },
    ]);
  });

  test("requests without a worker pid are ignored", () => {
    const model = new WorkerModel();
    const { worker: _, ...bare } = request(101, 1, T0, 1);
    expect(model.push(bare)).toBe(false);
  });

  test("a worker killed by the timeout ends its bar with a timeout and is kept for a while", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000, "/hang"));
    model.push(worker(101, { state: "exiting", at: T0 + 31_000, reason: "timeout" }));
    expect(model.lanes(T0)[0]?.bars[0]).toMatchObject({ end: T0 + 31_000, outcome: "timeout" });
    expect(model.rows(T0 + 31_000)[0]).toMatchObject({ state: "exiting", reason: "timeout" });
    model.push(
      worker(101, { state: "exited", at: T0 + 31_050, reason: "timeout", signal: "SIGABRT" }),
    );
    const row = model.rows(T0 + 32_000)[0];
    expect(row).toMatchObject({ state: "exited", reason: "timeout", signal: "SIGABRT" });
    expect(row?.endedAt).toBe(T0 + 31_050);
    expect(row?.current).toBeUndefined();
    expect(model.stats()).toMatchObject({ live: 0, timeouts: 1 });
    // Gone from the table ~10 s after it exited; still on the timeline.
    expect(model.rows(T0 + 45_000)).toEqual([]);
    expect(model.lanes(T0 + 31_000)[0]).toMatchObject({ pid: 101, endedAt: T0 + 31_050 });
    expect(model.lanes(T0 + 31_000)[0]?.bars).toHaveLength(1);
    expect(model.lanes(T0 + 40_000)).toEqual([]);
  });

  test("kill -9 mid-request ends the bar as killed; exit labels say why", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000));
    model.push(
      worker(101, { state: "exited", at: T0 + 2000, reason: "killed", signal: "SIGKILL" }),
    );
    expect(model.lanes(T0)[0]?.bars[0]).toMatchObject({ end: T0 + 2000, outcome: "killed" });
    const row = model.rows(T0 + 2000)[0];
    expect(row && exitLabel(row)).toBe("killed (SIGKILL)");
    expect(exitLabel({ reason: "crash", code: 1 })).toBe("crash (exit 1)");
    expect(exitLabel({ reason: "ttou" })).toBe("ttou");
    expect(exitLabel({ reason: "max-requests" })).toBe("max requests");
    expect(exitLabel({ signal: "SIGTERM" })).toBe("SIGTERM");
    // Events about a dead worker are late: they change nothing.
    expect(model.push(worker(101, { state: "idle", at: T0 + 2100 }))).toBe(false);
  });

  test("a graceful stop lets the request finish", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000));
    model.push(worker(101, { state: "exiting", at: T0 + 1100, reason: "ttou" }));
    expect(model.lanes(T0)[0]?.bars[0]?.outcome).toBe("running");
    expect(model.rows(T0 + 1100)[0]?.current?.id).toBe(1);
    expect(model.stats()).toMatchObject({ live: 1, busy: 1 });
    model.push(worker(101, { state: "idle", at: T0 + 1400, served: 1 }));
    expect(model.rows(T0 + 1400)[0]).toMatchObject({ state: "exiting", reason: "ttou" });
    expect(model.stats()).toMatchObject({ live: 1, busy: 0 });
    model.push(worker(101, { state: "exited", at: T0 + 1500, reason: "ttou", code: 0 }));
    model.push(request(101, 1, T0 + 1400, 400));
    expect(model.lanes(T0)[0]?.bars[0]).toMatchObject({
      outcome: "ok",
      status: 200,
      end: T0 + 1400,
    });
    expect(model.stats().respawns).toBe(0);
  });

  test("a respawn is a new lane; live rows come first in index order, exited after", () => {
    const model = new WorkerModel();
    booted(model, 101, 1);
    booted(model, 102, 2);
    model.push(busy(101, 1, T0 + 1000));
    model.push(
      worker(101, { state: "exited", at: T0 + 5000, reason: "timeout", signal: "SIGKILL" }),
    );
    booted(model, 103, 1, T0 + 5100);
    // Scaling up is not a respawn.
    booted(model, 104, 3, T0 + 6000);
    expect(model.stats()).toMatchObject({ live: 3, respawns: 1, timeouts: 1 });
    expect(model.rows(T0 + 7000).map((r) => [r.pid, r.state])).toEqual([
      [103, "idle"],
      [102, "idle"],
      [104, "idle"],
      [101, "exited"],
    ]);
    expect(model.lanes(T0).map((l) => l.pid)).toEqual([101, 103, 102, 104]);
    expect(model.lanes(T0 + 5500).map((l) => l.pid)).toEqual([103, 102, 104]);
  });

  test("served counts what the workers report", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000));
    model.push(worker(101, { state: "idle", at: T0 + 1100, served: 1 }));
    model.push(busy(101, 2, T0 + 1200, "/r2", 1));
    model.push(worker(101, { state: "idle", at: T0 + 1300, served: 2 }));
    expect(model.rows(T0 + 1300)[0]?.served).toBe(2);
    expect(model.stats().served).toBe(2);
  });

  test("memory is bounded: lanes, bars per lane, old bars and old lanes", () => {
    const model = new WorkerModel({ maxLanes: 4, maxBars: 5 });
    booted(model, 101);
    for (let i = 0; i < 12; i++) {
      model.push(busy(101, i, T0 + 1000 + i * 100));
      model.push(worker(101, { state: "idle", at: T0 + 1050 + i * 100 }));
    }
    const bars = model.lanes(0)[0]?.bars ?? [];
    expect(bars).toHaveLength(5);
    expect(bars[0]?.requestId).toBe(7);

    for (let pid = 200; pid < 210; pid++) {
      booted(model, pid, pid - 199, T0 + 3000);
      model.push(worker(pid, { state: "exited", at: T0 + 3500, index: pid - 199, reason: "ttou" }));
    }
    const pids = model.lanes(0).map((l) => l.pid);
    expect(pids).toHaveLength(4);
    expect(pids).toContain(101);

    // A minute later the old bars and the exited lanes are gone; the live worker stays.
    model.push(busy(101, 50, T0 + 70_000));
    const lanes = model.lanes(0);
    expect(lanes.map((l) => l.pid)).toEqual([101]);
    expect(lanes[0]?.bars.map((b) => b.requestId)).toEqual([50]);
  });

  test("at most a few exited rows are shown", () => {
    const model = new WorkerModel();
    for (let pid = 1; pid <= 8; pid++) {
      booted(model, pid, pid);
      model.push(
        worker(pid, { state: "exited", at: T0 + 1000 + pid, index: pid, reason: "reload" }),
      );
    }
    expect(model.rows(T0 + 2000).map((r) => r.pid)).toEqual([8, 7, 6, 5]);
  });

  test("lanes handed out do not change when the model does", () => {
    const model = new WorkerModel();
    booted(model, 101);
    model.push(busy(101, 1, T0 + 1000));
    const before = model.lanes(T0);
    const version = model.version;
    model.push(worker(101, { state: "idle", at: T0 + 1100 }));
    expect(model.version).toBeGreaterThan(version);
    expect(before[0]?.bars[0]?.outcome).toBe("running");
    expect(model.lanes(T0)[0]?.bars[0]?.outcome).toBe("ok");
  });
});
