import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { sandboxEntry } from "../../src/paths.js";
import { closeApps, fixtureCourse, openApp, type Screen } from "./helpers.js";

afterEach(closeApps);

let lessons: LoadedCourse;
beforeAll(async () => {
  if (!existsSync(sandboxEntry("static"))) {
    throw new Error("The static sandbox is not built: run node scripts/build.mjs first.");
  }
  lessons = await loadCourse("lessons");
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function listening(screen: Screen): Promise<{ url: string; pid: number }> {
  const frame = await screen.waitFor("listening on", 15000);
  const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/?)\s+\(pid (\d+)\)/.exec(frame);
  if (!match?.[1] || !match[2]) throw new Error(`no URL and pid in:\n${frame}`);
  return { url: match[1], pid: Number(match[2]) };
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("lab", () => {
  test("starts the real sandbox, shows its URL, workspace and curl command, and runs experiments", async () => {
    const { screen, home } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
    });
    expect(screen.frame()).toMatch(/starting/);
    const { url, pid } = await listening(screen);
    expect(isAlive(pid)).toBe(true);
    let frame = screen.frame();
    expect(frame).toContain(`Files   ${join(home, "workspaces", "http-basics")}`);
    expect(frame).toMatch(/Try {5}curl -v http:\/\/127\.0\.0\.1:\d+\//);
    expect(frame).toContain("1 GET /hello");
    expect(frame).toContain("A local imitation of `python3 -m http.server`");
    expect(frame).toContain(`Serving HTTP on 127.0.0.1 port ${new URL(url).port}`);

    await screen.press("1");
    frame = await screen.waitFor("HTTP/1.0 200 OK");
    expect(frame).toMatch(/GET \/hello\.txt HTTP\/1\.1 +│ HTTP\/1\.0 200 OK/);
    expect(frame).toContain("Inspector: 1 GET /hello.txt");
    await screen.waitFor((f) => /"GET \/hello\.txt HTTP\/1\.1" 200 -/.test(f));
  });

  test("a request of the learner's own meets a mission, which flashes", async () => {
    const { screen, progress } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
    });
    const { url } = await listening(screen);
    expect(screen.frame()).toContain("Missions 0/5");
    expect(screen.frame()).toMatch(/\[ \] Fetch three different files an… 0\/3/);

    expect(await get(new URL("/hello.txt", url).href)).toBe(200);
    expect(await get(new URL("/nope.txt", url).href)).toBe(404);
    const frame = await screen.waitFor("Mission met: Get a 404 with your own curl or browser");
    expect(frame).toContain("Missions 1/5");
    expect(frame).toMatch(/\[x\] Get a 404 with your own curl/);
    expect(progress.lesson("http-basics")?.missionsMet).toEqual(["own-404"]);
  });

  test("when every mission is met, a line suggests the quiz", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    await listening(screen);
    await screen.press("2");
    const frame = await screen.waitFor("All missions met. Press t to take the quiz.");
    expect(frame).toContain("Missions 1/1");
  });

  test("a sandbox that cannot start shows what happened and a hint", async () => {
    const fixture = await fixtureCourse();
    const course = {
      ...fixture,
      lessons: fixture.lessons.map((l) =>
        l.id === "beta" ? { ...l, lab: { ...l.lab, options: { "no-such-flag": true } } } : l,
      ),
    };
    const { screen } = await openApp({ course, start: { lessonId: "beta", screen: "lab" } });
    const frame = await screen.waitFor("failed:", 15000);
    expect(frame).toMatch(/Server {2}failed: The static sandbox stopped before it was ready/);
    expect(frame).toMatch(/Hint {4}The sandbox said: .*no-such-flag/);
  });

  test("Tab moves the focus between the log and the inspector", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    await listening(screen);
    expect(screen.frame()).toMatch(/^- > Inspector/m);
    await screen.press("tab");
    expect(screen.frame()).toMatch(/^- > Log/m);
    expect(screen.frame()).toMatch(/^- Inspector/m);
  });

  test("leaving the lab stops its sandbox", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    const { pid } = await listening(screen);
    await screen.press("escape");
    await screen.waitFor("Fixture course");
    await waitUntil(() => !isAlive(pid));
  });

  test("going from the lab to its quiz stops the sandbox too", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    const { pid } = await listening(screen);
    await screen.press("t");
    await screen.waitFor("Quiz · Beta");
    await waitUntil(() => !isAlive(pid));
  });

  test("the lab keeps its server while the help is open", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    const { pid } = await listening(screen);
    await screen.press("?");
    const frame = await screen.waitFor("Everywhere");
    expect(frame).toMatch(/1-9 +run that experiment/);
    await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(pid)).toBe(true);
    await screen.press("escape");
    await screen.waitFor("listening on");
  });
});
