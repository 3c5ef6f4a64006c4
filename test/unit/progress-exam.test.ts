import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { ActiveTimer, IDLE_LIMIT_MS } from "../../src/progress/active-time.js";
import {
  COMPLETION_FILE,
  completionMarkdown,
  completionText,
  courseResults,
  defaultSummaryPath,
  formatDuration,
  remainingText,
  writeCompletionSummary,
} from "../../src/progress/completion.js";
import { ProgressStore, parseProgress } from "../../src/progress/store.js";
import { PACKS } from "./packs.js";

const homes: string[] = [];
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-exam-"));
  homes.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
});

let course: LoadedCourse;
beforeAll(async () => {
  course = await loadCourse(join(PACKS, "exam-valid"));
});

const MINUTE = 60_000;

describe("the exam record in progress", () => {
  it("keeps the best and last score, counts attempts, and dates the last attempt and the first pass", () => {
    const dir = home();
    const store = ProgressStore.open({ home: dir });
    store.recordExam(0.5, false);
    const first = store.data.exam;
    expect(first).toMatchObject({ best: 0.5, last: 0.5, attempts: 1, passed: false });
    expect(first?.passedAt).toBeUndefined();
    expect(Date.parse(first?.date ?? "")).not.toBeNaN();

    store.recordExam(0.75, true);
    const passedAt = store.data.exam?.passedAt;
    expect(passedAt).toBe(store.data.exam?.date);
    store.recordExam(0.25, false);
    expect(store.data.exam).toMatchObject({ best: 0.75, last: 0.25, attempts: 3, passed: true });
    expect(store.data.exam?.passedAt).toBe(passedAt);

    // Saved, and read back by the next run.
    expect(ProgressStore.open({ home: dir }).data.exam).toEqual(store.data.exam);
  });

  it("adds active time to a lesson and to the exam; nothing for zero or nonsense", () => {
    const dir = home();
    const store = ProgressStore.open({ home: dir });
    store.addTime("alpha", 90_000);
    store.addTime("alpha", 30_000.4);
    store.addTime(undefined, 5 * MINUTE);
    store.addTime("alpha", 0);
    store.addTime("alpha", Number.NaN);
    store.addTime(undefined, -1);
    const again = ProgressStore.open({ home: dir });
    expect(again.lesson("alpha")?.timeMs).toBe(120_000);
    expect(again.data.examTimeMs).toBe(5 * MINUTE);
  });

  it("a version 1 file from before the exam still reads, and one with the exam reads back whole", () => {
    const old = {
      version: 1,
      lessons: {
        alpha: {
          pagesRead: [0],
          pageCount: 3,
          missionsMet: [],
          labOpened: false,
          updatedAt: "2026-01-01T00:00:00.000Z",
        },
      },
    };
    const parsed = parseProgress(JSON.stringify(old));
    expect(parsed).toEqual({ kind: "ok", data: old });

    const withExam = {
      ...old,
      lessons: { alpha: { ...old.lessons.alpha, timeMs: 1234 } },
      exam: {
        best: 1,
        last: 1,
        attempts: 1,
        passed: true,
        date: "2026-02-01T10:00:00.000Z",
        passedAt: "2026-02-01T10:00:00.000Z",
      },
      examTimeMs: 600_000,
    };
    expect(parseProgress(JSON.stringify(withExam))).toEqual({ kind: "ok", data: withExam });
    expect(parseProgress(JSON.stringify({ ...withExam, exam: { best: 2 } })).kind).toBe(
      "unreadable",
    );
  });

  it("resetting everything forgets the exam; resetting one lesson keeps it", () => {
    const store = ProgressStore.open({ home: home() });
    store.recordQuiz("alpha", 1, true);
    store.recordExam(1, true);
    store.reset("alpha");
    expect(store.data.exam?.passed).toBe(true);
    store.reset();
    expect(store.data.exam).toBeUndefined();
  });
});

describe("active time", () => {
  function clock() {
    let now = 1_000_000;
    return {
      now: () => now,
      advance(ms: number) {
        now += ms;
      },
    };
  }

  it("counts the time between signs of activity, and at most the idle limit after the last", () => {
    const c = clock();
    const timer = new ActiveTimer(c.now, 5 * MINUTE);
    c.advance(2 * MINUTE);
    timer.activity();
    c.advance(3 * MINUTE);
    expect(timer.take()).toBe(5 * MINUTE);
    // Left alone for an hour: only the idle limit after the last key counts.
    c.advance(60 * MINUTE);
    expect(timer.take()).toBe(2 * MINUTE);
    timer.activity();
    c.advance(MINUTE);
    expect(timer.take()).toBe(MINUTE);
    expect(timer.take()).toBe(0);
  });

  it("a save in the middle of an idle stretch does not restart the idle limit", () => {
    const c = clock();
    const timer = new ActiveTimer(c.now, 5 * MINUTE);
    let total = 0;
    for (let i = 0; i < 30; i++) {
      c.advance(MINUTE);
      total += timer.take();
    }
    expect(total).toBe(5 * MINUTE);
    expect(IDLE_LIMIT_MS).toBe(5 * MINUTE);
  });
});

describe("the completion summary", () => {
  function completeStore(): ProgressStore {
    const store = ProgressStore.open({ home: home() });
    store.recordQuiz("alpha", 0.5, false);
    store.recordQuiz("alpha", 1, true);
    store.recordQuiz("beta", 1, true);
    store.markMissionMet("alpha", "conditional-get");
    store.addTime("alpha", 25 * MINUTE);
    store.addTime("beta", 95 * MINUTE);
    store.addTime(undefined, 12 * MINUTE);
    store.recordExam(0.75, true);
    return store;
  }

  it("is complete once every quiz and the exam are passed, and says what is left before", () => {
    const store = ProgressStore.open({ home: home() });
    let results = courseResults(course, store);
    expect(results.complete).toBe(false);
    expect(results.remaining).toEqual([
      'pass the quiz of "Alpha"',
      'pass the quiz of "Beta"',
      "pass the fixture exam",
    ]);
    store.recordQuiz("alpha", 1, true);
    store.recordQuiz("beta", 1, true);
    results = courseResults(course, store);
    expect(results.remaining).toEqual(["pass the fixture exam"]);
    store.recordExam(0.5, false);
    expect(courseResults(course, store).complete).toBe(false);
    store.recordExam(1, true);
    expect(courseResults(course, store).complete).toBe(true);
  });

  it("Markdown with the scores per lesson and exam, the missions met and the time spent", () => {
    const store = completeStore();
    const results = courseResults(course, store);
    expect(results).toMatchObject({ complete: true, missionsMet: 1, missionCount: 2 });
    expect(results.timeMs).toBe(132 * MINUTE);
    const md = completionMarkdown(results, new Date("2026-11-26T10:00:00Z"));
    const passedOn = (store.data.exam?.passedAt ?? "").slice(0, 10);
    expect(md).toContain("# Fixture course with an exam: course complete");
    expect(md).toContain(
      `Every lesson's quiz and the fixture exam passed. The fixture exam was first passed on ${passedOn}.`,
    );
    expect(md).toContain("| 1 | Alpha | 100% | 2 | 1 of 1 | 25 min |");
    expect(md).toContain("| 2 | Beta | 100% | 1 | 0 of 1 | 1 h 35 min |");
    expect(md).toContain(
      "|  | **Fixture exam** (4 questions, pass mark 75%) | 75% | 1 |  | 12 min |",
    );
    expect(md).toContain("- **Missions met:** 1 of 2");
    expect(md).toContain("- **Time spent:** 2 h 12 min of active time");
    expect(md).toContain(`- **Fixture exam:** best 75% in 1 attempt, first passed on ${passedOn}`);
    expect(md).toContain("### 1. Alpha (python -m http.server)\n\n- Read three pages");
    expect(md).toContain("Written by learn-webservers on 2026-11-26 10:00 UTC.");
  });

  it("counts the quizzes left rather than naming each, once there are many", async () => {
    const builtIn = await loadCourse();
    const store = ProgressStore.open({ home: home() });
    const first = builtIn.lessons[0];
    expect(remainingText(courseResults(builtIn, store))).toBe(
      `pass the quizzes of ${builtIn.lessons.length} lessons, from "${first?.meta.title}" on; pass the final exam`,
    );
    expect(remainingText(courseResults(course, store))).toBe(
      'pass the quiz of "Alpha"; pass the quiz of "Beta"; pass the fixture exam',
    );
  });

  it("before completion it says what is left, and marks quizzes not passed", () => {
    const store = ProgressStore.open({ home: home() });
    store.recordQuiz("alpha", 0.5, false);
    const md = completionMarkdown(courseResults(course, store));
    expect(md).toContain("# Fixture course with an exam: progress so far");
    expect(md).toContain(
      'Not complete yet. Still to do: pass the quiz of "Alpha"; pass the quiz of "Beta"; pass the fixture exam.',
    );
    expect(md).toContain("| 1 | Alpha | 50% (not passed) | 1 | 0 of 1 | under a minute |");
    expect(md).toContain("| 2 | Beta | - (not passed) | 0 | 0 of 1 | under a minute |");
    const text = completionText(courseResults(course, store));
    expect(text[0]).toBe(
      'Fixture course with an exam: not complete yet. Still to do: pass the quiz of "Alpha"; pass the quiz of "Beta"; pass the fixture exam.',
    );
    expect(text).toContain(
      "  1. Alpha: quiz best 50%, not passed; missions 0 of 1; under a minute",
    );
  });

  it("a pipe or a control character in a title cannot break the table or reach a terminal", () => {
    const store = completeStore();
    const results = courseResults(course, store);
    const first = results.lessons[0];
    if (first) first.title = "A | B \u001b[2J";
    const md = completionMarkdown(results);
    expect(md).toContain("| 1 | A \\| B \\x1b[2J | 100% |");
    expect(md).not.toContain("\u001b");
  });

  it("is written beside progress.json, replacing the last one", () => {
    const store = completeStore();
    const path = defaultSummaryPath(store);
    expect(path).toBe(join(store.home, COMPLETION_FILE));
    writeFileSync(path, "old\n");
    expect(writeCompletionSummary(completionMarkdown(courseResults(course, store)), path)).toBe(
      path,
    );
    expect(readFileSync(path, "utf8")).toContain("course complete");
    expect(readdirSync(store.home).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("durations read as a person would say them", () => {
    expect(formatDuration(0)).toBe("under a minute");
    expect(formatDuration(59_999)).toBe("under a minute");
    expect(formatDuration(60_000)).toBe("1 min");
    expect(formatDuration(59 * MINUTE)).toBe("59 min");
    expect(formatDuration(60 * MINUTE)).toBe("1 h 00 min");
    expect(formatDuration(125 * MINUTE + 30_000)).toBe("2 h 05 min");
    expect(formatDuration(Number.NaN)).toBe("under a minute");
  });
});
