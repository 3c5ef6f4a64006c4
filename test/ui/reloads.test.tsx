import { afterEach, describe, expect, test } from "vitest";
import type { ReloadEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { ReloadModel, type ReloadRow, type ReloadStats } from "../../src/lab/reloads.js";
import {
  formatClock,
  formatSeconds,
  NO_RELOAD_YET,
  RELOAD_GLYPHS,
  ReloadTimeline,
} from "../../src/ui/components/ReloadTimeline.js";
import { defaultTheme, noColorTheme, type Theme } from "../../src/ui/theme.js";
import { frameOf, lines, unmountParts } from "./helpers.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const NOW = T0 + 60_000;
const SIZES: [number, number][] = [
  [60, 6],
  [76, 8],
  [100, 12],
];

afterEach(unmountParts);

function phase(
  n: number,
  name: ReloadEvent["phase"],
  reloader: ReloadEvent["reloader"],
  savedAt: number,
  after: number,
  extra: Partial<ReloadEvent> = {},
): ReloadEvent {
  return {
    type: "reload",
    reload: n,
    phase: name,
    reloader,
    file: "app.py",
    savedAt,
    at: savedAt + after,
    ...extra,
  };
}

/** A reload detected after `detect` ms and live after `ready` ms (the old child gone in 30 ms). */
function reload(
  reloader: ReloadEvent["reloader"],
  n: number,
  savedAt: number,
  detect: number,
  ready: number,
): SandboxEvent[] {
  return [
    phase(n, "detected", reloader, savedAt, detect),
    phase(n, "stopped", reloader, savedAt, detect + 30),
    phase(n, "ready", reloader, savedAt, ready, { latencyMs: ready, downtimeMs: ready - detect }),
  ];
}

const SYNTAX_ERROR = "SyntaxError: invalid syntax (app.py, line 7)";

/**
 * Flask with the stat reloader: three saves go live in 0.42-0.71 s, one breaks the app (fixed by
 * the next). `now` is T0 + 60 s.
 */
function statModel(): ReloadModel {
  const model = new ReloadModel();
  const events: SandboxEvent[] = [
    ...reload("stat", 1, T0 + 1_000, 620, 710),
    ...reload("stat", 2, T0 + 5_000, 410, 560),
    phase(3, "detected", "stat", T0 + 9_000, 930),
    phase(3, "stopped", "stat", T0 + 9_000, 960),
    phase(3, "failed", "stat", T0 + 9_000, 1_010, { error: SYNTAX_ERROR }),
    ...reload("stat", 4, T0 + 15_000, 300, 420),
  ];
  for (const ev of events) model.push(ev);
  return model;
}

/** The same lab restarted with the events reloader: two quick reloads, a third restarting now. */
function eventsModel(): ReloadModel {
  const model = statModel();
  model.resetKeepingSamples();
  const events: SandboxEvent[] = [
    ...reload("events", 1, T0 + 30_000, 12, 95),
    ...reload("events", 2, T0 + 40_000, 8, 70),
    phase(3, "detected", "events", NOW - 200, 10),
    phase(3, "stopped", "events", NOW - 200, 50),
  ];
  for (const ev of events) model.push(ev);
  return model;
}

function view(
  rows: ReloadRow[],
  stats: ReloadStats,
  width: number,
  height: number,
  theme?: Theme,
  now = NOW,
): string {
  return frameOf(
    <ReloadTimeline rows={rows} stats={stats} now={now} width={width} height={height} />,
    width,
    theme,
  );
}

function viewOf(model: ReloadModel, width: number, height: number, theme?: Theme): string {
  return view(model.reloads(), model.stats(), width, height, theme);
}

function expectFits(frame: string, width: number, height: number): void {
  const all = lines(frame);
  expect(all.length).toBeLessThanOrEqual(height);
  for (const line of all) expect(line.length, line).toBeLessThanOrEqual(width);
}

/** The bar of a row: from the saved mark to the last mark. */
function barOf(line: string | undefined): string {
  return /▏[░▒█✕»]*/.exec(line ?? "")?.[0] ?? "";
}

describe("ReloadTimeline", () => {
  test("76x8: a row per reload with its bar and numbers, the comparison, a legend", () => {
    const all = lines(viewOf(statModel(), 76, 8));
    expect(all).toHaveLength(6);
    const [r1, r2, r3, r4, summary, legend] = all;
    expect(r1).toBe("#1 stat   ▏░░░░░░▒█     app.py  detected +0.62 s  down 0.09 s  live +0.71 s");
    expect(r2).toMatch(
      /^#2 stat {3}▏░░░░▒▒█ +app\.py {2}detected \+0\.41 s {2}down 0\.15 s {2}live \+0\.56 s$/,
    );
    // A failed reload: ✕ at the end of its bar, the error across the down and outcome columns.
    expect(r3).toMatch(
      /^#3 stat {3}▏░{9}▒✕ +app\.py {2}detected \+0\.93 s {2}✕ SyntaxError: invalid s/,
    );
    expect(r4).toMatch(/^#4 stat {3}▏░░░▒█ /);
    expect(summary).toBe("stat: median 0.56 s (n=3)   events: no sample yet   4 reloads, 1 failed");
    expect(legend).toContain("▏saved ░waiting ▒down █live ✕failed  cell 0.1 s");
    for (const line of all) expect(line.length).toBeLessThanOrEqual(76);
  });

  test("after a restart with the events reloader the bars keep stat's scale, so they are short", () => {
    const all = lines(viewOf(eventsModel(), 76, 8));
    expect(all).toHaveLength(5);
    expect(barOf(all[0])).toBe("▏▒█");
    expect(barOf(all[1])).toBe("▏▒█");
    // In flight: the restart grows up to `now`, no end mark yet.
    expect(all[2]).toMatch(/^#3 events ▏▒▒ +app\.py {2}detected \+0\.01 s +restarting…$/);
    expect(all[3]).toBe("stat: median 0.56 s (n=3)   events: median 0.08 s (n=2)   3 reloads");
    expect(all[4]).toContain("cell 0.1 s");
    // Stat's wait for its poll shows as ░; events' detection is immediate.
    expect(barOf(lines(viewOf(statModel(), 76, 8))[0])).toContain(RELOAD_GLYPHS.waiting);
    expect(barOf(all[0])).not.toContain(RELOAD_GLYPHS.waiting);
  });

  test("wider: the save's clock time and the min-max range; narrower: the file and labels go", () => {
    const wide = lines(viewOf(statModel(), 100, 12));
    expect(wide[0]).toContain(`app.py  saved ${formatClock(T0 + 1_000)}  detected +0.62 s`);
    expect(wide[4]).toBe(
      "save → live  stat: median 0.56 s (0.42–0.71 s, n=3)   events: no sample yet   4 reloads, 1 failed",
    );
    expect(wide[5]).toBe(
      "▏ saved  ░ not noticed yet  ▒ down, restarting  █ live  ✕ failed   a cell is 0.1 s",
    );
    const narrow = lines(viewOf(statModel(), 60, 6));
    expect(narrow).toHaveLength(6);
    expect(narrow[0]).toMatch(
      /^#1 stat {3}▏░░░▒█ +seen \+0\.62 s {2}down 0\.09 s {2}live \+0\.71 s$/,
    );
    expect(narrow[0]).not.toContain("app.py");
    const tiny = lines(viewOf(statModel(), 34, 3));
    expect(tiny[0]).toMatch(/^#3 stat {3}▏░+▒✕ +✕ Synt/);
    expect(tiny[1]).toMatch(/^#4 stat {3}▏░░▒█ +live \+0\.42 s$/);
    expect(tiny[2]).toBe("stat 0.56 s (n=3)  events -");
    // Narrower still, the bar goes before the outcome.
    expect(lines(viewOf(statModel(), 30, 3))[0]).toBe("#3 stat   ✕ SyntaxError: inva…");
  });

  test.each(SIZES)("fits %ix%i, with and without colour, at every height", (width, height) => {
    for (const model of [statModel(), eventsModel()]) {
      expectFits(viewOf(model, width, height), width, height);
      expectFits(viewOf(model, width, height, defaultTheme), width, height);
      for (let h = 1; h <= height; h++) expectFits(viewOf(model, width, h), width, h);
    }
    for (const w of [1, 8, 20, 33]) expectFits(viewOf(statModel(), w, height), w, height);
  });

  test("line counts: the newest reloads at the bottom, then the comparison, then the legend", () => {
    const model = new ReloadModel();
    for (let n = 1; n <= 12; n++) {
      for (const ev of reload("stat", n, T0 + n * 3_000, 400 + n * 10, 500 + n * 10))
        model.push(ev);
    }
    const eight = lines(viewOf(model, 76, 8));
    expect(eight).toHaveLength(8);
    // The numbers line up on the right.
    expect(eight.slice(0, 6).map((l) => l.slice(0, 3))).toEqual([
      " #7",
      " #8",
      " #9",
      "#10",
      "#11",
      "#12",
    ]);
    expect(eight[6]).toContain("12 reloads");
    expect(eight[7]).toContain("▏saved");
    // Five lines: no legend, four reloads and the comparison.
    const five = lines(viewOf(model, 76, 5));
    expect(five.map((l) => l.slice(0, 4))).toEqual([" #9 ", "#10 ", "#11 ", "#12 ", "save"]);
    // One line: the newest reload.
    expect(lines(viewOf(model, 76, 1))).toEqual([expect.stringMatching(/^#12 stat {3}▏/)]);
    expect(view([], model.stats(), 76, 0)).toBe("");
  });

  test("no reload yet, with the comparison kept from before a restart when there is one", () => {
    expect(lines(view([], new ReloadModel().stats(), 76, 8))).toEqual([NO_RELOAD_YET]);
    const kept = statModel();
    kept.resetKeepingSamples();
    expect(lines(viewOf(kept, 76, 8))).toEqual([
      NO_RELOAD_YET,
      "save → live  stat: median 0.56 s (0.42–0.71 s, n=3)   events: no sample yet",
    ]);
    expect(lines(viewOf(kept, 40, 1))).toEqual(["No reload yet: save the app file (or pr…"]);
  });

  test("server text is made printable and cut: file names and errors", () => {
    const model = new ReloadModel();
    const error =
      "SyntaxError: unterminated string \x1b[31mliteral\x1b[0m (detected at line 3)\nmore";
    const file = "templates/\x07very-long-template-name.html";
    model.push(phase(1, "detected", "events", NOW - 2_000, 20, { file }));
    model.push(phase(1, "failed", "events", NOW - 2_000, 300, { file, error }));
    for (const ev of ["request", "request"]) {
      void ev;
      model.push({
        type: "request",
        id: 1,
        time: new Date(NOW - 1_000).toISOString(),
        remote: "127.0.0.1",
        method: "GET",
        target: "/",
        path: "/",
        version: "HTTP/1.1",
        status: 500,
        reason: "INTERNAL SERVER ERROR",
        requestHeaders: {},
        responseHeaders: {},
        bytes: 0,
        durationMs: 2,
      });
    }
    const wide = viewOf(model, 180, 4);
    expect(wide).not.toContain("\x1b");
    expect(wide).not.toContain("\x07");
    expect(wide).toContain("templates/\\x07v…");
    expect(wide).toContain(
      "✕ SyntaxError: unterminated string \\x1b[31mliteral\\x1b[0m (detected at line 3)  (2 × 5xx)",
    );
    expect(wide).not.toContain("more");
    const [row] = lines(viewOf(model, 76, 4));
    expect(row?.length).toBe(76);
    // Short of room, the labels get shorter and the error is cut.
    expect(row).toMatch(
      /^#1 events ▏▒+✕ +templates\/\\x07v… {2}seen \+0\.02 s {2}✕ SyntaxError: un.*…$/,
    );
  });

  test("a reload in flight grows with now; one cut short says so", () => {
    const model = new ReloadModel();
    const saved = NOW - 3_000;
    model.push(phase(1, "detected", "stat", saved, 600));
    const at = (now: number) =>
      lines(view(model.reloads(), model.stats(), 76, 3, noColorTheme, now));
    // Detected, the old child not gone yet: the wait up to the detection, nothing else.
    expect(at(saved + 600)[0]).toMatch(/^#1 stat {3}▏░{6} .*detected \+0\.60 s {2}detecting…$/);
    model.push(phase(1, "stopped", "stat", saved, 630));
    expect(barOf(at(saved + 800)[0])).toBe("▏░░░░░░▒▒");
    expect(barOf(at(saved + 1_000)[0])).toBe("▏░░░░░░▒▒▒▒");
    expect(at(saved + 1_000)[0]).toMatch(/restarting…$/);
    model.push(phase(2, "detected", "stat", NOW - 1_000, 500));
    const [first, second] = lines(viewOf(model, 76, 3));
    expect(first).toMatch(/^#1 stat {3}▏░+▒ .*interrupted$/);
    expect(second).toMatch(/detecting…$/);
  });

  test("a bar longer than its room ends in »", () => {
    const model = new ReloadModel();
    for (const ev of reload("stat", 1, T0, 200, 400)) model.push(ev);
    // A file whose modification time is a minute old: the bar does not fit at any scale.
    for (const ev of reload("stat", 2, T0 + 10_000, 400_000, 400_500)) model.push(ev);
    const all = lines(viewOf(model, 76, 4));
    expect(barOf(all[1])).toMatch(/^▏░+»$/);
    expect(all[1]).toContain("live +401 s");
  });

  test("the marks do not rely on colour", () => {
    for (const g of Object.values(RELOAD_GLYPHS)) expect(g).toHaveLength(1);
    expect(new Set(Object.values(RELOAD_GLYPHS)).size).toBe(Object.keys(RELOAD_GLYPHS).length);
    // The same picture with and without colour.
    expect(viewOf(statModel(), 76, 8, defaultTheme)).toBe(viewOf(statModel(), 76, 8));
  });

  test("seconds are short", () => {
    expect(formatSeconds(620)).toBe("0.62 s");
    expect(formatSeconds(8)).toBe("0.01 s");
    expect(formatSeconds(12_345)).toBe("12.3 s");
    expect(formatSeconds(400_500)).toBe("401 s");
    expect(formatSeconds(-5)).toBe("0.00 s");
  });

  // PRINT_SAMPLES=1 npx vitest run test/ui/reloads.test.tsx prints what the lab would show.
  test.runIf(process.env.PRINT_SAMPLES)("sample renders", () => {
    for (const [width, height] of SIZES) {
      console.log(`${width}x${height} stat\n${viewOf(statModel(), width, height)}\n`);
      console.log(`${width}x${height} events\n${viewOf(eventsModel(), width, height)}\n`);
    }
  });
});
