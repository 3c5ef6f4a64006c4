import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { Lesson } from "../../src/course/schema.js";
import { ProgressStore } from "../../src/progress/store.js";
import {
  assertBuilt,
  CLI,
  cliEnv,
  finish,
  ROOT,
  removeTemps,
  runCli,
  tempDir,
  waitFor,
  waitGone,
} from "../cli/helpers.js";

let lesson: Lesson;
let lessons: Lesson[];
const started: ChildProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  const course = await loadCourse();
  lessons = course.lessons;
  const first = course.lessons[0];
  if (!first) throw new Error("the built-in course has no lessons");
  lesson = first;
});
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(removeTemps);

function spawnCli(args: string[], home: string): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: cliEnv(home),
    stdio: ["pipe", "pipe", "pipe"],
  });
  started.push(child);
  return child;
}

function collect(child: ChildProcess): () => string {
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  return () => out;
}

function printedPid(out: string): number {
  const m = /^Server: http:\/\/127\.0\.0\.1:\d+\/? \(pid (\d+), threading on\)$/m.exec(out);
  if (!m) throw new Error(`no server line in:\n${out}`);
  return Number(m[1]);
}

interface Row {
  id: string;
  state: string;
  pagesRead: number;
  pageCount: number;
  missionsMet: number;
  quizBest: number | null;
  quizAttempts: number;
}

describe("plain mode through a pipe", () => {
  it("the whole first lesson: pages, lab, experiments, quiz; saved; exit 0 at end of input", async () => {
    const home = tempDir();
    const pages = lesson.pages.length;
    const keys = lesson.lab.experiments.map((e) => String(e.key));
    const answers = lesson.quiz.questions.map((q) => String(q.answer + 1));
    const script = [
      "1", // the first lesson on the course map
      "1", // read the pages
      ...Array.from({ length: pages }, () => ""), // Enter through every page, back to the menu
      "2", // the lab
      ...keys,
      "m",
      "b", // back: stops the server
      "3", // the quiz
      ...answers,
    ];
    const child = spawnCli(["--plain"], home);
    const r = await finish(child, { input: `${script.join("\n")}\n`, timeoutMs: 40_000 });
    const out = r.stdout;

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(out).not.toContain("\x1b");

    expect(out).toMatch(/^ {2}1\. .+ \(new\)$/m);
    for (let i = 1; i <= pages; i++) expect(out).toContain(`page ${i} of ${pages} ---`);
    expect(out).toContain("That was the last page.");

    expect(out).toMatch(/^Try it yourself: curl -v http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(out).toMatch(/^Workspace \(.*\): \/.+$/m);
    // The intro speaks of "the URL shown above": it comes after the server's URL.
    const intro = out.indexOf(lesson.lab.intro.split(/\s+/).slice(0, 6).join(" "));
    expect(intro).toBeGreaterThan(0);
    expect(intro).toBeGreaterThan(out.search(/^Server: http:\/\/127\.0\.0\.1:\d+/m));
    expect(intro).toBeGreaterThan(out.indexOf("Try it yourself: curl -v"));
    expect(intro).toBeLessThan(out.indexOf("Experiments:"));
    for (const e of lesson.lab.experiments) {
      expect(out).toContain(`Running ${e.key}. ${e.title} ...`);
      expect(out).toContain(`Result: ${e.title}: `);
    }
    expect(out).toMatch(/^Sent:\n {2}> GET \/hello\.txt HTTP\/1\.1$/m);
    expect(out).toMatch(/^Received:\n {2}< HTTP\/1\.0 200 OK$/m);
    expect(out).toMatch(
      /^ {2}\| 127\.0\.0\.1 - - \[[^\]]+\] "GET \/hello\.txt HTTP\/1\.1" 200 -$/m,
    );
    const met = [...out.matchAll(/^Mission met: (.+)$/gm)].map((m) => m[1]);
    expect(met.length).toBeGreaterThan(0);
    for (const title of met) {
      expect(lesson.lab.missions.map((m) => m.title)).toContain(title);
    }
    expect(out).toMatch(/^Missions:\n {2}\[[x ]\] /m);
    expect(out).toContain("Lab closed; its server is stopped.");

    expect(out).toContain(`Question ${answers.length} of ${answers.length}: `);
    expect(out).not.toContain("Not quite.");
    expect(out).toContain(`Score: 100% (${answers.length} of ${answers.length} correct), passed.`);
    expect(out).not.toContain("Questions to review:");

    expect(await waitGone(printedPid(out))).toBe(true);

    const list = await runCli(["list", "--json"], { env: cliEnv(home) });
    const row = (JSON.parse(list.stdout) as Row[]).find((x) => x.id === lesson.id);
    expect(row).toMatchObject({
      pagesRead: pages,
      pageCount: pages,
      missionsMet: met.length,
      quizBest: 1,
      quizAttempts: 1,
    });
  }, 60_000);

  it("a wrong answer gets the right one, its explanation and source, and a review at the end", async () => {
    const home = tempDir();
    const qs = lesson.quiz.questions;
    const wrong = ((qs[0]?.answer ?? 0) + 1) % (qs[0]?.choices.length ?? 2);
    const answers = [String(wrong + 1), ...qs.slice(1).map((q) => String(q.answer + 1))];
    const r = await runCli(["--plain", "lesson", lesson.id], {
      env: cliEnv(home),
      // lesson <id> opens at its first page; q goes to the lesson menu, 3 is the quiz.
      input: `q\n3\n${answers.join("\n")}\n`,
    });
    expect(r.code).toBe(0);
    const q0 = qs[0];
    if (!q0) throw new Error("no questions");
    // Prose is wrapped to the page width: compare with runs of spaces and newlines as one space.
    const out = r.stdout.replace(/\s+/g, " ");
    expect(out).toContain(`Not quite. The answer is ${q0.answer + 1}: ${q0.choices[q0.answer]}`);
    expect(out).toContain(`Source: ${q0.source.title} <${q0.source.url}>`);
    expect(out).toContain(
      `Questions to review: 1. ${q0.prompt} You answered: ${q0.choices[wrong]}`,
    );
    const store = ProgressStore.open({ home });
    expect(store.lesson(lesson.id)?.quiz?.attempts).toBe(1);
    expect(store.lesson(lesson.id)?.quiz?.best).toBeLessThan(1);
  });

  it("c continues where the learner left off", async () => {
    const home = tempDir();
    ProgressStore.open({ home }).setPosition({ lessonId: lesson.id, screen: "reader", page: 1 });
    const r = await runCli(["--plain"], { env: cliEnv(home), input: "c\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`c. Continue: ${lesson.meta.title}, page 2`);
    expect(r.stdout).toContain(`page 2 of ${lesson.pages.length} ---`);
    expect(r.stdout).not.toContain(`page 1 of ${lesson.pages.length} ---`);
  });

  it("c goes on past a quiz already passed: to the lab while missions remain", async () => {
    const home = tempDir();
    const store = ProgressStore.open({ home });
    for (let page = 0; page < lesson.pages.length; page++)
      store.markPageRead(lesson.id, page, lesson.pages.length);
    store.recordQuiz(lesson.id, 1, true);
    store.setPosition({ lessonId: lesson.id, screen: "quiz", page: 0 });
    const r = await runCli(["--plain"], { env: cliEnv(home), input: "q\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`c. Continue: ${lesson.meta.title}, lab`);
  });

  it("when every lesson is done there is nothing to continue", async () => {
    const home = tempDir();
    const store = ProgressStore.open({ home });
    for (const l of lessons) {
      for (const m of l.lab.missions) store.markMissionMet(l.id, m.id);
      store.recordQuiz(l.id, 1, true);
    }
    store.setPosition({ lessonId: lesson.id, screen: "quiz", page: 0 });
    const r = await runCli(["--plain"], { env: cliEnv(home), input: "c\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("Continue");
    expect(r.stdout).toContain("Every lesson is done.");
    expect(r.stdout).toContain(`Choose a lesson [1-${lessons.length}, e, q]:`);
    expect(r.stdout).toContain(
      `Type a number from 1 to ${lessons.length}, e for the exam or q to quit.`,
    );
  });

  it("end of input at the first prompt: exit 0, nothing alarming", async () => {
    const r = await runCli(["--plain"], { env: cliEnv(tempDir()), input: "" });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/Choose a lesson \[1-\d+, c, e, q\]: \n$/);
  });

  it("a learner's own request: logged as it arrives, its mission met; end of input stops the lab", async () => {
    const own404 = lesson.lab.missions.find(
      (m) => m.when.from === "learner" && m.when.match.status === 404,
    );
    const home = tempDir();
    const child = spawnCli(["--plain", "lab", lesson.id], home);
    const out = collect(child);
    const exit = new Promise<number | null>((resolve) => child.once("close", resolve));
    const url = await waitFor(
      () => /^Server: (http:\/\/127\.0\.0\.1:\d+\/?) \(pid \d+, threading on\)$/m.exec(out())?.[1],
      "the lab's server line",
    );
    await waitFor(() => /Lab \[[^\]]+\]: $/.test(out()), "the lab prompt");
    const res = await fetch(new URL("/nope.txt", url));
    expect(res.status).toBe(404);
    await res.text();
    await waitFor(
      () => /^ {2}\| 127\.0\.0\.1 - - \[[^\]]+\] "GET \/nope\.txt HTTP\/1\.1" 404 -$/m.test(out()),
      "the request's log line",
    );
    if (own404) {
      await waitFor(() => out().includes(`Mission met: ${own404.title}`), "the mission");
    }
    // The prompt comes back after lines that arrived on their own.
    await waitFor(() => /404 -\n(?:.*\n)*Lab \[[^\]]+\]: $/.test(out()), "the prompt again");

    child.stdin?.end();
    expect(await exit).toBe(0);
    expect(out()).toContain("Lab closed; its server is stopped.");
    expect(await waitGone(printedPid(out()))).toBe(true);
  });

  it("SIGINT while a lab runs: the server is stopped before the CLI exits", async () => {
    const child = spawnCli(["--plain", "lab", lesson.id], tempDir());
    const out = collect(child);
    const exit = new Promise<number | null>((resolve) => child.once("close", resolve));
    await waitFor(() => /Lab \[[^\]]+\]: $/.test(out()), "the lab prompt");
    const pid = printedPid(out());
    child.kill("SIGINT");
    expect(await exit).toBe(130);
    expect(await waitGone(pid, 2_000)).toBe(true);
  });

  it("output closed while a lab runs (piped into head): quiet exit 0, the server stopped", async () => {
    const child = spawnCli(["--plain", "lab", lesson.id], tempDir());
    const out = collect(child);
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const exit = new Promise<number | null>((resolve) => child.once("close", resolve));
    await waitFor(() => /Lab \[[^\]]+\]: $/.test(out()), "the lab prompt");
    const pid = printedPid(out());
    child.stdout?.destroy();
    child.stdin?.write("1\n");
    expect(await exit).toBe(0);
    expect(stderr).toBe("");
    expect(await waitGone(pid, 2_000)).toBe(true);
  });
});
