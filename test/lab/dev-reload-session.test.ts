import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, labSchema } from "../../src/course/schema.js";
import { LabSession } from "../../src/lab/session.js";
import { stopAll } from "../../src/lab/supervisor.js";
import type { LabSessionSnapshot } from "../../src/lab/types.js";
import { ProgressStore } from "../../src/progress/store.js";
import { waitForSnapshot } from "./helpers.js";

const homes: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const GOOD = `export const routes = { "/": () => "Hello from the edit\\n" };\n`;
const BROKEN = `export const routes = { "/": () => "unclosed\n`;

const lab: Lab = labSchema.parse({
  sandbox: "dev-reload",
  flavour: "flask",
  workspace: "flask-app",
  edit: "app.mjs",
  options: { interval: 0.2 },
  intro: "A Flask development server.",
  experiments: [
    {
      key: 1,
      id: "edit",
      title: "Edit the app",
      explain: "x",
      action: { kind: "write-file", file: "app.mjs", content: GOOD },
    },
    {
      key: 2,
      id: "break",
      title: "Break the app",
      explain: "x",
      action: { kind: "write-file", file: "app.mjs", content: BROKEN },
    },
    {
      key: 3,
      id: "events",
      title: "Switch to the events reloader",
      explain: "x",
      action: { kind: "restart", options: { reloader: "events" } },
    },
    {
      key: 4,
      id: "burst",
      title: "Three requests at once",
      explain: "x",
      action: { kind: "burst", path: "/", count: 3, concurrency: 3 },
    },
  ],
  missions: [
    {
      id: "live-edit",
      title: "An edit goes live",
      hint: "save app.mjs",
      when: { event: "reload", match: { phase: "ready" } },
    },
    {
      id: "broken",
      title: "A broken edit fails to load",
      hint: "press 2",
      when: { event: "reload", match: { phase: "failed", error: { regex: "SyntaxError" } } },
    },
  ],
});

function waitFor(
  session: LabSession,
  test: (s: LabSessionSnapshot) => boolean,
  ms = 10_000,
): Promise<LabSessionSnapshot> {
  return waitForSnapshot(session, test, ms, (s) => `reloads: ${JSON.stringify(s.reloads?.rows)}`);
}

const last = (s: LabSessionSnapshot) => s.reloads?.rows.at(-1);

describe("a lab on the dev-reload sandbox", () => {
  let session: LabSession;

  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), "lw-reload-"));
    homes.push(home);
    session = new LabSession({
      lessonId: "flask-test",
      lab,
      progress: ProgressStore.open({ home }),
    });
    await session.start();
    await waitFor(session, (s) => s.state === "listening");
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("starts with no reload and a live view for them", () => {
    const snap = session.snapshot();
    expect(snap.reloads?.rows).toEqual([]);
    expect(snap.workers).toBeUndefined();
    expect(readFileSync(join(snap.workspace ?? "", "app.mjs"), "utf8")).toContain("routes");
  });

  it("shows an edit detected by the stat reloader and live, with its latency", async () => {
    await session.runExperiment(1);
    const snap = await waitFor(session, (s) => last(s)?.state === "ready");
    const row = last(snap);
    expect(row?.reloader).toBe("stat");
    expect(row?.file).toBe("app.mjs");
    expect(row?.latencyMs).toBeGreaterThan(0);
    expect(snap.missions.find((m) => m.id === "live-edit")?.met).toBe(true);
    expect(snap.reloads?.stats.byReloader.stat?.n).toBe(1);
  });

  it("shows a broken edit as a failed reload with the error", async () => {
    await session.runExperiment(2);
    const snap = await waitFor(session, (s) => last(s)?.state === "failed");
    expect(last(snap)?.error).toMatch(/SyntaxError/);
    expect(snap.missions.find((m) => m.id === "broken")?.met).toBe(true);
  });

  it("keeps the stat samples when the server restarts with the events reloader", async () => {
    const result = await session.runExperiment(3);
    expect(result?.ok).toBe(true);
    const workspace = session.snapshot().workspace ?? "";
    writeFileSync(join(workspace, "app.mjs"), GOOD.replace("the edit", "events"));
    const snap = await waitFor(
      session,
      (s) => last(s)?.state === "ready" && last(s)?.reloader === "events",
    );
    expect(snap.reloads?.stats.byReloader.stat?.n).toBe(1);
    expect(snap.reloads?.stats.byReloader.events?.n).toBe(1);
  });

  it("a burst names no worker: a development server answers from threads of one process", async () => {
    const result = await session.runExperiment(4);
    expect(result?.ok).toBe(true);
    expect(result?.summary).toMatch(/^3 requests in .*, all 200$/);
    expect(result?.values).not.toHaveProperty("workers");
  });
});
