import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, noChromium } from "../browser/chromium.js";
import { assertBuilt, cliEnv, removeTemps, runCli, tempDir } from "../cli/helpers.js";
import {
  type Host,
  joinAs,
  type Learner,
  PACK,
  postEvents,
  readRoom,
  startHost,
  startLearner,
  until,
} from "./helpers.js";

const HOSTILE = `<img src=x onerror="window.__pwned=1">`;

describe.skipIf(noChromium("classroom dashboard in Chromium"))(
  "classroom dashboard in Chromium",
  () => {
    let browser: Browser;
    let host: Host;
    let page: Page;
    let hostHome: string;
    let data: string;
    const learners: Learner[] = [];

    beforeAll(async () => {
      assertBuilt();
      hostHome = tempDir("lw-dash-host-");
      data = join(hostHome, "room.json");
      [browser, host] = await Promise.all([launchChromium(), startHost({ home: hostHome, data })]);
      page = await browser.newPage();
    });
    afterAll(async () => {
      await Promise.all(learners.map((l) => l.quit()));
      await Promise.all([browser?.close(), host?.stop()]);
      removeTemps();
    });

    /** The text of one cell of a learner's row, found by the name shown. */
    const cell = async (name: string, column: string) => {
      const rows = page.locator("#learners tbody tr");
      const i = (await rows.locator(".name").allTextContents()).indexOf(name);
      return i < 0 ? undefined : rows.nth(i).locator(`.${column}`).textContent();
    };
    const status = () => page.textContent("#status");
    const shows = async (name: string, column: string, text: string | RegExp, ms = 5000) => {
      await expect
        .poll(() => cell(name, column), { timeout: ms, interval: 50 })
        .toMatch(
          typeof text === "string"
            ? new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`)
            : text,
        );
    };
    const joinLearner = (name: string) => {
      const learner = startLearner(tempDir("lw-dash-learner-"), [
        "--join",
        host.url,
        "--code",
        host.code,
        "--name",
        name,
      ]);
      learners.push(learner);
      return learner;
    };

    it("follows two learners live as they read, meet a mission and pass a quiz; a hostile name stays text", async () => {
      await page.goto(host.instructorUrl);
      await expect.poll(status, { timeout: 5000 }).toMatch(/^Live/);
      await expect(page.textContent("#empty")).resolves.toBe("Nobody has joined yet.");
      await expect(page.textContent("#join-code")).resolves.toBe(host.code);

      const ada = joinLearner(HOSTILE);
      const grace = joinLearner("Grace Hopper");
      await Promise.all([ada.waitFor("Choose a lesson"), grace.waitFor("Choose a lesson")]);
      await expect
        .poll(() => page.locator("#learners tbody tr").count(), { timeout: 5000 })
        .toBe(2);
      await shows(HOSTILE, "step", "not started");

      // Ada reads: the step follows each page.
      let mark = ada.out().length;
      ada.type("1", "1");
      await ada.waitFor("page 1 of 3", mark);
      await shows(HOSTILE, "lesson", "1. Share a folder with http.server");
      await shows(HOSTILE, "step", "reading 1/3");
      mark = ada.out().length;
      ada.type("");
      await ada.waitFor("page 2 of 3", mark);
      await shows(HOSTILE, "step", "reading 2/3");

      // Grace takes the second lesson's quiz.
      mark = grace.out().length;
      grace.type("2", "3", "2", "1");
      await grace.waitFor("Score: 100%", mark);
      await shows("Grace Hopper", "lesson", "2. 304 Not Modified: asking only for what changed");
      await shows("Grace Hopper", "quizzes", "2: 100% passed");

      // Ada opens the lab and runs the listing experiment: a mission is met.
      mark = ada.out().length;
      ada.type("q", "2");
      await ada.waitFor(/Server: http:\/\/127\.0\.0\.1:\d+/, mark);
      await shows(HOSTILE, "step", "lab");
      mark = ada.out().length;
      ada.type("2");
      await ada.waitFor("Mission met: See the listing of a folder without an index.html", mark);
      await shows(HOSTILE, "missions", "1/2 here, 1/4 in all");
      ada.type("b");

      // The pace view counts one learner at each lesson.
      const pace = async () => {
        const items = page.locator("#pace li[data-lesson]");
        const out: [string | null, string | null][] = [];
        for (let i = 0; i < (await items.count()); i++) {
          const li = items.nth(i);
          out.push([await li.getAttribute("data-lesson"), await li.locator(".n").textContent()]);
        }
        return out;
      };
      await expect.poll(pace, { timeout: 5000 }).toEqual([
        ["share-a-folder", "1"],
        ["not-modified", "1"],
      ]);

      // The hostile name is text everywhere: no element was made from it, no script ran.
      await expect(cell(HOSTILE, "name")).resolves.toBe(HOSTILE);
      await expect(page.locator("img").count()).resolves.toBe(0);
      await expect(page.evaluate("window.__pwned")).resolves.toBeUndefined();
      await expect(page.textContent("#pace")).resolves.toContain(HOSTILE);

      // The Export CSV link downloads the room, with the instructor's key and nobody else's.
      const href = await page.getAttribute("#export", "href");
      expect(href).toBe(`/api/export.csv?key=${encodeURIComponent(host.key)}`);
      const csv = await page.evaluate<string>(
        `fetch(${JSON.stringify(href)}).then((r) => r.text())`,
      );
      const lines = csv.replace(/^\ufeff/, "").split("\r\n");
      expect(lines[0]).toMatch(
        /^name,joined,last active,lesson,step,missions met,missions in course,/,
      );
      expect(lines).toContainEqual(
        expect.stringMatching(/^Grace Hopper,.*,not-modified,quiz,0,4,0,,,0,100,yes,,0,$/),
      );
      expect(lines).toContainEqual(
        expect.stringMatching(
          /^"<img src=x onerror=""window.__pwned=1"">",.*,share-a-folder,lab,1,4,1,,,0,,,,0,$/,
        ),
      );
    });

    it("queued events reach the dashboard after the host comes back; the room survives the restart", async () => {
      const home = tempDir("lw-dash-queued-");
      const linus = startLearner(home, [
        "--join",
        host.url,
        "--code",
        host.code,
        "--name",
        "Linus",
      ]);
      learners.push(linus);
      await linus.waitFor("Choose a lesson");
      await shows("Linus", "step", "not started");

      const port = host.port;
      expect((await host.stop()).code).toBe(0);
      await expect.poll(status, { timeout: 5000 }).toMatch(/^Reconnecting/);

      let mark = linus.out().length;
      linus.type("2", "1");
      await linus.waitFor("page 1 of 2", mark);
      mark = linus.out().length;
      linus.type("");
      await linus.waitFor("page 2 of 2", mark);
      // The course went on; the learner can see that events wait.
      const waiting = await until(async () => {
        const r = await runCli(["--lessons", PACK, "progress"], { env: cliEnv(home) });
        return /the host cannot be reached .*; [1-9]\d* events? waits?, sent when it is back/.test(
          r.stdout,
        )
          ? r.stdout
          : undefined;
      }, "the progress command to report waiting events");
      expect(waiting).toContain("Classroom: http://127.0.0.1:");

      host = await startHost({ home: hostHome, data, port });
      await shows("Linus", "step", "reading 2/2", 12_000);
      await shows(HOSTILE, "missions", "1/2 here, 1/4 in all");
      await shows("Grace Hopper", "quizzes", "2: 100% passed");
      expect((await readRoom(host)).map((l) => l.name).sort()).toEqual(
        [HOSTILE, "Grace Hopper", "Linus"].sort(),
      );
      await expect
        .poll(
          async () => (await runCli(["--lessons", PACK, "progress"], { env: cliEnv(home) })).stdout,
          {
            timeout: 5000,
          },
        )
        .toMatch(/Classroom: joined http:\/\/127\.0\.0\.1:\d+ as Linus; everything sent/);
    });

    it("shows each learner's final exam and how many passed it", async () => {
      const examLine = () => page.textContent("#exam-passed");
      await expect.poll(examLine, { timeout: 5000 }).toBe("Final exam: nobody has taken it yet");
      await shows("Grace Hopper", "exam", "-");

      const katherine = await joinAs(host.port, host.code, "Katherine Johnson");
      const mary = await joinAs(host.port, host.code, "Mary Jackson");
      const exam = (seq: number, score: number, passed: boolean) => ({
        seq,
        at: Date.now(),
        type: "exam",
        score,
        passed,
      });
      await postEvents(host.port, katherine, host.code, [exam(1, 0.6, false), exam(2, 0.95, true)]);
      await postEvents(host.port, mary, host.code, [exam(1, 0.4, false)]);
      await shows("Katherine Johnson", "exam", "95% passed");
      await shows("Mary Jackson", "exam", "40%");
      const rows = page.locator("#learners tbody tr");
      const i = (await rows.locator(".name").allTextContents()).indexOf("Katherine Johnson");
      await expect(rows.nth(i).locator(".exam").getAttribute("title")).resolves.toBe(
        "2 attempts, last 95%",
      );
      await expect.poll(examLine, { timeout: 5000 }).toBe("Final exam: 1 of 5 passed (2 took it)");
      await expect(page.locator("#learners thead th").allTextContents()).resolves.toEqual([
        "Name",
        "Lesson",
        "Step",
        "Missions",
        "Quizzes",
        "Exam",
        "Idle",
      ]);
      // The idle column still ticks in its own cell.
      await expect.poll(() => cell("Mary Jackson", "idle"), { timeout: 5000 }).toMatch(/^\d+ s$/);
    });
  },
);
