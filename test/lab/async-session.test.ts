import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, labSchema } from "../../src/course/schema.js";
import { LabSession } from "../../src/lab/session.js";
import { stopAll } from "../../src/lab/supervisor.js";
import type { LabSessionSnapshot } from "../../src/lab/types.js";
import { RawWebSocket } from "../../src/lab/ws-client.js";
import { ProgressStore } from "../../src/progress/store.js";
import { waitForSnapshot } from "./helpers.js";

const homes: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const lab: Lab = labSchema.parse({
  sandbox: "async",
  flavour: "tornado",
  intro: "One event loop.",
  experiments: [
    {
      key: 1,
      id: "block",
      title: "3 blocking requests",
      explain: "x",
      action: { kind: "burst", path: "/block?ms=300", count: 3, concurrency: 3 },
    },
    {
      key: 2,
      id: "sleep",
      title: "3 waiting requests",
      explain: "x",
      action: { kind: "burst", path: "/sleep?ms=300", count: 3, concurrency: 3 },
    },
  ],
  missions: [
    {
      id: "own-message",
      title: "Send a chat message from your browser",
      hint: "open the page",
      when: { event: "websocket", from: "learner", match: { phase: "message" } },
    },
    {
      id: "frozen",
      title: "Freeze the loop",
      hint: "press 1",
      when: { event: "loop", match: { maxMs: { gte: 250 } } },
    },
  ],
});

function waitFor(
  session: LabSession,
  test: (s: LabSessionSnapshot) => boolean,
  ms = 8_000,
): Promise<LabSessionSnapshot> {
  return waitForSnapshot(session, test, ms, (s) => `loop: ${JSON.stringify(s.loop)}`);
}

describe("a lab on the async sandbox", () => {
  let session: LabSession;

  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), "lw-async-"));
    homes.push(home);
    session = new LabSession({
      lessonId: "tornado-test",
      lab,
      progress: ProgressStore.open({ home }),
    });
    await session.start();
    await waitFor(session, (s) => s.state === "listening" && s.loop?.delay !== undefined);
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("blocking requests finish one at a time while the loop lane shows the block", async () => {
    const result = await session.runExperiment(1);
    expect(result?.ok).toBe(true);
    const s = await waitFor(
      session,
      (x) =>
        (x.loop?.lanes.find((l) => l.label === "loop")?.bars.length ?? 0) > 0 &&
        (x.loop?.lanes ?? []).flatMap((l) => l.bars).filter((b) => b.target.startsWith("/block"))
          .length === 3,
    );
    const ends = (s.loop?.lanes ?? [])
      .flatMap((l) => l.bars)
      .filter((b) => b.target.startsWith("/block"))
      .map((b) => b.end ?? 0)
      .sort((a, b) => a - b);
    // One at a time: each finished about 300 ms after the one before.
    expect((ends[1] ?? 0) - (ends[0] ?? 0)).toBeGreaterThanOrEqual(250);
    expect((ends[2] ?? 0) - (ends[1] ?? 0)).toBeGreaterThanOrEqual(250);
    const blocked = s.loop?.lanes[0]?.bars.at(-1);
    expect((blocked?.end ?? 0) - (blocked?.start ?? 0)).toBeGreaterThanOrEqual(250);
    expect(s.missions.find((m) => m.id === "frozen")?.met).toBe(true);
  });

  it("waiting requests overlap, one lane each, each about as long as its wait", async () => {
    await session.runExperiment(2);
    const sleeps = (x: LabSessionSnapshot) =>
      (x.loop?.lanes ?? []).filter((l) => l.bars.some((b) => b.target === "/sleep?ms=300"));
    const s = await waitFor(session, (x) => sleeps(x).length === 3);
    for (const lane of sleeps(s)) {
      const bar = lane.bars.find((b) => b.target === "/sleep?ms=300");
      expect((bar?.end ?? 0) - (bar?.start ?? 0)).toBeLessThan(600);
    }
  });

  it("a learner's WebSocket meets the mission; its handshake is the one shown", async () => {
    const { port } = session.snapshot();
    const ws = await RawWebSocket.connect({
      host: "127.0.0.1",
      port: port ?? 0,
      path: "/ws",
      hostHeader: `127.0.0.1:${port}`,
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
      origin: `http://127.0.0.1:${port}`,
      timeoutMs: 3000,
    });
    expect((await ws.reply(3000))?.status).toBe(101);
    ws.sendText("hello from me");
    await ws.framesUntil(1, 3000);
    await ws.close();
    const s = await waitFor(
      session,
      (x) => x.missions.find((m) => m.id === "own-message")?.met === true,
    );
    expect(s.loop?.handshake).toMatchObject({ learner: true, math: { key: ws.key } });
    expect(s.loop?.lastMessage).toMatchObject({ text: "hello from me", learner: true });
  });
});
