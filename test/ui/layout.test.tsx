import { afterEach, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import {
  LAB_COLUMN_GAP,
  LAB_FIXED_LINES,
  LAB_ZOOM_FIXED_LINES,
  labLayout,
} from "../../src/ui/screens/lab-layout.js";
import { closeApps, frameLines, openApp, type Screen } from "./helpers.js";

afterEach(closeApps);

function expectFits(screen: Screen, columns: number, rows: number) {
  const lines = frameLines(screen.frame());
  expect(lines.length).toBeLessThan(rows);
  for (const line of lines) expect(line.length).toBeLessThanOrEqual(columns);
}

describe("terminal size", () => {
  test("a terminal smaller than 80x24 asks to be enlarged, and recovers on resize", async () => {
    const { screen } = await openApp({ columns: 70, rows: 20 });
    let frame = await screen.waitFor("Please enlarge");
    expect(frame.replace(/\s+/g, " ")).toContain(
      "Please enlarge the terminal to at least 80x24 (now 70x20). Ctrl+C or q quits.",
    );
    expectFits(screen, 70, 20);

    await screen.resize(80, 23);
    expect(screen.frame()).toContain("(now 80x23)");
    await screen.resize(80, 24);
    frame = await screen.waitFor("Fixture course");
    expect(frame).not.toContain("Please enlarge");
    expectFits(screen, 80, 24);

    await screen.resize(79, 30);
    await screen.waitFor("(now 79x30)");
  });

  test("keys other than Ctrl+C do nothing while the terminal is too small", async () => {
    const app = await openApp({ columns: 60, rows: 10 });
    await app.screen.waitFor("Please enlarge");
    await app.screen.press("enter");
    await app.screen.press("?");
    await app.screen.resize(80, 24);
    const frame = await app.screen.waitFor("Fixture course");
    expect(frame).not.toContain("Everywhere");
    await app.screen.press("ctrlC");
    expect(app.quits()).toBe(1);
  });

  test("q quits while the terminal is too small, through the same quit as the map's q", async () => {
    const app = await openApp({ columns: 60, rows: 20 });
    await app.screen.waitFor("Please enlarge");
    await app.screen.press("q");
    expect(app.quits()).toBe(1);
  });

  test("q in the reader under a too small terminal quits instead of going back to the map", async () => {
    const app = await openApp({ start: { lessonId: "alpha", screen: "reader" } });
    await app.screen.waitFor("page 1 of 3");
    await app.screen.resize(60, 20);
    await app.screen.waitFor("Please enlarge");
    await app.screen.press("q");
    expect(app.quits()).toBe(1);
    await app.screen.resize(80, 24);
    await app.screen.waitFor("page 1 of 3");
  });

  test.each([
    [80, 24],
    [100, 30],
    [200, 60],
  ])("every screen stays below the last row at %ix%i", async (columns, rows) => {
    const course = await loadCourse("lessons");
    const { screen } = await openApp({ course, columns, rows });
    await screen.waitFor("lessons done");
    expectFits(screen, columns, rows);
    await screen.press("enter");
    await screen.waitFor((f) => !f.includes("Rendering…") && f.includes("page 1 of"));
    expectFits(screen, columns, rows);
    for (let page = 1; page < (course.lessons[0]?.pages.length ?? 0); page++) {
      await screen.press("n");
      await screen.waitFor((f) => f.includes(`page ${page + 1} of`) && !f.includes("Rendering…"));
      expectFits(screen, columns, rows);
    }
    await screen.press("c");
    await screen.waitFor((f) => f.includes("file 1 of") && !f.includes("Rendering…"));
    expectFits(screen, columns, rows);
    await screen.press("?");
    await screen.waitFor("Everywhere");
    expectFits(screen, columns, rows);
    await screen.press("escape");
    await screen.press("t");
    await screen.waitFor("question 1 of");
    expectFits(screen, columns, rows);
    await screen.press("1");
    expectFits(screen, columns, rows);
  });

  test("the lab's parts never add up to more than the height it is given", () => {
    for (let height = 0; height <= 60; height++) {
      for (let experiments = 1; experiments <= 9; experiments++) {
        for (let missions = 1; missions <= 12; missions++) {
          for (const [width, need] of [
            [80, 20],
            [80, 48],
            [80, 56],
            [120, 48],
          ] as const) {
            const wanted = missions + 4;
            const l = labLayout({
              height,
              width,
              experiments,
              experimentsNeed: need,
              missions,
              missionRows: () => wanted,
            });
            const used = LAB_FIXED_LINES + l.listRows + l.logLines + l.inspectorLines;
            // A failure's message and hint take more head lines; the rest shrinks to match.
            const failed = labLayout({
              height,
              width,
              experiments,
              experimentsNeed: need,
              missions,
              missionRows: () => wanted,
              headLines: 8,
            });
            const usedFailed =
              LAB_FIXED_LINES + 5 + failed.listRows + failed.logLines + failed.inspectorLines;
            if (height >= 27) expect(usedFailed).toBe(height);
            else expect(usedFailed).toBeLessThanOrEqual(Math.max(height, LAB_FIXED_LINES + 6));
            expect(l.experimentsWidth + LAB_COLUMN_GAP + l.missionsWidth).toBe(width);
            expect(l.experimentsWidth).toBe(Math.min(need, width - LAB_COLUMN_GAP - 26));
            if (height >= 22) {
              expect(used).toBe(height);
              expect(l.zoomLines + LAB_ZOOM_FIXED_LINES).toBe(height);
              // One column: a row for every experiment, never two side by side.
              expect(l.listRows).toBeGreaterThanOrEqual(experiments);
              expect(l.listRows).toBeGreaterThanOrEqual(Math.min(wanted, height - 13));
              expect(l.inspectorLines).toBeGreaterThanOrEqual(3);
              expect(l.logLines).toBeGreaterThanOrEqual(2);
            }
          }
        }
      }
    }
  });
});
