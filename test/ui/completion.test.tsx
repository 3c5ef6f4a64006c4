import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { COMPLETION_FILE } from "../../src/progress/completion.js";
import { ProgressStore } from "../../src/progress/store.js";
import { closeApps, frameLines, openApp, type Screen, tick } from "./helpers.js";

const EXAM_PACK = resolve(import.meta.dirname, "../fixtures/packs/exam-valid");
const MINUTE = 60_000;

let course: LoadedCourse;
beforeAll(async () => {
  course = await loadCourse(EXAM_PACK);
});
afterEach(closeApps);

function statusLine(frame: string): string {
  return frame.split("\n").at(-1) ?? "";
}

function expectFits(screen: Screen, columns: number, rows: number) {
  const lines = frameLines(screen.frame());
  expect(lines.length).toBeLessThan(rows);
  for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
}

/** Every lesson's quiz passed, some missions met, time spent; the exam not passed yet. */
function quizzesPassed(home: string): ProgressStore {
  const store = ProgressStore.open({ home });
  store.recordQuiz("alpha", 1, true);
  store.recordQuiz("beta", 1, true);
  store.markMissionMet("beta", "see-404");
  store.addTime("alpha", 25 * MINUTE);
  store.addTime("beta", 40 * MINUTE);
  return store;
}

/** The fixture exam answered right, from its first question to the score. */
async function passExam(screen: Screen) {
  for (const [i, choice] of ["2", "3", "2", "1"].entries()) {
    await screen.waitFor(`question ${i + 1} of 4`);
    await screen.press(choice);
    await screen.press("enter");
  }
  await screen.waitFor("Score: 100% (4 of 4 correct)");
}

describe("completing the course", () => {
  test("the exam that completes it leads to the completion screen, which writes the summary", async () => {
    const { screen, home } = await openApp({ course, progress: quizzesPassed });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("e");
    await passExam(screen);
    let frame = await screen.waitFor("Course complete:");
    expect(frame.replace(/\n\s*/g, " ")).toContain(
      "Course complete: every lesson's quiz and the exam are passed. Press Enter for your completion summary.",
    );
    expect(frame).toContain("Enter: your completion summary   r: retake");
    expect(statusLine(frame)).toContain("Enter summary");

    await screen.press("enter");
    frame = await screen.waitFor("summary saved");
    expect(frame).toContain("Course complete · Fixture course with an exam");
    expect(frame).toContain("Every lesson's quiz and the fixture exam passed: well done.");
    expect(frame).toContain("Your summary, in Markdown, to keep:");
    expect(frame).toContain(join(home, COMPLETION_FILE));
    expect(frame).toMatch(/1\. Alpha +100% +0\/1 +25 min/);
    expect(frame).toMatch(/2\. Beta +100% +1\/1 +40 min/);
    expect(frame).toMatch(/Fixture exam +100% +under a minute/);
    expect(frame).toContain("Missions met: 1 of 2");
    expect(frame).toMatch(/Time spent: 1 h 05 min \(active time; a pause counts 5 min at most\)/);
    expect(frame).toMatch(/Fixture exam: best 100% in 1 attempt, first passed on \d{4}-\d\d-\d\d/);
    expectFits(screen, 80, 24);

    const md = readFileSync(join(home, COMPLETION_FILE), "utf8");
    expect(md).toContain("# Fixture course with an exam: course complete");
    expect(md).toContain("| 1 | Alpha | 100% | 1 | 0 of 1 | 25 min |");
    expect(md).toContain("- **Missions met:** 1 of 2");
    expect(md).toMatch(/- \*\*Time spent:\*\* 1 h 05 min of active time/);
  });

  test("is reachable again from the map: its row, and s", async () => {
    const { screen } = await openApp({
      course,
      progress: (home) => {
        const store = quizzesPassed(home);
        store.recordExam(1, true);
        return store;
      },
    });
    let frame = await screen.waitFor("Fixture course with an exam");
    const row = frame.split("\n").find((l) => l.includes("Course complete: your summary")) ?? "";
    // Every lesson done but alpha's mission: the summary's row is not selected, alpha is.
    expect(row).toMatch(/^ {2}Course complete: your summary\s+done\s+missions 1\/2$/);
    expect(statusLine(frame)).toContain("s summary");
    await screen.press("s");
    frame = await screen.waitFor("summary saved");
    await screen.press("escape");
    await screen.waitFor("Fixture course with an exam");
    await screen.press("down");
    await screen.press("down");
    await screen.press("down");
    frame = screen.frame();
    expect(frame).toContain("1 of 2 missions met · 1 h 05 min spent");
    await screen.press("enter");
    await screen.waitFor("summary saved");
  });

  test("w writes the summary again", async () => {
    const { screen, home } = await openApp({
      course,
      progress: (h) => {
        const store = quizzesPassed(h);
        store.recordExam(1, true);
        return store;
      },
    });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("s");
    await screen.waitFor("summary saved");
    const path = join(home, COMPLETION_FILE);
    writeFileSync(path, "changed\n");
    await screen.press("w");
    await screen.waitFor("summary written again");
    expect(readFileSync(path, "utf8")).toContain("course complete");
  });

  test("passing the last quiz after the exam completes the course: the map says where the summary is", async () => {
    const { screen, home } = await openApp({
      course,
      progress: (h) => {
        const store = ProgressStore.open({ home: h });
        store.recordQuiz("alpha", 1, true);
        store.recordExam(1, true);
        return store;
      },
    });
    await screen.waitFor("Fixture course with an exam");
    expect(screen.frame()).not.toContain("Course complete");
    await screen.press("down");
    await screen.press("t");
    await screen.waitFor("Quiz · Beta");
    await screen.press("2");
    await screen.press("enter");
    await screen.waitFor("Score: 100%");
    await screen.press("enter");
    const frame = await screen.waitFor("Course complete: your summary is in");
    expect(frame.replace(/\n/g, "")).toContain(join(home, COMPLETION_FILE));
    expect(existsSync(join(home, COMPLETION_FILE))).toBe(true);
    expect(frame).toContain("Course complete: your summary");
  });

  test("a summary that cannot be written says so, and how to write it elsewhere", async () => {
    const { screen, home } = await openApp({
      course,
      progress: (h) => {
        // A folder where the file should go: the rename over it fails.
        mkdirSync(join(h, COMPLETION_FILE, "taken"), { recursive: true });
        const store = quizzesPassed(h);
        store.recordExam(1, true);
        return store;
      },
    });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("s");
    const frame = await screen.waitFor("could not be written");
    expect(frame.replace(/\n\s*/g, " ")).toContain(
      "Write it elsewhere with: learn-webservers progress --summary FILE",
    );
    expect(frame).not.toContain("summary saved");
    expect(existsSync(join(home, COMPLETION_FILE, "taken"))).toBe(true);
  });

  test("the completion screen scrolls and fits 80x24 with the built-in course", async () => {
    const builtIn = await loadCourse();
    const { screen } = await openApp({
      course: builtIn,
      progress: (home) => {
        const store = ProgressStore.open({ home });
        for (const lesson of builtIn.lessons) {
          store.recordQuiz(lesson.id, 1, true);
          store.addTime(lesson.id, 20 * MINUTE);
        }
        store.recordExam(0.9, true);
        return store;
      },
    });
    // Every quiz and the exam passed, no mission met: complete, with the labs still to finish.
    await screen.waitFor(`course complete · 0 of ${builtIn.lessons.length} labs finished`);
    expectFits(screen, 80, 24);
    await screen.press("s");
    let frame = await screen.waitFor("summary saved");
    expectFits(screen, 80, 24);
    const last = builtIn.lessons.length;
    for (let i = 0; i < 20 && !frame.includes("Time spent:"); i++) {
      await screen.press("down");
      frame = screen.frame();
      expectFits(screen, 80, 24);
    }
    expect(frame).toContain(`${last}. `);
    expect(frame).toContain("Time spent:");
    await screen.press("?");
    frame = await screen.waitFor("Everywhere");
    expect(frame).toContain("Course complete");
    expect(frame).toMatch(/w +write the summary file again/);
    expectFits(screen, 80, 24);
  });
});

describe("time spent", () => {
  test("time on a lesson's screens is added to that lesson when the learner leaves them", async () => {
    const { screen, progress } = await openApp({ course });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("enter");
    await screen.waitFor("page 1 of 3");
    await tick(50);
    await screen.press("n");
    await tick(50);
    await screen.press("escape");
    await screen.waitFor("Fixture course with an exam");
    const spent = progress.lesson("alpha")?.timeMs ?? 0;
    expect(spent).toBeGreaterThan(0);
    // Minutes at most: the test took well under one.
    expect(spent).toBeLessThan(MINUTE);
    expect(progress.lesson("beta")?.timeMs).toBeUndefined();

    await screen.press("e");
    await screen.waitFor("question 1 of 4");
    await tick(50);
    await screen.press("escape");
    await screen.waitFor("Fixture course with an exam");
    expect(progress.data.examTimeMs ?? 0).toBeGreaterThan(0);
  });
});
