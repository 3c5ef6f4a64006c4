import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { sandboxEntry } from "../../src/paths.js";
import { closeApps, frameLines, openApp, type Screen } from "./helpers.js";

afterEach(closeApps);

let lessons: LoadedCourse;
beforeAll(async () => {
  if (!existsSync(sandboxEntry("prefork"))) {
    throw new Error("The prefork sandbox is not built: run node scripts/build.mjs first.");
  }
  lessons = await loadCourse("lessons");
});

/** The pids on the timeline's lanes, in the order shown. */
function lanePids(frame: string): number[] {
  const lines = frameLines(frame);
  const start = lines.findIndex((l) => /^- (> )?Workers /.test(l));
  const pids: number[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith("- ")) break;
    const match = /^ *(\d+) [ ▏·█▓▒T✕■]+(?: \S.*)?$/.exec(line);
    if (match?.[1]) pids.push(Number(match[1]));
  }
  return pids;
}

async function gunicornLab(rows: number): Promise<Screen> {
  const { screen } = await openApp({
    course: lessons,
    start: { lessonId: "gunicorn", screen: "lab" },
    columns: 100,
    rows,
  });
  await screen.waitFor((f) => f.includes("● listening") && lanePids(f).length === 3, 15_000);
  return screen;
}

describe("the prefork lab's workers pane", () => {
  test("shows a lane per worker, the worker table when there is room, and grows with TTIN", async () => {
    const screen = await gunicornLab(40);
    let frame = screen.frame();
    expect(frame).toMatch(/^- > Workers -+ 3 live · 0 busy · 0 served -$/m);
    expect(frame).toMatch(/^ *PID +STATE +SERVED +AGE +REQUEST/m);
    expect(frame.match(/^ *\d+ +idle +0 /gm)).toHaveLength(3);
    expect(frame).toMatch(/^- Log -/m);
    expect(frame).toMatch(/^- Inspector -/m);

    await screen.press("3");
    frame = await screen.waitFor("4 workers now.", 8_000);
    expect(frame).toMatch(/TTIN: 1 booted \(pid \d+\)\. 4 workers now\./);
    expect(lanePids(frame)).toHaveLength(4);
    expect(frame).toContain("Handling signal: ttin");
    expect(frameLines(frame).length).toBeLessThanOrEqual(40);
  });

  test("asks for a prediction, runs the burst, then shows the guess beside the result", async () => {
    const screen = await gunicornLab(40);
    await screen.press("1");
    let frame = screen.frame();
    expect(frame).toContain("Predict first: press 1-4 (Esc: no prediction, no run)");
    expect(frame).toMatch(/^1 {2}1 s$/m);
    expect(frame).toMatch(/^2 {2}2 s$/m);
    expect(frame).toMatch(/1-4 predict +Esc cancel/);

    await screen.press("escape");
    frame = screen.frame();
    expect(frame).toContain("No prediction, so experiment 1 did not run.");

    await screen.press("1");
    await screen.press("3");
    frame = await screen.waitFor((f) => /3 busy/.test(f), 5_000);
    // The bar, then its count in words once: no "3/6" beside "3 of 6 requests".
    expect(frame).toMatch(
      /Running 1 6 slow requests on 3 workers {2}\[[^\]]*\] {2}\d of 6 requests/,
    );
    frame = await screen.waitFor("6 requests in", 10_000);
    expect(frame).toContain("[!] predicted 3 s, it was 2 s");
    expect(frame).toMatch(/\[x\] Experiment 1: 6 requests in \d+\.\d\d s/);
    expect(frame).toMatch(/3 live · 0 busy · 6 served/);
  });

  test("at 80x24 the workers and the inspector take turns below the log, with Tab", async () => {
    const { screen } = await openApp({
      course: lessons,
      start: { lessonId: "gunicorn", screen: "lab" },
    });
    let frame = await screen.waitFor((f) => lanePids(f).length === 3, 15_000);
    expect(frame).not.toMatch(/^- (> )?Inspector/m);
    expect(frameLines(frame).length).toBeLessThanOrEqual(24);

    await screen.press("tab");
    frame = screen.frame();
    expect(frame).toMatch(/^- > Inspector/m);
    expect(frame).not.toMatch(/^- (> )?Workers/m);
    await screen.press("tab");
    frame = screen.frame();
    expect(frame).toMatch(/^- > Log/m);
    expect(frame).toMatch(/^- Inspector/m);
    await screen.press("tab");
    expect(screen.frame()).toMatch(/^- > Workers/m);

    await screen.press("z");
    frame = screen.frame();
    expect(frame).toMatch(/^ *PID +STATE +SERVED/m);
    expect(lanePids(frame)).toHaveLength(3);
    expect(frameLines(frame).length).toBeLessThanOrEqual(24);
  });
});
