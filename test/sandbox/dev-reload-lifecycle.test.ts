import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  childPids,
  cleanUp,
  type DevServer,
  expectValidEvents,
  makeApp,
  refuses,
  startDev,
} from "./dev-reload-helpers.js";
import { get, isAlive, portFreeWithin, raw, sleep } from "./helpers.js";

afterAll(() => cleanUp());

const HANGING_APP = `export const routes = {
  "/": () => "ok",
  "/hang": () => {
    for (;;) {}
  },
};
`;

/** The parent's child processes: the app child, and the spare started ahead of a reload. */
async function appPids(s: DevServer, count = 1): Promise<number[]> {
  await s.waitFor(() => childPids(s.child.pid ?? 0).length >= count, 5000, "the app child");
  return childPids(s.child.pid ?? 0);
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

async function expectAllGone(s: DevServer, children: number[]): Promise<void> {
  expect(await gone(s.child.pid ?? 0, 2000)).toBe(true);
  for (const child of children) expect(await gone(child, 2000), `child ${child}`).toBe(true);
  expect(await refuses(s.port)).toBe(true);
  expect(await portFreeWithin(s.port)).toBe(true);
}

describe("dev-reload lifecycle: no process or port left behind", () => {
  for (const flavour of ["flask", "django"] as const) {
    it(`${flavour}: Ctrl+C (SIGINT) stops parent and child quietly`, async () => {
      const dir = makeApp(flavour === "flask" ? "flask-app" : "django-app");
      const s = await startDev(["--flavour", flavour, "--port", "0", "--directory", dir], {
        ipc: false,
      });
      const child = await appPids(s, 2);
      const before = s.stdout() + s.stderr();
      s.kill("SIGINT");
      const { code } = await s.exited;
      expect(code).toBe(0);
      expect(s.stdout() + s.stderr()).toBe(before);
      await expectAllGone(s, child);
    });
  }

  it("SIGTERM stops both", async () => {
    const s = await startDev(["--port", "0", "--directory", makeApp("flask-app")]);
    const child = await appPids(s, 2);
    s.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
    await expectAllGone(s, child);
  });

  it("the IPC stop control stops both, with a stopping event", async () => {
    const s = await startDev([
      "--flavour",
      "django",
      "--port",
      "0",
      "--directory",
      makeApp("django-app"),
    ]);
    const child = await appPids(s, 2);
    s.child.send({ v: 1, msg: { type: "stop" } });
    expect((await s.exited).code).toBe(0);
    expect(s.events().some((e) => e.type === "stopping" && e.reason === "stop")).toBe(true);
    expectValidEvents(s);
    await expectAllGone(s, child);
  });

  it("an IPC disconnect (the supervisor is gone) ends both within a second", async () => {
    const s = await startDev(["--port", "0", "--directory", makeApp("flask-app")]);
    const child = await appPids(s, 2);
    const started = Date.now();
    s.child.disconnect();
    await s.exited;
    expect(Date.now() - started).toBeLessThan(1500);
    await expectAllGone(s, child);
  });

  it("SIGKILL to the parent: the app child follows within about a second", async () => {
    const s = await startDev(["--port", "0", "--directory", makeApp("flask-app")]);
    const child = await appPids(s, 2);
    s.kill("SIGKILL");
    await s.exited;
    for (const pid of child) expect(await gone(pid, 1500), `child ${pid}`).toBe(true);
    expect(await portFreeWithin(s.port)).toBe(true);
  });

  it("a child stuck in an endless loop is killed: on shutdown, and when the parent is killed", async () => {
    const dir = makeApp("flask-app");
    writeFileSync(join(dir, "app.mjs"), HANGING_APP);
    const a = await startDev(["--port", "0", "--directory", dir]);
    const childA = await appPids(a, 2);
    void raw(a.port, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 3000 });
    await sleep(150);
    a.kill("SIGTERM");
    await a.exited;
    await expectAllGone(a, childA);

    const b = await startDev(["--port", "0", "--directory", dir]);
    const childB = await appPids(b, 2);
    void raw(b.port, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 3000 });
    await sleep(150);
    b.kill("SIGKILL");
    await b.exited;
    for (const pid of childB) expect(await gone(pid, 2000), `child ${pid}`).toBe(true);
    expect(await portFreeWithin(b.port)).toBe(true);
  });

  it("an endless loop at import: the reloader replaces the stuck child on the next save", async () => {
    const dir = makeApp("flask-app");
    const app = join(dir, "app.mjs");
    writeFileSync(app, `for (;;) {}\nexport const routes = {};\n`);
    const s = await startDev(
      ["--reloader", "events", "--interval", "0.2", "--port", "0", "--directory", dir],
      { ready: false },
    );
    const [stuck = 0] = await appPids(s);
    await sleep(300);
    writeFileSync(app, `export const routes = { "/": () => "unstuck" };\n`);
    await s.waitReload(1, ["ready"], 8000);
    expect(await gone(stuck, 1000)).toBe(true);
    const listening = s.events().find((e) => e.type === "listening");
    expect(listening).toBeDefined();
    const port = listening?.type === "listening" ? listening.port : 0;
    expect((await get(port, "/")).body.toString()).toBe("unstuck");
    s.port = port;
    const child = await appPids(s, 2);
    s.kill("SIGINT");
    await s.exited;
    await expectAllGone(s, child);
  });
});
