import { afterEach, describe, expect, test } from "vitest";
import type { SandboxEvent, WorkerEvent } from "../../sandboxes/shared/protocol.js";
import { type WorkerLane, WorkerModel, type WorkerRow } from "../../src/lab/workers.js";
import { TIMELINE_GLYPHS, Timeline } from "../../src/ui/components/Timeline.js";
import { formatDuration, WorkerTable } from "../../src/ui/components/WorkerTable.js";
import { defaultTheme, type Theme } from "../../src/ui/theme.js";
import { frameOf, lines, unmountParts } from "./helpers.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const NOW = T0 + 20_000;
const SIZES: [number, number][] = [
  [60, 8],
  [76, 9],
  [80, 10],
  [120, 14],
];

afterEach(unmountParts);

function w(
  pid: number,
  index: number,
  fields: Omit<WorkerEvent, "type" | "pid" | "index" | "bootedAt"> & { bootedAt?: number },
): WorkerEvent {
  return { type: "worker", pid, index, bootedAt: T0, ...fields };
}

function req(
  pid: number,
  id: number,
  target: string,
  start: number,
  end: number,
  status = 200,
): SandboxEvent[] {
  return [
    w(pid, 0, {
      state: "busy",
      at: start,
      served: 0,
      request: { id, method: "GET", target, startedAt: start },
    }),
    w(pid, 0, { state: "idle", at: end, served: 0 }),
    {
      type: "request",
      id,
      time: new Date(end).toISOString(),
      remote: "127.0.0.1",
      method: "GET",
      target,
      path: target,
      version: "HTTP/1.1",
      status,
      reason: "",
      requestHeaders: {},
      responseHeaders: {},
      bytes: 0,
      durationMs: end - start,
      worker: pid,
    },
  ];
}

/**
 * Gunicorn with three sync workers and `--timeout 5`: 4101 busy on a slow request, 4102 idle after
 * a 500, 4103 killed by the timeout on /hang and replaced by 4117. `now` is T0 + 20 s.
 */
function scenario(): WorkerModel {
  const model = new WorkerModel();
  const events: SandboxEvent[] = [];
  for (const [pid, index] of [
    [4101, 1],
    [4102, 2],
    [4103, 3],
  ] as const) {
    events.push(w(pid, index, { state: "booting", at: T0, served: 0 }));
    events.push(w(pid, index, { state: "idle", at: T0 + 300, served: 0 }));
  }
  events.push(...req(4101, 1, "/", T0 + 11_000, T0 + 11_300));
  events.push(...req(4102, 2, "/slow?seconds=1", T0 + 12_000, T0 + 12_900));
  events.push(...req(4101, 3, "/", T0 + 13_000, T0 + 13_500));
  events.push(...req(4102, 4, "/crash", T0 + 15_000, T0 + 15_100, 500));
  events.push(
    w(4103, 3, {
      state: "busy",
      at: T0 + 10_500,
      served: 0,
      request: { id: 5, method: "GET", target: "/hang", startedAt: T0 + 10_500 },
    }),
    w(4103, 3, { state: "exiting", at: T0 + 15_500, served: 0, reason: "timeout" }),
    w(4103, 3, {
      state: "exited",
      at: T0 + 15_600,
      served: 0,
      reason: "timeout",
      signal: "SIGABRT",
    }),
    w(4117, 4, { state: "booting", at: T0 + 15_700, bootedAt: T0 + 15_700, served: 0 }),
    w(4117, 4, { state: "idle", at: T0 + 16_000, bootedAt: T0 + 15_700, served: 0 }),
  );
  events.push(...req(4117, 6, "/", T0 + 17_000, T0 + 17_050));
  events.push(
    w(4101, 1, {
      state: "busy",
      at: NOW - 3_200,
      served: 2,
      request: { id: 7, method: "GET", target: "/slow?seconds=8", startedAt: NOW - 3_200 },
    }),
  );
  // The index of the request helpers' events is a placeholder: fix it from the boot events.
  const index = new Map([
    [4101, 1],
    [4102, 2],
    [4103, 3],
    [4117, 4],
  ]);
  const served = new Map<number, number>();
  const busy = new Set<number>();
  for (const ev of events) {
    if (ev.type === "worker") {
      if (ev.state === "busy") busy.add(ev.pid);
      else if (ev.state === "idle" && busy.delete(ev.pid))
        served.set(ev.pid, (served.get(ev.pid) ?? 0) + 1);
      model.push({
        ...ev,
        index: index.get(ev.pid) ?? ev.index,
        bootedAt: ev.pid === 4117 ? T0 + 15_700 : T0,
        served: served.get(ev.pid) ?? 0,
      });
    } else model.push(ev);
  }
  return model;
}

function table(rows: WorkerRow[], width: number, height: number, theme?: Theme): string {
  return frameOf(<WorkerTable rows={rows} now={NOW} width={width} height={height} />, width, theme);
}

function timeline(lanes: WorkerLane[], width: number, height: number, windowMs?: number): string {
  return frameOf(
    <Timeline lanes={lanes} now={NOW} width={width} height={height} windowMs={windowMs} />,
    width,
  );
}

function expectFits(frame: string, width: number, height: number): void {
  const all = lines(frame);
  expect(all.length).toBeLessThanOrEqual(height);
  for (const line of all) expect(line.length, line).toBeLessThanOrEqual(width);
}

describe("WorkerTable", () => {
  test("a row per worker: pid, state, served, age and the current request with its running time", () => {
    const model = scenario();
    const frame = table(model.rows(NOW), 80, 10);
    const [header, ...rows] = lines(frame);
    expect(header).toMatch(/^\s*PID\s+STATE\s+SERVED\s+AGE\s+REQUEST$/);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^4101 {2}busy {5}\s+2 {2}20s {5}GET \/slow\?seconds=8 +3\.2s$/);
    expect(rows[1]).toMatch(/^4102 {2}idle {5}\s+2 {2}20s {5}-$/);
    expect(rows[2]).toMatch(/^4117 {2}idle {5}\s+1 {2}4\.3s {4}-$/);
    expect(rows[3]).toMatch(/^4103 {2}exited\s+0 {10}✕ timeout, 4\.4s ago$/);
  });

  test("drops the age, then the running time, as the width shrinks", () => {
    const rows = scenario().rows(NOW);
    expect(table(rows, 56, 6)).toContain("AGE");
    const narrow = table(rows, 45, 6);
    expect(narrow).not.toContain("AGE");
    expect(narrow).toContain("3.2s");
    const tiny = table(rows, 34, 6);
    expect(tiny).not.toContain("3.2s");
    expect(tiny).toMatch(/4101 {2}busy {5}\s+2 {2}GET \/slow/);
  });

  test("shows '… N more' when the rows do not fit, keeping live workers first", () => {
    const rows = scenario().rows(NOW);
    const frame = table(rows, 80, 3);
    expect(lines(frame)).toEqual([
      expect.stringContaining("PID"),
      expect.stringMatching(/^4101/),
      "… 3 more",
    ]);
    expect(lines(table(rows, 80, 1))).toHaveLength(1);
    expect(table([], 80, 3)).toContain("No workers yet.");
  });

  test.each(SIZES)("fits %ix%i", (width, height) => {
    const rows = scenario().rows(NOW);
    expectFits(table(rows, width, height), width, height);
    expectFits(table(rows, width, height, defaultTheme), width, height);
  });

  test("durations are short", () => {
    expect(formatDuration(420)).toBe("0.4s");
    expect(formatDuration(12_345)).toBe("12s");
    expect(formatDuration(184_000)).toBe("3m04s");
    expect(formatDuration(3_720_000)).toBe("1h02m");
    expect(formatDuration(-5)).toBe("0.0s");
  });
});

describe("Timeline", () => {
  test("back-to-back requests on one worker alternate marks, so a queue reads as separate bars", () => {
    const lane: WorkerLane = {
      pid: 7001,
      index: 1,
      bootedAt: NOW - 9_000,
      bars: [
        { target: "/slow", start: NOW - 6_000, end: NOW - 4_000, outcome: "ok", status: 200 },
        { target: "/slow", start: NOW - 4_000, end: NOW - 2_000, outcome: "ok", status: 200 },
        { target: "/slow", start: NOW - 2_000, outcome: "running" },
      ],
    };
    const [row] = lines(timeline([lane], 76, 2));
    expect(row).toMatch(/^7001 +▏·+█+▓+█+$/);
  });

  test("one lane per worker, bars for requests, a timeout mark, a respawn, an axis and a legend", () => {
    const lanes = scenario().lanes(NOW - 60_000);
    const frame = timeline(lanes, 76, 9);
    const all = lines(frame);
    expect(all).toHaveLength(6);
    const [l4101, l4102, l4103, l4117, axis, legend] = all;
    expect(l4101).toMatch(/^4101 ·+█+·+▓+·+█+$/);
    expect(l4102).toMatch(/^4102 ·+█+·+▒+·+$/);
    expect(l4103).toMatch(/^4103 ·+█+T■ timeout$/);
    expect(l4117).toMatch(/^4117 +▏·+█+·+$/);
    // 10 s across 70 columns: a tick every 2 s, "now" at the right edge.
    expect(axis).toMatch(/^ {5}┆-10s +┆-8s +┆-6s +┆-4s +┆-2s +now$/);
    expect(legend).toContain("T timeout");
    expect(legend).toContain("┆ 2s, last 10s");
    // The running bar reaches the right edge; lanes and axis are the same width.
    expect(l4101?.length).toBe(76);
    expect(axis?.length).toBe(76);
  });

  test("a bar shorter than a column still shows as one cell", () => {
    const lanes = scenario().lanes(NOW - 60_000);
    const frame = timeline(lanes, 60, 8);
    expect(lines(frame)[3]).toMatch(/^4117 +▏·+█·+$/);
  });

  test("lanes that fill every line push the axis out, so every worker still shows", () => {
    const lanes = scenario().lanes(NOW - 60_000);
    const all = lines(timeline(lanes, 80, 4));
    expect(all.map((l) => l.slice(0, 4))).toEqual(["4101", "4102", "4103", "4117"]);
  });

  test("more lanes than fit: the live ones are kept, and the axis counts what is left out", () => {
    const lanes = scenario().lanes(NOW - 60_000);
    const three = lines(timeline(lanes, 80, 3));
    expect(three.map((l) => l.slice(0, 4))).toEqual(["4101", "4102", "4117"]);
    const two = lines(timeline(lanes, 80, 2));
    expect(two).toHaveLength(2);
    expect(two[0]).toMatch(/^4117 /);
    expect(two[1]).toMatch(/^ {2}\+3 +┆/);
  });

  test("the legend goes first when the height is short", () => {
    const lanes = scenario().lanes(NOW - 60_000);
    const frame = timeline(lanes, 80, 5);
    expect(lines(frame)).toHaveLength(5);
    expect(frame).not.toContain("legend");
    expect(frame).not.toContain("T timeout");
    expect(frame).toContain("now");
  });

  test("a wider pane shows a longer window; windowMs overrides it", () => {
    const lanes = scenario().lanes(NOW - 60_000);
    expect(lines(timeline(lanes, 120, 14)).at(-1)).toContain("last 20s");
    const five = timeline(lanes, 80, 10, 5_000);
    expect(five).toContain("last 5s");
    expect(five).toMatch(/^4103 █+T·■ timeout$/m);
    expect(lines(timeline(lanes, 80, 10, 4_000)).map((l) => l.slice(0, 4))).not.toContain("4103");
  });

  test("no workers yet", () => {
    const frame = timeline([], 60, 8);
    expect(frame).toContain("No workers yet.");
    expectFits(frame, 60, 8);
  });

  test.each(SIZES)("fits %ix%i", (width, height) => {
    const lanes = scenario().lanes(NOW - 60_000);
    expectFits(timeline(lanes, width, height), width, height);
    for (let h = 1; h <= 4; h++) expectFits(timeline(lanes, width, h), width, h);
  });

  test("kill -9 mid-request: the bar ends in ✕, the lane ends with why, and the table says so", () => {
    const model = new WorkerModel();
    model.push(w(500, 1, { state: "idle", at: T0, served: 0 }));
    model.push(
      w(500, 1, {
        state: "busy",
        at: NOW - 6_000,
        served: 0,
        request: { id: 1, method: "GET", target: "/slow", startedAt: NOW - 6_000 },
      }),
    );
    model.push(
      w(500, 1, {
        state: "exited",
        at: NOW - 4_000,
        served: 0,
        reason: "killed",
        signal: "SIGKILL",
      }),
    );
    model.push(w(512, 1, { state: "booting", at: NOW - 3_900, bootedAt: NOW - 3_900, served: 0 }));
    const frame = timeline(model.lanes(NOW - 10_000), 60, 8);
    expect(lines(frame)[0]).toMatch(/^500 ·+█+✕■ killed \(SIGKILL\)$/);
    expect(lines(frame)[1]).toMatch(/^512 +▏·+$/);
    const rows = table(model.rows(NOW), 60, 8);
    expect(rows).toMatch(/^512 {2}booting/m);
    expect(rows).toMatch(/^500 {2}exited .*✕ killed \(SIGKILL\), 4\.0s ago$/m);
    expect(model.stats()).toMatchObject({ live: 1, respawns: 1, timeouts: 0 });
  });

  test("many workers at 60x8: live lanes first, the rest counted", () => {
    const model = new WorkerModel();
    for (let i = 1; i <= 10; i++) {
      model.push(
        w(1000 + i, i, { state: "idle", at: NOW - 9_000, bootedAt: NOW - 9_000, served: 0 }),
      );
    }
    model.push(w(1001, 1, { state: "exited", at: NOW - 1_000, served: 0, reason: "ttou" }));
    const frame = timeline(model.lanes(NOW - 10_000), 60, 8);
    const all = lines(frame);
    expect(all).toHaveLength(8);
    expect(all.slice(0, 7).map((l) => l.slice(0, 4))).toEqual([
      "1002",
      "1003",
      "1004",
      "1005",
      "1006",
      "1007",
      "1008",
    ]);
    expect(all[7]).toMatch(/^ {2}\+3 /);
    const rows = lines(table(model.rows(NOW), 60, 8));
    expect(rows).toHaveLength(8);
    expect(rows.at(-1)).toBe("… 4 more");
    expect(rows[1]).toMatch(/^1002/);
  });

  test("the marks do not rely on colour", () => {
    for (const g of Object.values(TIMELINE_GLYPHS)) expect(g).toHaveLength(1);
    expect(new Set(Object.values(TIMELINE_GLYPHS)).size).toBe(Object.keys(TIMELINE_GLYPHS).length);
  });

  // PRINT_SAMPLES=1 npx vitest run test/ui/workers.test.tsx prints what the lab would show.
  test.runIf(process.env.PRINT_SAMPLES)("sample renders", () => {
    const model = scenario();
    for (const [width, height] of SIZES) {
      const rows = table(model.rows(NOW), width, height);
      const lanes = timeline(model.lanes(NOW - 60_000), width, height);
      console.log(`${width}x${height}\n${rows}\n\n${lanes}\n`);
    }
  });
});
