import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse, Mission } from "../../src/course/schema.js";
import { sandboxAssets, sandboxEntry } from "../../src/paths.js";
import { closeApps, fixtureCourse, frameLines, openApp, type Screen } from "./helpers.js";

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
  const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/?)\s+\(pid (\d+)[,)]/.exec(frame);
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
    expect(frame).toContain("Inspector: 1 GET /hello.txt");
    // What the experiment teaches comes first; at 80 columns the exchange is below it.
    expect(frame).toMatch(/^The whole exchange for one small file\. Sent: the request line/m);
    await screen.press("z");
    frame = screen.frame();
    // Last-Modified does not fit half of 80 columns, so request and response are stacked.
    expect(frame).toMatch(/^Sent:\n {2}GET \/hello\.txt HTTP\/1\.1$/m);
    expect(frame).toMatch(/^Received:\n {2}HTTP\/1\.0 200 OK$/m);
    await screen.press("z");
    await screen.waitFor((f) => /"GET \/hello\.txt HTTP\/1\.1" 200 -/.test(f));
  });

  test("on a wide terminal the request and the response are side by side", async () => {
    const { screen } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
      columns: 120,
      rows: 40,
    });
    await listening(screen);
    await screen.press("1");
    const frame = await screen.waitFor("HTTP/1.0 200 OK");
    expect(frame).toMatch(/^Sent: +│ Received:$/m);
    expect(frame).toMatch(/GET \/hello\.txt HTTP\/1\.1 +│ HTTP\/1\.0 200 OK/);
    expect(frame).toMatch(/│ Last-Modified: \w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT$/m);
  });

  test.each([["http-basics"], ["http-server"]])(
    "at 80x24 every experiment of %s has its whole title on a row of its own",
    async (id) => {
      const lesson = lessons.lessons.find((l) => l.id === id);
      if (!lesson) throw new Error(`no lesson ${id}`);
      const { screen } = await openApp({ course: lessons, start: { lessonId: id, screen: "lab" } });
      await listening(screen);
      const frame = screen.frame();
      expect(frameLines(frame).length).toBeLessThan(24);
      for (const e of lesson.lab.experiments) {
        expect(frame).toMatch(new RegExp(`^${e.key} ${literal(e.title)}  `, "m"));
      }
      expect(frameLines(frame).at(-1)).toMatch(
        new RegExp(`^1-${lesson.lab.experiments.length} run  `),
      );
      // The next mission's whole title, wrapped in the missions column, then its hint.
      const lines = frameLines(frame);
      const header = lines.findIndex((l) => l.startsWith("Experiments"));
      const column = lines[header]?.indexOf("Missions") ?? -1;
      expect(column).toBeGreaterThan(0);
      const missions = lines
        .slice(header + 1, header + 1 + lesson.lab.experiments.length)
        .map((l) => l.slice(column).trim())
        .join(" ");
      expect(missions).toContain(`[ ] ${lesson.lab.missions[0]?.title}`);
      expect(missions).toMatch(/\[ \] .*Hint: \S/);
    },
  );

  test("z shows the focused pane over the whole lab and scrolls it; Tab switches it; Esc goes back", async () => {
    const { screen } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
    });
    const { pid } = await listening(screen);
    await screen.press("3");
    await screen.waitFor("404 File not found");
    await screen.press("z");
    let frame = screen.frame();
    expect(frame).not.toContain("Experiments");
    expect(frame).toMatch(/^- > Inspector: 3 GET \/nope\.txt \(404\) -+ \d+ more lines ↓ -$/m);
    expect(frame).toMatch(/^No such file, so the status line reads/m);
    expect(frame).not.toContain("</html>");
    expect(frameLines(frame).length).toBeLessThan(24);
    expect(frameLines(frame).at(-1)).toContain("Esc whole lab");
    await screen.press("pageDown");
    await screen.press("pageDown");
    frame = screen.frame();
    expect(frame).toMatch(/^ {2}<\/html>$/m);
    expect(frame).not.toContain("No such file");

    await screen.press("tab");
    frame = await screen.waitFor((f) => /"GET \/nope\.txt HTTP\/1\.1" 404 -/.test(f));
    expect(frame).toMatch(/^- > Log -+$/m);
    expect(frame).toContain("Serving HTTP on 127.0.0.1");
    expect(frame).not.toContain("Inspector");

    await screen.press("escape");
    frame = screen.frame();
    expect(frame).toContain("Experiments");
    expect(frame).toMatch(/^- > Log/m);
    expect(frame).toMatch(/^- Inspector: 3 GET \/nope\.txt/m);
    expect(isAlive(pid)).toBe(true);
  });

  test("m shows every mission with its whole title and hint, and m again goes back", async () => {
    const { screen } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
    });
    await listening(screen);
    await screen.press("m");
    const frame = screen.frame();
    expect(frame).toMatch(/^- > Missions 0\/5 -/m);
    expect(frame).toMatch(
      /^\[ \] Fetch three different files and compare their Content-type 0\/3$/m,
    );
    expect(frame).toMatch(/^ {4}Hint: `curl -I` on three files of the demo site/m);
    expect(frame).not.toContain("Experiments");
    await screen.press("m");
    expect(screen.frame()).toContain("Experiments");
  });

  test("a request of the learner's own meets a mission, which flashes", async () => {
    const { screen, progress } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
    });
    const { url } = await listening(screen);
    expect(screen.frame()).toContain("Missions 0/5");
    expect(screen.frame()).toMatch(/\[ \] Fetch three different … 0\/3/);

    expect(await get(new URL("/hello.txt", url).href)).toBe(200);
    expect(await get(new URL("/nope.txt", url).href)).toBe(404);
    const frame = await screen.waitFor("Mission met: Get a 404 with your own curl or browser");
    expect(frame).toContain("Missions 1/5");
    expect(frame).toMatch(/\[x\] Get a 404 with your own/);
    expect(progress.lesson("http-basics")?.missionsMet).toEqual(["own-404"]);
  });

  test("a mission that needs two requests shows 1/2 after the first and is met by the second", async () => {
    const fixture = await fixtureCourse();
    const twice: Mission = {
      id: "fetch-twice",
      title: "Fetch the listing twice yourself",
      hint: "curl the URL shown above two times.",
      when: { event: "request", from: "learner", match: { status: 200 }, count: 2 },
    };
    const course = {
      ...fixture,
      lessons: fixture.lessons.map((l) =>
        l.id === "beta" ? { ...l, lab: { ...l.lab, missions: [twice] } } : l,
      ),
    };
    const { screen, progress } = await openApp({
      course,
      start: { lessonId: "beta", screen: "lab" },
    });
    const { url } = await listening(screen);
    expect(screen.frame()).toMatch(/\[ \] Fetch the listing twice yourself 0\/2/);

    expect(await get(url)).toBe(200);
    let frame = await screen.waitFor("twice yourself 1/2");
    expect(frame).toMatch(/\[ \] Fetch the listing twice yourself 1\/2/);
    expect(frame).toContain("Missions 0/1");
    expect(progress.lesson("beta")?.missionsMet ?? []).toEqual([]);

    expect(await get(url)).toBe(200);
    frame = await screen.waitFor("Mission met: Fetch the listing twice yourself");
    expect(frame).toMatch(/\[x\] Fetch the listing twice yourself 2\/2/);
    expect(frame).toContain("Missions 1/1");
    expect(progress.lesson("beta")?.missionsMet).toEqual(["fetch-twice"]);
  });

  test("R asks before resetting the workspace: n and Esc keep the files, y restores them", async () => {
    const { screen, home } = await openApp({
      course: lessons,
      start: { lessonId: "http-basics", screen: "lab" },
    });
    const { pid } = await listening(screen);
    const file = join(home, "workspaces", "http-basics", "hello.txt");
    const original = readFileSync(join(sandboxAssets("static"), "demo-site", "hello.txt"), "utf8");
    writeFileSync(file, "edited by the learner\n");

    await screen.press("R");
    let frame = screen.frame();
    expect(frame).toContain("Reset the workspace files? Your edits will be lost. y/n");
    expect(frameLines(frame).at(-1)).toMatch(/^y yes {2}n no {2}/);
    await screen.press("n");
    expect(screen.frame()).toContain("Nothing reset: the workspace files are as they were.");
    expect(readFileSync(file, "utf8")).toBe("edited by the learner\n");

    await screen.press("R");
    await screen.press("escape");
    frame = screen.frame();
    expect(frame).toContain("Nothing reset");
    expect(frame).toContain("listening on");
    expect(readFileSync(file, "utf8")).toBe("edited by the learner\n");

    await screen.press("R");
    await screen.press("y");
    frame = await screen.waitFor("The workspace has the lab's original files again.");
    expect(readFileSync(file, "utf8")).toBe(original);
    await screen.waitFor(
      `[lab] Copied a fresh workspace to ${join(home, "workspaces", "http-basics")}.`,
    );
    expect(isAlive(pid)).toBe(true);
  });

  test("when every mission is met, a line suggests the quiz", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    await listening(screen);
    await screen.press("2");
    const frame = await screen.waitFor("All missions met. Press t to take the quiz.");
    expect(frame).toContain("Missions 1/1");
    // A mission an experiment meets flashes over that experiment's result.
    expect(frame).toContain("[x] Mission met: Get a 404");
  });

  test("a new experiment's result replaces the flash of a mission met just before", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    const { url } = await listening(screen);
    expect(await get(new URL("/nope.txt", url).href)).toBe(404);
    await screen.waitFor("Mission met: Get a 404");
    await screen.press("1");
    const frame = await screen.waitFor((f) => /^\[x\] 1 GET \/: /m.test(f));
    expect(frame).not.toContain("Mission met");
  });

  test("every experiment run during the visit keeps its mark", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "lab" } });
    await listening(screen);
    await screen.press("1");
    await screen.waitFor("Inspector: 1 GET /");
    await screen.press("2");
    const frame = await screen.waitFor("Inspector: 2 GET /missing");
    expect(frame).toMatch(/^1 GET \/ +\[x\]/m);
    expect(frame).toMatch(/^2 GET \/missing +\[x\]/m);
  });

  test("the Server line shows the sandbox's options, and a restart's new ones", async () => {
    const fixture = await fixtureCourse();
    const course = {
      ...fixture,
      lessons: fixture.lessons.map((l) =>
        l.id === "beta"
          ? {
              ...l,
              lab: {
                ...l.lab,
                options: { threading: true },
                experiments: [
                  ...l.lab.experiments,
                  {
                    key: 3,
                    id: "one-thread",
                    title: "Restart without threads",
                    explain: "The same server, one request at a time.",
                    action: { kind: "restart" as const, options: { threading: false } },
                  },
                ],
              },
            }
          : l,
      ),
    };
    const { screen } = await openApp({ course, start: { lessonId: "beta", screen: "lab" } });
    const { pid } = await listening(screen);
    expect(screen.frame()).toMatch(/^Server {2}listening on \S+ {2}\(pid \d+, threading on\)$/m);
    expect(frameLines(screen.frame()).at(-1)).toMatch(/^1-3 run {2}/);
    await screen.press("3");
    const frame = await screen.waitFor((f) => /\(pid \d+, threading off\)$/m.test(f), 15000);
    expect(frame).not.toContain(`(pid ${pid},`);
    expect(frame).toMatch(/^\[x\] 3 Restart without threads: /m);
  });

  test("a port already in use: the whole message and hint, and what to do instead of the intro", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const { screen } = await openApp({ port, start: { lessonId: "beta", screen: "lab" } });
      const frame = await screen.waitFor("What to do", 15000);
      const lines = frameLines(frame);
      const server = lines.findIndex((l) => l.startsWith("Server  failed: "));
      const hint = lines.findIndex((l) => l.startsWith("Hint    "));
      expect(server).toBeGreaterThan(0);
      expect(hint).toBeGreaterThan(server);
      const joined = (from: number, to: number) =>
        lines
          .slice(from, to)
          .map((l) => l.slice(8).trim())
          .join(" ");
      expect(joined(server, hint)).toBe(
        `failed: Port ${port} is already in use on 127.0.0.1. Stop the program using it, or leave out --port to take a free one.`,
      );
      expect(frame).not.toContain("…");
      expect(frame).not.toMatch(/Press (a digit|\d-\d)/);
      expect(frame).not.toContain("serving the demo site");
      expect(frame).not.toContain("Start the server.");
      expect(frame).toContain(
        "The server is not running: press s to start it again, or Esc to go back.",
      );
      expect(frame).toMatch(
        /^Deal with the problem above, then press s to start the server again/m,
      );
      expect(lines.at(-1)).not.toContain("run");
      expect(lines.length).toBeLessThan(24);
      await screen.press("escape");
      await screen.waitFor("Fixture course");
    } finally {
      blocker.close();
    }
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
    const frame = await screen.waitFor("run that experiment");
    // The fixture's lab has two experiments.
    expect(frame).toMatch(/^ {2}1-2 +run that experiment \(some ask for your prediction first\)$/m);
    await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(pid)).toBe(true);
    await screen.press("escape");
    await screen.waitFor("listening on");
  });
});

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
