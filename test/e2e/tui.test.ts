import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { ProgressStore } from "../../src/progress/store.js";
import {
  assertBuilt,
  CLI,
  cliEnv,
  finish,
  isAlive,
  PACKS,
  ROOT,
  removeTemps,
  tempDir,
  waitGone,
} from "../cli/helpers.js";
import { KEYS, Term } from "./pty.js";

const URL_ON_SCREEN = /http:\/\/127\.0\.0\.1:\d+/;

/** True when an SGR sequence in `raw` sets a foreground or background colour. */
function hasColour(raw: string): boolean {
  for (const piece of raw.split("\x1b").slice(1)) {
    const params = /^\[([0-9;]*)m/.exec(piece)?.[1];
    if (params === undefined) continue;
    for (const p of params.split(";").map(Number)) {
      if ((p >= 30 && p <= 38) || (p >= 40 && p <= 48) || (p >= 90 && p <= 107)) return true;
    }
  }
  return false;
}

let course: LoadedCourse;
const terms: Term[] = [];

function term(...args: ConstructorParameters<typeof Term>): Term {
  const t = new Term(...args);
  terms.push(t);
  return t;
}

beforeAll(async () => {
  assertBuilt();
  course = await loadCourse();
});
afterEach(() => {
  for (const t of terms.splice(0)) t.kill();
});
afterAll(removeTemps);

function lessonTitle(i: number): string {
  const title = course.lessons[i]?.meta.title;
  if (!title) throw new Error(`no lesson ${i}`);
  return title;
}

/** How lesson `i` starts on the course map, where long titles are cut short. */
function mapEntry(i: number): string {
  return `${i + 1}. ${lessonTitle(i).slice(0, 20)}`;
}

/** Opens the first lesson's lab from the course map and waits until its server listens. */
async function openLab(t: Term): Promise<number> {
  await t.waitText(mapEntry(0), "the course map");
  t.mark();
  await t.press("l");
  await t.waitText(URL_ON_SCREEN, "the lab's URL");
  const sandbox = await t.childPid();
  expect(isAlive(sandbox)).toBe(true);
  return sandbox;
}

describe("the TUI at 80x24", () => {
  it("course map, open a lesson, back, open a lab, Ctrl+C: exits and leaves no process", async () => {
    const t = term([]);
    await t.waitText(course.course.title, "the course title");
    await t.waitText(mapEntry(0), "the first lesson on the map");
    await t.waitText(mapEntry(1), "the second lesson on the map");

    t.mark();
    await t.press(KEYS.down, KEYS.enter);
    const page = await t.waitText(/page 1\s*(?:of|\/)\s*\d+/i, "the reader's page counter");
    expect(page).toContain(lessonTitle(1).slice(0, 20));

    t.mark();
    await t.press("q");
    await t.waitText(mapEntry(0), "the course map again");

    t.mark();
    await t.press(KEYS.enter);
    await t.waitText(/page \d+\s*(?:of|\/)\s*\d+/i, "a reader again");
    t.mark();
    await t.press(KEYS.escape);
    await t.waitText(mapEntry(1), "the course map after Esc");
    await t.press(KEYS.up);
    const sandbox = await openLab(t);

    await t.press(KEYS.ctrlC);
    const { exitCode } = await t.exited;
    expect(exitCode).toBe(0);
    expect(await waitGone(sandbox)).toBe(true);
  });

  it.each([["SIGTERM"], ["SIGHUP"]] as const)(
    "%s to the CLI while a lab runs leaves nothing behind",
    async (signal) => {
      const t = term([]);
      const sandbox = await openLab(t);
      process.kill(t.pid, signal);
      const { exitCode } = await t.exited;
      expect(exitCode).toBe(signal === "SIGTERM" ? 143 : 129);
      expect(await waitGone(sandbox)).toBe(true);
      expect(isAlive(t.pid)).toBe(false);
    },
  );

  it("lab <id> --port N opens straight into the lab on that port", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const t = term(["lab", course.lessons[0]?.id ?? "", "--port", String(port)]);
    await t.waitText(`http://127.0.0.1:${port}`, "the lab's URL with the port asked for");
    const sandbox = await t.childPid();
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    await res.text();
    await t.press(KEYS.ctrlC);
    expect((await t.exited).exitCode).toBe(0);
    expect(await waitGone(sandbox)).toBe(true);
  });

  it("lesson <id> opens the reader at that lesson; --lessons DIR shows another pack", async () => {
    const t = term(["lesson", course.lessons[1]?.id ?? ""]);
    const page = await t.waitText(/page 1\s*(?:of|\/)\s*\d+/i, "the reader");
    expect(page).toContain(lessonTitle(1).slice(0, 20));
    await t.press(KEYS.ctrlC);
    expect((await t.exited).exitCode).toBe(0);

    const other = term(["--lessons", join(PACKS, "valid")]);
    await other.waitText("Fixture course", "the fixture pack's title");
    await other.waitText("1. Alpha", "its first lesson");
    await other.press(KEYS.ctrlC);
    expect((await other.exited).exitCode).toBe(0);
  });

  it("a terminal resized to 60x20 shows the enlarge message, and 80x24 brings the app back", async () => {
    const t = term([]);
    await t.waitText(mapEntry(0), "the course map");
    t.mark();
    t.pty.resize(60, 20);
    await t.waitText(/enlarge the terminal/i, "the enlarge message");
    t.mark();
    t.pty.resize(80, 24);
    await t.waitText(mapEntry(0), "the course map again");
    await t.press(KEYS.ctrlC);
    expect((await t.exited).exitCode).toBe(0);
  });

  it("q quits from the enlarge message, as on the map", async () => {
    const t = term([]);
    await t.waitText(mapEntry(0), "the course map");
    t.mark();
    t.pty.resize(60, 20);
    await t.waitText(/Ctrl\+C or q\s+quits/, "the enlarge message with the way out");
    await t.press("q");
    expect((await t.exited).exitCode).toBe(0);
  });

  it("NO_COLOR turns every colour off; without it there is colour", async () => {
    const plain = term([], { env: { NO_COLOR: "1" } });
    await plain.waitText(mapEntry(1), "the course map without colour");
    await new Promise((r) => setTimeout(r, 200));
    expect(hasColour(plain.raw)).toBe(false);
    await plain.press(KEYS.ctrlC);
    await plain.exited;

    const coloured = term([]);
    await coloured.waitText(mapEntry(1), "the course map in colour");
    expect(hasColour(coloured.raw)).toBe(true);
  });
});

describe("mode choice and terminal prompts", () => {
  it("stdin not a terminal: plain mode, even with a terminal for output", async () => {
    const viaPipe = spawn(process.execPath, [CLI], {
      cwd: ROOT,
      env: cliEnv(tempDir()),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const r = await finish(viaPipe, { input: "q\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Choose a lesson \[1-\d+, c, e, q\]: q\n$/);
    expect(r.stdout).not.toContain("\x1b");

    const t = term([], { shell: "echo q | $CLI" });
    await t.waitText("Choose a lesson", "the plain prompt");
    expect((await t.exited).exitCode).toBe(0);
    expect(t.raw).not.toContain("\x1b[");
  });

  it("TERM=dumb in a terminal: plain mode", async () => {
    const t = term([], { env: { TERM: "dumb" } });
    await t.waitText("Choose a lesson", "the plain prompt");
    expect(t.raw).not.toContain("\x1b[");
    await t.press("q", "\r");
    expect((await t.exited).exitCode).toBe(0);
  });

  it("progress reset on a terminal asks first: n keeps, y resets", async () => {
    const home = tempDir();
    const store = ProgressStore.open({ home });
    const id = course.lessons[0]?.id ?? "";
    store.markPageRead(id, 0, 3);

    const no = term(["progress", "reset"], { home });
    await no.waitText("Reset progress for all lessons? [y/N]", "the question");
    await no.press("n", "\r");
    expect((await no.exited).exitCode).toBe(0);
    expect(no.text()).toContain("Nothing reset.");
    expect(ProgressStore.open({ home }).lesson(id)?.pagesRead).toEqual([0]);

    const yes = term(["progress", "reset", id], { home });
    await yes.waitText(`Reset progress for ${id}? [y/N]`, "the question");
    await yes.press("y", "\r");
    expect((await yes.exited).exitCode).toBe(0);
    expect(yes.text()).toContain(`Progress reset for ${id}.`);
    expect(ProgressStore.open({ home }).lesson(id)).toBeUndefined();
  });
});
