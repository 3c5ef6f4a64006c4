import { afterAll, describe, expect, it } from "vitest";
import type { SandboxEvent, WebSocketEvent } from "../../sandboxes/shared/protocol.js";
import { type Experiment, experimentSchema } from "../../src/course/schema.js";
import { type ExperimentContext, runExperiment } from "../../src/lab/experiments.js";
import { acceptFor, handshakeSteps } from "../../src/lab/handshake.js";
import { originOf } from "../../src/lab/missions.js";
import { startSandbox, stopAll } from "../../src/lab/supervisor.js";
import type { ExperimentProgress } from "../../src/lab/types.js";

function exp(action: Record<string, unknown>, id = "exp"): Experiment {
  return experimentSchema.parse({ key: 1, id, title: id, explain: "x", action });
}

async function asyncCtx(flavour: "tornado" | "uvicorn") {
  const sandbox = startSandbox({ sandbox: "async", flavour, port: 0, options: {} });
  const events: SandboxEvent[] = [];
  sandbox.on("event", (e) => events.push(e));
  const { port, pid } = await sandbox.ready;
  const ctx: ExperimentContext = {
    baseUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    workspace: "",
    restart: async () => {},
  };
  return { sandbox, ctx, events, pid };
}

afterAll(async () => {
  await stopAll();
});

describe("the handshake arithmetic", () => {
  it("turns RFC 6455's sample key into its sample accept, step by step", () => {
    const math = acceptFor("dGhlIHNhbXBsZSBub25jZQ==");
    expect(math.accept).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    expect(math.sha1Hex).toBe("b37a4f2cc0624f1690f64606cf385945b2bec4ea");
    const steps = handshakeSteps(math, math.accept);
    expect(steps).toHaveLength(5);
    expect(steps[4]).toMatch(/matches step 4$/);
    expect(handshakeSteps(math, "wrong")[4]).toMatch(/does NOT match/);
    for (const line of steps) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe("WebSocket experiments on the async sandbox (tornado)", async () => {
  const { ctx, events, pid } = await asyncCtx("tornado");

  it("opens a WebSocket byte by byte and checks the server's accept", async () => {
    const result = await runExperiment(exp({ kind: "websocket", send: ["hello", "all:hi"] }), ctx);
    expect(result.ok).toBe(true);
    expect(result.values).toMatchObject({ status: 101, acceptMatches: true, received: 2 });
    expect(result.values.reply).toBe("echo hello");
    expect(result.exchange?.request).toMatch(/^GET \/ws HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    expect(result.exchange?.request).toMatch(/→ text frame "hello", masked \(11 bytes: 81 85 /);
    expect(result.exchange?.response).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(result.exchange?.response).toMatch(/← text frame "echo hello" \(12 bytes: 81 0a 65 63/);
    const key = /Sec-WebSocket-Key: (\S+)/.exec(result.exchange?.request ?? "")?.[1] ?? "";
    expect(result.exchange?.note).toContain(acceptFor(key).sha1Hex);
    expect(result.exchange?.note).toMatch(/5 Sec-WebSocket-Accept +\S+ +matches step 4/);
    const opened = events.find(
      (e): e is WebSocketEvent => e.type === "websocket" && e.phase === "open",
    );
    expect(opened?.handshake?.key).toBe(key);
    expect(opened && originOf(opened)).toBe("lab");
  });

  it("shows a cross-origin upgrade refused with Tornado's 403", async () => {
    const result = await runExperiment(
      exp({ kind: "websocket", origin: "http://evil.example" }),
      ctx,
    );
    expect(result.ok).toBe(true);
    expect(result.values).toMatchObject({ status: 403, opened: false });
    expect(result.exchange?.request).toContain("Origin: http://evil.example\r\n");
    expect(result.exchange?.response).toContain("Cross origin websockets not allowed");
    expect(result.summary).toMatch(/refused the upgrade: HTTP\/1\.1 403 Forbidden/);
  });

  it("opens 1,000 WebSockets from a load process, broadcasts to all, and closes them all", async () => {
    const progress: ExperimentProgress[] = [];
    const result = await runExperiment(exp({ kind: "ws-load", connections: 1000 }), ctx, (p) =>
      progress.push(p),
    );
    expect(result.summary).toMatch(/^1,000 of 1,000 WebSockets open in/);
    expect(result.values).toMatchObject({
      opened: 1000,
      failed: 0,
      broadcastReceived: 1000,
      leftOpen: 0,
    });
    expect(Number(result.values.kbPerConnection)).toBeGreaterThan(0);
    expect(Number(result.values.kbPerConnection)).toBeLessThan(100);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(0)?.done).toBe(0);
    expect(progress.some((p) => p.label.includes("WebSockets opened"))).toBe(true);
    const res = await fetch(`${ctx.baseUrl}/stats`);
    const stats = (await res.json()) as { connections: { websockets: number }; pid: number };
    expect(stats.pid).toBe(pid);
    expect(stats.connections.websockets).toBe(0);
  });

  it("compares long polling with a WebSocket on the same messages", async () => {
    const result = await runExperiment(exp({ kind: "poll-vs-ws", messages: 8, gapMs: 2 }), ctx);
    expect(result.ok).toBe(true);
    expect(result.values.wsReceived).toBe(8);
    expect(Number(result.values.pollReceived)).toBeGreaterThanOrEqual(1);
    expect(Number(result.values.pollReceived) + Number(result.values.pollMissed)).toBe(8);
    expect(Number(result.values.pollBytesPerMessage)).toBeGreaterThan(
      Number(result.values.wsBytesPerMessage),
    );
    expect(result.summary).toMatch(/WebSocket: 8\/8 arrived/);
  });
});

describe("WebSocket experiments on the async sandbox (uvicorn)", async () => {
  const { ctx } = await asyncCtx("uvicorn");

  it("answers the upgrade in Uvicorn's spelling", async () => {
    const result = await runExperiment(exp({ kind: "websocket" }), ctx);
    expect(result.values).toMatchObject({ status: 101, acceptMatches: true, reply: "echo hello" });
    expect(result.exchange?.response).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(result.exchange?.response).toMatch(/\r\nUpgrade: websocket\r\n/);
  });
});
