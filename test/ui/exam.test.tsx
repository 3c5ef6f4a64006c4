import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createElement } from "react";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { ProgressStore } from "../../src/progress/store.js";
import { App } from "../../src/ui/App.js";
import { helpSections, KEY_BINDINGS, type Scope, statusItems } from "../../src/ui/keys.js";
import { closeApps, frameLines, openApp, renderAt, type Screen } from "./helpers.js";

const EXAM_PACK = resolve(import.meta.dirname, "../fixtures/packs/exam-valid");

let course: LoadedCourse;
beforeAll(async () => {
  course = await loadCourse(EXAM_PACK);
});
afterEach(closeApps);

function line(frame: string, text: string): string {
  return frame.split("\n").find((l) => l.includes(text)) ?? "";
}

function statusLine(frame: string): string {
  return frame.split("\n").at(-1) ?? "";
}

function expectFits(screen: Screen, columns: number, rows: number) {
  const lines = frameLines(screen.frame());
  expect(lines.length).toBeLessThan(rows);
  for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
}

/** Answers the fixture exam: the choice numbers (1-based) for its four questions. */
async function answer(screen: Screen, choices: string[]) {
  for (const [i, choice] of choices.entries()) {
    await screen.waitFor(`question ${i + 1} of 4`);
    await screen.press(choice);
    await screen.waitFor((f) => f.includes("Correct.") || f.includes("Not quite."));
    await screen.press("enter");
  }
}

describe("the final exam on the course map", () => {
  test("is listed after the lessons with its state, and e opens it from anywhere on the map", async () => {
    const { screen } = await openApp({ course });
    const frame = await screen.waitFor("Fixture course with an exam");
    expect(line(frame, "Fixture exam")).toMatch(/Fixture exam\s+new\s+best -\s+4 questions$/);
    expect(statusLine(frame)).toContain("e exam");
    expect(statusLine(frame)).not.toContain("summary");
    await screen.press("e");
    const exam = await screen.waitFor("question 1 of 4");
    expect(exam).toContain("Fixture exam · from Alpha");
    expect(exam).toContain("Which port does http.server use by default?");
    expect(statusLine(exam)).toMatch(/^1-3 answer {2}↑↓ move {2}Esc back {2}\? help$/);
  });

  test("selecting its row shows what it is; Enter opens it", async () => {
    const { screen } = await openApp({ course });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("down");
    await screen.press("down");
    const frame = screen.frame();
    expect(line(frame, "Fixture exam")).toMatch(/^> Fixture exam/);
    expect(frame).toContain("4 questions · pass mark 75% · open at any time (e)");
    expect(frame).toContain("Not taken yet.");
    await screen.press("enter");
    await screen.waitFor("question 1 of 4");
  });

  test("a pack without an exam shows no exam row, and e does nothing", async () => {
    const { screen } = await openApp();
    const frame = await screen.waitFor("Fixture course");
    expect(frame).not.toContain("exam");
    await screen.press("e");
    expect(screen.frame()).toContain("0 of 2 lessons done");
  });
});

describe("taking the exam", () => {
  test("scores it, records it as the exam, says what is left and lists what to review", async () => {
    const { screen, progress } = await openApp({ course });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("e");
    let frame = await screen.waitFor("question 1 of 4");
    await screen.press("1");
    frame = screen.frame();
    expect(frame).toContain("Not quite.");
    expect(frame).toContain("The answer is 2. 8000");
    expect(frame).toContain("Source: http.server documentation");
    await screen.press("enter");
    frame = await screen.waitFor("question 2 of 4");
    // A question written in the exam has no lesson in its title.
    expect(frame).toMatch(/^Fixture exam +question 2 of 4/m);
    await screen.press("3");
    expect(screen.frame()).toContain("Correct.");
    await screen.press("enter");
    await screen.waitFor("question 3 of 4");
    expect(screen.frame()).toContain("Fixture exam · from Beta");
    await screen.press("2");
    await screen.press("enter");
    await screen.waitFor("question 4 of 4");
    await screen.press("1");
    expect(screen.frame()).toContain("Enter: see your score");
    await screen.press("enter");

    await screen.waitFor("Score: 75% (3 of 4 correct)");
    // Once the score is saved, what is left before the course is complete.
    frame = await screen.waitFor("Still to do");
    expect(frame).toContain("Passed: the pass mark is 75%.");
    expect(frame).toContain(
      'Still to do before the course is complete: pass the quiz of "Alpha"; pass',
    );
    expect(frame).toContain("To review:");
    expect(frame).toContain("You answered: 80");
    expect(frame).toContain("Enter: back to the course map   r: retake");
    expect(statusLine(frame)).toContain("Enter map");
    expect(statusLine(frame)).toContain("r retake");
    expect(progress.data.exam).toMatchObject({ best: 0.75, last: 0.75, attempts: 1, passed: true });
    // The exam is not a lesson: "Continue" is not sent to it.
    expect(progress.data.last).toBeUndefined();

    await screen.press("enter");
    frame = await screen.waitFor("Fixture course with an exam");
    expect(line(frame, "Fixture exam")).toMatch(/passed\s+best 75%\s+4 questions/);
  });

  test("a failed exam says how to retake it; r starts again, and the best score is kept", async () => {
    const { screen, progress } = await openApp({ course });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("e");
    await answer(screen, ["1", "1", "1", "2"]);
    let frame = await screen.waitFor("Score: 0% (0 of 4 correct)");
    expect(frame).toContain("Not passed yet: the pass mark is 75%. Press r to retake the exam.");
    expect(frame).toContain("r: retake the exam   Enter: back to the map");
    expect(progress.data.exam).toMatchObject({ best: 0, attempts: 1, passed: false });

    await screen.press("r");
    await answer(screen, ["2", "3", "2", "1"]);
    frame = await screen.waitFor("Score: 100% (4 of 4 correct)");
    expect(progress.data.exam).toMatchObject({ best: 1, last: 1, attempts: 2, passed: true });
  });

  test("Esc leaves an unfinished exam for the map and records nothing", async () => {
    const { screen, progress } = await openApp({ course });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("e");
    await screen.waitFor("question 1 of 4");
    await screen.press("2");
    await screen.press("escape");
    await screen.waitFor("Fixture course with an exam");
    expect(progress.data.exam).toBeUndefined();
  });

  test("? lists the exam's keys under their own heading", async () => {
    const { screen } = await openApp({ course });
    await screen.waitFor("Fixture course with an exam");
    await screen.press("e");
    await screen.waitFor("question 1 of 4");
    await screen.press("?");
    const frame = await screen.waitFor("Everywhere");
    expect(frame).toContain("Final exam");
    expect(frame).toMatch(/1-3 +answer with that choice/);
    expect(frame).toContain("retake the exam (after the score)");
    await screen.press("escape");
    await screen.waitFor("question 1 of 4");
  });

  test("learn-webservers exam opens it first, and Esc leads to the map", async () => {
    const home = mkdtempSync(join(tmpdir(), "lw-ui-"));
    const screen = await renderAt(
      createElement(App, {
        course,
        progress: ProgressStore.open({ home }),
        startExam: true,
        onQuit: () => {},
      }),
    );
    try {
      await screen.waitFor("question 1 of 4");
      await screen.press("escape");
      await screen.waitFor("Fixture course with an exam");
    } finally {
      screen.unmount();
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("the exam fits the terminal", () => {
  test("every question of the built-in exam, with its feedback, and the score stay below the last row at 80x24", async () => {
    const builtIn = await loadCourse();
    const questions = builtIn.exam?.questions ?? [];
    expect(questions.length).toBeGreaterThanOrEqual(25);
    const { screen } = await openApp({ course: builtIn, columns: 80, rows: 24 });
    await screen.waitFor("lessons done");
    expectFits(screen, 80, 24);
    await screen.press("e");
    for (const [i, q] of questions.entries()) {
      await screen.waitFor(`question ${i + 1} of ${questions.length}`);
      expectFits(screen, 80, 24);
      // A wrong answer shows the most: the right one, the explanation and the source.
      await screen.press(String(((q.answer + 1) % q.choices.length) + 1));
      await screen.waitFor("Not quite.");
      expectFits(screen, 80, 24);
      await screen.press("enter");
    }
    await screen.waitFor("Score: 0%");
    expectFits(screen, 80, 24);
  }, 60_000);
});

describe("key table", () => {
  test("no key means two things on the exam, the completion screen or the map, in any state", () => {
    const cases: [Scope, (string | undefined)[]][] = [
      ["exam", [undefined, "asking", "feedback", "done", "complete"]],
      ["completion", [undefined]],
      ["map", [undefined, "exam", "exam-complete", "complete"]],
    ];
    for (const [scope, states] of cases) {
      for (const state of states) {
        const seen = new Set<string>();
        for (const b of KEY_BINDINGS) {
          const applies =
            (b.scope === scope || b.scope === "global") &&
            (b.when === undefined || (state !== undefined && b.when.includes(state)));
          if (!applies) continue;
          for (const key of b.keys) {
            const signature = JSON.stringify(key);
            expect(seen.has(signature), `${scope}/${state}: ${signature}`).toBe(false);
            seen.add(signature);
          }
        }
      }
    }
  });

  test("help lists each key once per heading, and every status bar offers help", () => {
    for (const scope of ["exam", "completion", "map"] as const) {
      for (const section of helpSections(scope, 4)) {
        const keys = section.entries.flatMap((e) => e.keys.split(" "));
        expect(
          keys.filter((k, i) => keys.indexOf(k) !== i),
          section.title,
        ).toEqual([]);
      }
      expect(statusItems(scope).map((i) => i.keys)).toContain("?");
    }
    expect(statusItems("map", "exam-complete").map((i) => `${i.keys} ${i.text}`)).toEqual(
      expect.arrayContaining(["e exam", "s summary"]),
    );
  });
});
