import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCourse, validatePack } from "../../src/course/loader.js";
import { assertBuilt, cliEnv, removeTemps, runCli, tempDir } from "../cli/helpers.js";
import { PACK } from "./helpers.js";

beforeAll(assertBuilt);
afterAll(removeTemps);

interface Row {
  id: string;
  pagesRead: number;
  missionsMet: number;
  quizBest: number | null;
}

describe("the example lesson pack (examples/static-workshop)", () => {
  it("validates and loads: two lessons on the static sandbox, each with a lab and a quiz", async () => {
    expect(await validatePack(PACK)).toEqual([]);
    const course = await loadCourse(PACK);
    expect(course.lessons.map((l) => [l.id, l.lab.sandbox, l.quiz.questions.length])).toEqual([
      ["share-a-folder", "static", 2],
      ["not-modified", "static", 2],
    ]);
    for (const lesson of course.lessons) {
      expect(lesson.lab.experiments.length).toBeGreaterThan(0);
      expect(lesson.lab.missions.some((m) => m.when.from === "learner")).toBe(true);
    }
    const r = await runCli(["validate", PACK], { env: cliEnv(tempDir()) });
    expect([r.code, r.stdout]).toEqual([0, `${PACK}: 2 lessons, OK\n`]);
  });

  it("--lessons works for every command that reads lessons", async () => {
    const home = tempDir("lw-pack-");
    const env = cliEnv(home);
    const global = await runCli(["--lessons", PACK, "validate"], { env });
    expect(global.stdout).toBe(`${PACK}: 2 lessons, OK\n`);
    for (const args of [
      ["--lessons", PACK, "list"],
      ["list", "--lessons", PACK],
    ]) {
      const list = await runCli(args, { env });
      expect(list.stdout).toMatch(/^Workshop: serving files with http\.server\n/);
      expect(list.stdout).toContain("share-a-folder");
    }

    // Plain mode through a pipe: read every page of lesson 1, then its quiz, both right.
    const lesson = await runCli(["--lessons", PACK, "lesson", "share-a-folder", "--plain"], {
      env,
      input: ["", "", "", "3", "2", "3", "b", "q"].join("\n"),
    });
    expect(lesson.code).toBe(0);
    expect(lesson.stdout).toContain("--- Share a folder with http.server: page 3 of 3 ---");
    expect(lesson.stdout).toContain("Score: 100% (2 of 2 correct), passed.");

    // The lab starts the static sandbox; experiment 2 of lesson 2 meets a mission.
    const lab = await runCli(["--lessons", PACK, "lab", "not-modified", "--plain"], {
      env,
      input: "2\nb\nq\n",
      timeoutMs: 20_000,
    });
    expect(lab.code).toBe(0);
    expect(lab.stdout).toContain("Mission met: See a 304 Not Modified");

    const progress = await runCli(["--lessons", PACK, "progress", "--json"], { env });
    const rows = (JSON.parse(progress.stdout) as { lessons: Row[] }).lessons;
    expect(rows.map((r) => [r.id, r.pagesRead, r.missionsMet, r.quizBest])).toEqual([
      ["share-a-folder", 3, 0, 1],
      ["not-modified", 0, 1, null],
    ]);

    const doctor = await runCli(["--lessons", PACK, "doctor", "--json"], { env });
    const sandboxes = (JSON.parse(doctor.stdout) as { check: string; status: string }[]).find(
      (c) => c.check === "sandboxes",
    );
    expect(sandboxes?.status).toBe("ok");

    const reset = await runCli(["--lessons", PACK, "progress", "reset", "not-modified", "--yes"], {
      env,
    });
    expect(reset.stdout).toBe("Progress reset for not-modified.\n");
    const unknown = await runCli(["--lessons", PACK, "lab", "http-basics"], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("the lessons are: share-a-folder, not-modified");
  });
});
