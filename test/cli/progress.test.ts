import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProgressStore } from "../../src/progress/store.js";
import { assertBuilt, cliEnv, lines, PACKS, removeTemps, runCli, tempDir } from "./helpers.js";

const PACK = join(PACKS, "valid");

interface Row {
  id: string;
  title: string;
  state: string;
  pagesRead: number;
  pageCount: number;
  missionsMet: number;
  missionCount: number;
  quizBest: number | null;
  quizAttempts: number;
}

/** A home where alpha has two pages read, one mission met and two quiz attempts (best 0.6). */
function homeWithProgress(): string {
  const home = tempDir();
  const store = ProgressStore.open({ home });
  store.markPageRead("alpha", 0, 3);
  store.markPageRead("alpha", 1, 3);
  store.markMissionMet("alpha", "conditional-get");
  store.recordQuiz("alpha", 0.5, false);
  store.recordQuiz("alpha", 0.6, false);
  store.setPosition({ lessonId: "alpha", screen: "reader", page: 1 });
  return home;
}

async function listJson(home: string): Promise<Row[]> {
  const r = await runCli(["--lessons", PACK, "list", "--json"], { env: cliEnv(home) });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Row[];
}

beforeAll(assertBuilt);
afterAll(removeTemps);

describe("list", () => {
  it("--json: one object per lesson, in course order, with the recorded progress", async () => {
    const rows = await listJson(homeWithProgress());
    expect(rows).toHaveLength(2);
    const [alpha, beta] = rows;
    expect(alpha).toMatchObject({
      id: "alpha",
      title: "Alpha",
      state: "in-progress",
      pagesRead: 2,
      pageCount: 3,
      missionsMet: 1,
      quizBest: 0.6,
      quizAttempts: 2,
    });
    expect(alpha?.missionCount).toBeGreaterThanOrEqual(1);
    expect(beta).toMatchObject({
      id: "beta",
      state: "new",
      pagesRead: 0,
      pageCount: 1,
      missionsMet: 0,
      quizBest: null,
      quizAttempts: 0,
    });
    expect(Object.keys(alpha ?? {}).sort()).toEqual(
      [
        "id",
        "title",
        "state",
        "pagesRead",
        "pageCount",
        "missionsMet",
        "missionCount",
        "quizBest",
        "quizAttempts",
      ].sort(),
    );
  });

  it("as text: each lesson with its status and best quiz score", async () => {
    const r = await runCli(["--lessons", PACK, "list"], { env: cliEnv(homeWithProgress()) });
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe("Fixture course");
    const alpha = out.find((l) => l.includes("alpha"));
    const beta = out.find((l) => l.includes("beta"));
    expect(alpha).toMatch(/Alpha\s+in progress\s+60%$/);
    expect(beta).toMatch(/new\s+-$/);
    expect(r.stdout).not.toContain("\x1b");
  });

  it("a fresh home: every lesson is new and no file is written", async () => {
    const home = tempDir();
    const rows = await listJson(home);
    expect(rows.map((r) => r.state)).toEqual(["new", "new"]);
    expect(existsSync(join(home, "progress.json"))).toBe(false);
  });

  it("a corrupt progress file: one notice on stderr, the file kept aside, the list still shown", async () => {
    const home = homeWithProgress();
    writeFileSync(join(home, "progress.json"), "{ not json");
    const r = await runCli(["--lessons", PACK, "list"], { env: cliEnv(home) });
    expect(r.code).toBe(0);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/progress\.json\.corrupt-/);
    expect(readdirSync(home).some((f) => f.startsWith("progress.json.corrupt-"))).toBe(true);
    expect(r.stdout).toContain("alpha");
  });
});

describe("progress", () => {
  it("says where the file is, and pages, missions and quiz per lesson", async () => {
    const home = homeWithProgress();
    const r = await runCli(["--lessons", PACK, "progress"], { env: cliEnv(home) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Progress file: ${join(home, "progress.json")}`);
    expect(r.stdout).toMatch(/alpha\s+2\/3\s+1\/\d+\s+60%\s+2/);
    expect(r.stdout).toMatch(/beta\s+0\/1\s+0\/\d+\s+-\s+0/);
  });

  it("--json has the path, the lessons and the last position", async () => {
    const home = homeWithProgress();
    const r = await runCli(["--lessons", PACK, "progress", "--json"], { env: cliEnv(home) });
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout) as { path: string; lessons: Row[]; last: unknown };
    expect(data.path).toBe(join(home, "progress.json"));
    expect(data.lessons.map((l) => l.id)).toEqual(["alpha", "beta"]);
    expect(data.last).toEqual({ lessonId: "alpha", screen: "reader", page: 1 });
  });
});

describe("progress reset", () => {
  it("--yes forgets everything", async () => {
    const home = homeWithProgress();
    const r = await runCli(["--lessons", PACK, "progress", "reset", "--yes"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Progress reset for all lessons.\n");
    const rows = await listJson(home);
    expect(rows.map((row) => [row.state, row.pagesRead, row.quizAttempts])).toEqual([
      ["new", 0, 0],
      ["new", 0, 0],
    ]);
  });

  it("<id> --yes forgets one lesson only", async () => {
    const home = homeWithProgress();
    ProgressStore.open({ home }).markPageRead("beta", 0, 1);
    const r = await runCli(["--lessons", PACK, "progress", "reset", "alpha", "-y"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Progress reset for alpha.\n");
    const rows = await listJson(home);
    expect(rows.map((row) => [row.id, row.pagesRead])).toEqual([
      ["alpha", 0],
      ["beta", 1],
    ]);
  });

  it("without a terminal and without --yes: refuses, says to pass --yes, exit 1, nothing lost", async () => {
    const home = homeWithProgress();
    const before = readFileSync(join(home, "progress.json"), "utf8");
    const r = await runCli(["--lessons", PACK, "progress", "reset"], { env: cliEnv(home) });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("--yes");
    expect(readFileSync(join(home, "progress.json"), "utf8")).toBe(before);
  });

  it("a progress file from a newer version: not reset, exit 1, the file untouched", async () => {
    const home = tempDir();
    const newer = JSON.stringify({ version: 99, lessons: {} });
    writeFileSync(join(home, "progress.json"), newer);
    const r = await runCli(["--lessons", PACK, "progress", "reset", "--yes"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("Progress reset");
    expect(r.stderr).toContain("progress was not reset");
    expect(readFileSync(join(home, "progress.json"), "utf8")).toBe(newer);
  });

  it("a lesson id that names an Object property is still an unknown lesson", async () => {
    const home = homeWithProgress();
    const r = await runCli(["--lessons", PACK, "progress", "reset", "constructor", "--yes"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(2);
  });

  it("an unknown lesson: exit 2 with the valid ids", async () => {
    const home = homeWithProgress();
    const r = await runCli(["--lessons", PACK, "progress", "reset", "gamma", "--yes"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      "learn-webservers: unknown lesson 'gamma'; the lessons are: alpha, beta",
    ]);
  });
});
