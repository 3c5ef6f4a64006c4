import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import { ProgressStore } from "../../src/progress/store.js";
import { closeApps, openApp } from "./helpers.js";

afterEach(closeApps);

function lessonLine(frame: string, title: string): string {
  return frame.split("\n").find((line) => line.includes(title)) ?? "";
}

describe("course map", () => {
  test("lists every lesson with its state, quiz score, missions and pages", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        const store = ProgressStore.open({ home });
        store.markPageRead("alpha", 0, 3);
        store.recordQuiz("beta", 1, true);
        store.markMissionMet("beta", "see-404");
        return store;
      },
    });
    const frame = await screen.waitFor("Fixture course");
    expect(lessonLine(frame, "1. Alpha")).toMatch(
      /in progress\s+quiz -\s+missions 0\/1\s+pages 1\/3/,
    );
    expect(lessonLine(frame, "2. Beta")).toMatch(/done\s+quiz 100%\s+missions 1\/1\s+pages 0\/1/);
    expect(frame).toContain("1 of 2 lessons done");
  });

  test("at 80 columns long titles stay whole: the pages read move to the details", async () => {
    const course = await loadCourse("lessons");
    const { screen } = await openApp({
      course,
      progress: (home) => {
        const store = ProgressStore.open({ home });
        store.markPageRead(course.lessons[0]?.id ?? "", 0, course.lessons[0]?.pages.length ?? 0);
        return store;
      },
    });
    const frame = await screen.waitFor("lessons done");
    for (const [i, lesson] of course.lessons.entries()) {
      const line = lessonLine(frame, `${i + 1}. ${lesson.meta.title}`);
      expect(line).toMatch(/ {2}(new|in progress|done)\s+quiz \S+\s+missions \d+\/\d+$/);
      expect(line).not.toContain("…");
      expect(line.length).toBeLessThanOrEqual(80);
    }
    const pages = course.lessons[0]?.pages.length;
    expect(frame).toMatch(new RegExp(`· ${pages} pages, 1 read ·`));
    // The facts under the title wrap between items, never inside one.
    expect(frame).not.toMatch(/· \d+\n/);
  });

  test("moves the selection with arrows and j/k and shows the selected lesson's details", async () => {
    const { screen } = await openApp();
    let frame = await screen.waitFor("Fixture course");
    expect(lessonLine(frame, "1. Alpha")).toMatch(/^> /);
    expect(frame).toContain("The first fixture lesson.");
    expect(frame).toContain("* Read three pages");

    await screen.press("down");
    frame = screen.frame();
    expect(lessonLine(frame, "2. Beta")).toMatch(/^> /);
    expect(lessonLine(frame, "1. Alpha")).not.toMatch(/^> /);
    expect(frame).toContain("The second fixture lesson, with one page.");

    await screen.press("k");
    expect(lessonLine(screen.frame(), "1. Alpha")).toMatch(/^> /);
    await screen.press("j");
    expect(lessonLine(screen.frame(), "2. Beta")).toMatch(/^> /);
  });

  test("offers to continue at the last position, and Enter resumes there", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        const store = ProgressStore.open({ home });
        store.setPosition({ lessonId: "alpha", screen: "reader", page: 2 });
        return store;
      },
    });
    const frame = await screen.waitFor("Continue:");
    expect(lessonLine(frame, "Continue:")).toContain("> Continue: Alpha — reading, page 3 of 3");
    await screen.press("enter");
    await screen.waitFor("The last page.");
    expect(screen.frame()).toContain("page 3 of 3");
  });

  test("shows the progress store's notice once, in its own line", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        writeFileSync(join(home, "progress.json"), "{ not json");
        return ProgressStore.open({ home });
      },
    });
    const frame = await screen.waitFor("could not be read");
    expect(frame).toMatch(/! Your progress file could not be read/);
    await screen.press("enter");
    await screen.waitFor("page 1 of 3");
    await screen.press("escape");
    await screen.waitFor("Fixture course");
    expect(screen.frame()).not.toContain("could not be read");
  });

  test("q and Ctrl+C both ask to quit", async () => {
    const app = await openApp();
    await app.screen.waitFor("Fixture course");
    await app.screen.press("q");
    expect(app.quits()).toBe(1);
    await app.screen.press("ctrlC");
    expect(app.quits()).toBe(2);
  });

  test("renders without listening for keys when stdin has no raw mode", async () => {
    const { screen } = await openApp({ tty: false });
    const frame = await screen.waitFor("Fixture course");
    expect(frame).toContain("1. Alpha");
  });
});

describe("Continue", () => {
  test("after passing a quiz, it leads on to the next lesson not done, not back to that quiz", async () => {
    const { screen } = await openApp({
      start: { lessonId: "beta", screen: "quiz" },
      progress: (home) => {
        const store = ProgressStore.open({ home });
        store.markMissionMet("beta", "see-404");
        store.markPageRead("alpha", 0, 3);
        return store;
      },
    });
    await screen.waitFor("What does gunicorn's master process do?");
    await screen.press("2");
    await screen.press("enter");
    await screen.waitFor("Passed");
    await screen.press("enter");
    const frame = await screen.waitFor("Fixture course");
    expect(frame).toContain("1 of 2 lessons done");
    expect(lessonLine(frame, "Continue:")).toBe("> Continue: Alpha — reading, page 2 of 3");
    await screen.press("enter");
    await screen.waitFor("page 2 of 3");
  });

  test("a passed quiz whose lesson still has missions leads to that lesson's lab", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        const store = ProgressStore.open({ home });
        for (const page of [0, 1, 2]) store.markPageRead("alpha", page, 3);
        store.recordQuiz("alpha", 1, true);
        store.setPosition({ lessonId: "alpha", screen: "quiz", page: 0 });
        return store;
      },
    });
    const frame = await screen.waitFor("Continue:");
    expect(lessonLine(frame, "Continue:")).toBe("> Continue: Alpha — lab");
  });

  test("when every lesson is done there is no Continue entry", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        const store = ProgressStore.open({ home });
        for (const [id, mission, pages] of [
          ["alpha", "conditional-get", 3],
          ["beta", "see-404", 1],
        ] as const) {
          for (let page = 0; page < pages; page++) store.markPageRead(id, page, pages);
          store.markMissionMet(id, mission);
          store.recordQuiz(id, 1, true);
        }
        store.setPosition({ lessonId: "beta", screen: "quiz", page: 0 });
        return store;
      },
    });
    const frame = await screen.waitFor("course complete");
    expect(frame).not.toContain("Continue");
    expect(lessonLine(frame, "1. Alpha")).toMatch(/^> /);
  });
});

describe("course map with a last position", () => {
  test("l and t on the Continue line open that lesson's lab and quiz", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        const store = ProgressStore.open({ home });
        store.setPosition({ lessonId: "beta", screen: "reader", page: 0 });
        return store;
      },
    });
    await screen.waitFor("Continue: Beta");
    await screen.press("t");
    await screen.waitFor("Quiz · Beta");
  });
});
