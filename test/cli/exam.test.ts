import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProgressStore } from "../../src/progress/store.js";
import { assertBuilt, cliEnv, PACKS, removeTemps, runCli, tempDir } from "./helpers.js";

const EXAM_PACK = join(PACKS, "exam-valid");

beforeAll(assertBuilt);
afterAll(removeTemps);

/** A home where both fixture quizzes are passed and the exam too. */
function completeHome(): string {
  const home = tempDir();
  const store = ProgressStore.open({ home });
  store.recordQuiz("alpha", 1, true);
  store.recordQuiz("beta", 1, true);
  store.markMissionMet("beta", "see-404");
  store.recordExam(0.75, true);
  return home;
}

describe("learn-webservers exam", () => {
  it("takes the exam in plain mode through a pipe, records it, then shows the map", async () => {
    const home = tempDir();
    const r = await runCli(["--lessons", EXAM_PACK, "exam"], {
      env: cliEnv(home),
      input: "2\n3\n2\n1\nq\n",
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Question 1 of 4: Which port does http.server use by default?");
    expect(r.stdout).toContain("Score: 100% (4 of 4 correct), passed.");
    expect(r.stdout).toContain(
      "  e. Fixture exam (4 questions, best 100%, passed; open at any time)",
    );
    expect(ProgressStore.open({ home }).data.exam).toMatchObject({ best: 1, passed: true });
  });

  it("a pack without an exam: exit 2, and where to read how to add one", async () => {
    const r = await runCli(["--lessons", join(PACKS, "valid"), "exam"], {
      env: cliEnv(tempDir()),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^learn-webservers: the lesson pack in .+ has no final exam/);
    expect(r.stderr).toContain("docs/AUTHORING.md");
  });

  it("is in the help, as is progress --summary", async () => {
    const r = await runCli(["--help"], { env: cliEnv(tempDir()) });
    expect(r.stdout).toContain("exam [--plain]");
    expect(r.stdout).toContain("progress [--json] [--summary]");
    for (const line of r.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe("learn-webservers progress --summary", () => {
  it("writes the completion summary beside progress.json and says where", async () => {
    const home = completeHome();
    const r = await runCli(["--lessons", EXAM_PACK, "progress", "--summary"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(0);
    const path = join(home, "completion-summary.md");
    expect(r.stdout).toContain("Course complete: Fixture course with an exam.");
    expect(r.stdout).toContain("Missions met: 1 of 2.");
    expect(r.stdout).toContain(`Summary written to ${path}`);
    const md = readFileSync(path, "utf8");
    expect(md).toContain("# Fixture course with an exam: course complete");
    expect(md).toContain("| 2 | Beta | 100% | 1 | 1 of 1 | under a minute |");
  });

  it("writes it to the file named, also as JSON", async () => {
    const home = completeHome();
    const file = join(tempDir(), "mine.md");
    const r = await runCli(["--lessons", EXAM_PACK, "progress", "--summary", file, "--json"], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { path: string; complete: boolean; missionsMet: number };
    expect(out).toMatchObject({ path: file, complete: true, missionsMet: 1 });
    expect(readFileSync(file, "utf8")).toContain("course complete");
    expect(existsSync(join(home, "completion-summary.md"))).toBe(false);
  });

  it("a file that cannot be written: exit 1 and a way out", async () => {
    const home = completeHome();
    const r = await runCli(["--lessons", EXAM_PACK, "progress", "--summary", home], {
      env: cliEnv(home),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^learn-webservers: the summary could not be written to .+ \(E[A-Z]+\)/,
    );
    expect(r.stderr).toContain("progress --summary FILE");
  });
});

describe("learn-webservers validate", () => {
  it("reports an exam's broken references as file:line: message", async () => {
    const r = await runCli(["validate", join(PACKS, "exam-broken")], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'exam-broken/exam.yaml:4: questions[1].from: alpha/quiz.yaml has no question "portt" (its questions: port, bind)',
    );
    expect(r.stderr).toContain("10 problems");
  });
});
