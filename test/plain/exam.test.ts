import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { runPlain } from "../../src/plain/run.js";
import { COMPLETION_FILE } from "../../src/progress/completion.js";
import { ProgressStore } from "../../src/progress/store.js";

const EXAM_PACK = resolve(import.meta.dirname, "../fixtures/packs/exam-valid");

let course: LoadedCourse;
beforeAll(async () => {
  course = await loadCourse(EXAM_PACK);
});

const homes: string[] = [];
afterEach(() => {
  for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function store(prepare?: (s: ProgressStore) => void): ProgressStore {
  const home = mkdtempSync(join(tmpdir(), "lw-plain-"));
  homes.push(home);
  const s = ProgressStore.open({ home });
  prepare?.(s);
  return s;
}

/**
 * Plain mode over a pipe: each line is written `gapMs` after the one before (all at once with
 * 0), then the input ends. Resolves with everything printed.
 */
async function run(
  progress: ProgressStore,
  lines: string[],
  opts: { exam?: boolean; gapMs?: number } = {},
): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = "";
  output.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  const done = runPlain({ course, progress, input, output, exam: opts.exam });
  for (const line of lines) {
    if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
    input.write(`${line}\n`);
  }
  input.end();
  await done;
  return out;
}

describe("the exam in plain mode", () => {
  it("e on the map asks every question, scores and records it, and lists what to review", async () => {
    const progress = store();
    const out = await run(progress, ["e", "1", "3", "2", "1", "q"]);
    expect(out).toContain("  e. Fixture exam (4 questions; open at any time)");
    expect(out).toContain("Choose a lesson [1-2, c, e, q]:");
    expect(out).toContain("Fixture exam: Fixture course with an exam (4 questions, pass mark 75%)");
    expect(out).toContain("Question 1 of 4: Which port does http.server use by default?");
    expect(out).toContain("Not quite. The answer is 2: 8000");
    expect(out).toContain("Question 4 of 4: Another scenario. Which answer is right?");
    expect(out).toContain("Score: 75% (3 of 4 correct), passed.");
    expect(out).toContain("Your best exam score: 75%.");
    expect(out).toContain("Questions to review:");
    expect(out.replace(/\n/g, " ")).toContain(
      'Still to do before the course is complete: pass the quiz of "Alpha"; pass the quiz of "Beta".',
    );
    // The map again, with the score.
    expect(out).toContain("  e. Fixture exam (4 questions, best 75%, passed; open at any time)");
    expect(progress.data.exam).toMatchObject({ best: 0.75, attempts: 1, passed: true });
  });

  it("q stops it without a score", async () => {
    const progress = store();
    const out = await run(progress, ["e", "2", "q", "q"]);
    expect(out).toContain("Exam stopped; nothing recorded.");
    expect(progress.data.exam).toBeUndefined();
  });

  it("learn-webservers exam starts with it, then the map", async () => {
    const progress = store();
    const out = await run(progress, ["2", "3", "2", "1", "q"], { exam: true });
    expect(out.indexOf("Question 1 of 4")).toBeLessThan(out.indexOf("Choose a lesson"));
    expect(out).toContain("Score: 100% (4 of 4 correct), passed.");
  });

  it("the exam that completes the course shows the summary and writes it; s shows it again", async () => {
    const progress = store((s) => {
      s.recordQuiz("alpha", 1, true);
      s.recordQuiz("beta", 1, true);
      s.markMissionMet("beta", "see-404");
      s.addTime("alpha", 30 * 60_000);
    });
    const out = await run(progress, ["e", "2", "3", "2", "1", "s", "q"]);
    const path = join(progress.home, COMPLETION_FILE);
    expect(out).toContain(
      "Course complete: Fixture course with an exam. Every lesson's quiz and the\n  fixture exam passed.",
    );
    expect(out).toContain("  1. Alpha: quiz best 100%; missions 0 of 1; 30 min");
    expect(out).toContain("Missions met: 1 of 2. Time spent: 30 min (active time).");
    expect(out).toContain(`Your summary, in Markdown, is saved in:\n  ${path}\n`);
    expect(out).toContain("  s. Course complete: your summary");
    expect(out).toContain("Choose a lesson [1-2, c, e, s, q]:");
    // Once after the exam, once more for s.
    expect(out.split("Your summary, in Markdown, is saved in:").length - 1).toBe(2);
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, "utf8")).toContain("| 1 | Alpha | 100% | 1 | 0 of 1 | 30 min |");
  });

  it("counts the time a learner spends on a lesson's menus and on the exam", async () => {
    const progress = store();
    await run(progress, ["1", "b", "e", "q", "q"], { gapMs: 40 });
    expect(progress.lesson("alpha")?.timeMs ?? 0).toBeGreaterThan(0);
    expect(progress.data.examTimeMs ?? 0).toBeGreaterThan(0);
    expect(progress.lesson("beta")?.timeMs).toBeUndefined();
  });
});
