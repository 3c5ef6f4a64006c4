import { createElement } from "react";
import { afterEach, describe, expect, test } from "vitest";
import type { RequestEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import { acceptFor } from "../../src/lab/handshake.js";
import { BLOCKED_MS, handshakeLines, LoopModel, REQUEST_LANES } from "../../src/lab/loop.js";
import {
  bar,
  blockedFor,
  connectionsFraction,
  delayFraction,
  LoopPanel,
  sparkline,
} from "../../src/ui/components/LoopPanel.js";
import { frameOf, lines, unmountParts } from "./helpers.js";

afterEach(unmountParts);

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function request(id: number, durationMs: number, target = "/sleep?ms=1000"): RequestEvent {
  return {
    type: "request",
    id,
    time: "",
    remote: "127.0.0.1",
    method: "GET",
    target,
    path: target.split("?")[0] ?? target,
    version: "HTTP/1.1",
    status: 200,
    reason: "OK",
    requestHeaders: { "User-Agent": "learn-webservers-lab/1" },
    responseHeaders: {},
    bytes: 10,
    durationMs,
  };
}

function loop(at: number, maxMs: number): SandboxEvent {
  return { type: "loop", p50Ms: 0.05, p99Ms: Math.min(maxMs, 1), maxMs, windowMs: 250, at };
}

/** A model whose clock the test moves. */
function model(): { m: LoopModel; at: (t: number) => void } {
  let now = T0;
  const m = new LoopModel(() => now);
  return {
    m,
    at: (t) => {
      now = t;
    },
  };
}

describe("the loop model", () => {
  test("ten requests that overlap take ten lanes; ten one after another share one", () => {
    const { m, at } = model();
    at(T0 + 1000);
    for (let i = 1; i <= 10; i++) m.push(request(i, 1000));
    expect(m.view().lanes.filter((l) => l.label !== "loop")).toHaveLength(10);

    const serial = model();
    for (let i = 1; i <= 10; i++) {
      serial.at(T0 + i * 1000);
      serial.m.push(request(i, 1000, "/block?ms=1000"));
    }
    const lanes = serial.m.view().lanes.filter((l) => l.label !== "loop");
    expect(lanes).toHaveLength(1);
    expect(lanes[0]?.bars).toHaveLength(10);
  });

  test(`more than ${REQUEST_LANES} at once share the lanes that free up first`, () => {
    const { m, at } = model();
    at(T0 + 1000);
    for (let i = 1; i <= 25; i++) m.push(request(i, 900 + i));
    const lanes = m.view().lanes.filter((l) => l.label !== "loop");
    expect(lanes).toHaveLength(REQUEST_LANES);
    expect(lanes.reduce((n, l) => n + l.bars.length, 0)).toBe(25);
  });

  test("a long loop delay becomes one blocked bar on the loop lane", () => {
    const { m } = model();
    m.push(loop(T0 + 250, 0.4));
    m.push(loop(T0 + 1500, 1000));
    m.push(loop(T0 + 1750, BLOCKED_MS - 1));
    const view = m.view();
    const loopLane = view.lanes.find((l) => l.label === "loop");
    expect(loopLane?.bars).toEqual([
      { target: "blocked", start: T0 + 500, end: T0 + 1500, outcome: "blocked" },
    ]);
    expect(view.delay?.maxMs).toBe(BLOCKED_MS - 1);
    expect(view.delays.map((d) => d.maxMs)).toEqual([0.4, 1000, BLOCKED_MS - 1]);
  });

  test("keeps the peak of WebSockets, the last handshake and who sent the last message", () => {
    const { m } = model();
    const base = {
      type: "connections" as const,
      http: 0,
      accepted: 0,
      refused: 0,
      requests: 0,
      polls: 0,
    };
    m.push({ ...base, websockets: 10_000, at: T0 });
    m.push({ ...base, websockets: 3, at: T0 + 1 });
    const math = acceptFor("dGhlIHNhbXBsZSBub25jZQ==");
    m.push({
      type: "websocket",
      phase: "open",
      id: 7,
      remote: "127.0.0.1",
      origin: "http://127.0.0.1:8888",
      userAgent: "Mozilla/5.0",
      at: T0,
      handshake: math,
    });
    m.push({
      type: "websocket",
      phase: "message",
      id: 7,
      remote: "127.0.0.1",
      userAgent: "Mozilla/5.0",
      at: T0,
      message: { text: "all:hi", bytes: 6, binary: false, broadcast: true, recipients: 3 },
    });
    const view = m.view();
    expect(view.peakWebsockets).toBe(10_000);
    expect(view.connections?.websockets).toBe(3);
    expect(view.handshake).toMatchObject({ id: 7, learner: true, math });
    expect(view.lastMessage).toEqual({ id: 7, text: "all:hi", learner: true, recipients: 3 });
    expect(view.messages).toBe(1);
  });
});

describe("the loop panel", () => {
  test("gauges read on log scales: 1 ms empty, 1 s full; 10,000 connections full", () => {
    expect(delayFraction(0.4)).toBe(0);
    expect(delayFraction(1000)).toBe(1);
    expect(delayFraction(10)).toBeCloseTo(1 / 3);
    expect(connectionsFraction(0, 0)).toBe(0);
    expect(connectionsFraction(10_000, 10_000)).toBe(1);
    expect(bar(0.5, 10)).toBe("█████░░░░░");
    expect(sparkline([{ maxMs: 0.05 }, { maxMs: 1000 }], 10)).toBe("▁█");
  });

  test("the handshake's steps when there is room, one line when not", () => {
    const { m } = model();
    m.push({
      type: "websocket",
      phase: "open",
      id: 1,
      remote: "127.0.0.1",
      userAgent: "learn-webservers-lab/1",
      at: T0,
      handshake: acceptFor("dGhlIHNhbXBsZSBub25jZQ=="),
    });
    const view = m.view();
    const full = handshakeLines(view, 6);
    expect(full[0]).toBe("Handshake of WebSocket #1 (the lab):");
    expect(full[3]).toContain("b37a4f2cc0624f1690f64606cf385945b2bec4ea");
    expect(full[4]).toContain("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    expect(handshakeLines(view, 1)).toEqual([
      "Handshake of WebSocket #1 (the lab): key dGhlIHNhbXBsZSBub25jZQ== → accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ]);
  });

  test("draws gauges, the loop lane and request lanes within its lines", () => {
    const { m, at } = model();
    const now = T0 + 5000;
    at(now);
    m.push({
      type: "connections",
      http: 2,
      websockets: 1000,
      accepted: 1002,
      refused: 0,
      requests: 10,
      polls: 1,
      at: now,
    });
    m.push(loop(now - 2000, 1000));
    m.push(loop(now, 0.8));
    for (let i = 1; i <= 3; i++) m.push(request(i, 1000));
    for (const [columns, height] of [
      [80, 8],
      [100, 14],
      [60, 5],
    ] as const) {
      const frame = frameOf(
        createElement(LoopPanel, { view: m.view(), now, width: columns, height }),
        columns,
      );
      const rows = lines(frame);
      expect(rows.length).toBeLessThanOrEqual(height);
      for (const row of rows) expect(row.length).toBeLessThanOrEqual(columns);
      expect(rows[0]).toMatch(/^Connections +█+░* 1,000 WebSockets · 2 HTTP/);
      expect(rows[1]).toMatch(/^Loop delay +░+ p99 0\.8 ms · max 0\.8 ms/);
      expect(frame).toMatch(/^ *loop [ ·]*░+[ ·]*$/m);
      if (height >= 8) {
        expect(frame.match(/^ *#\d [ ·]*[█▓]+[ ·]*$/gm)).toHaveLength(3);
      } else {
        expect(frame).toMatch(/^reqs ·*3+·*$/m);
        expect(frame).not.toMatch(/^ *#\d /m);
      }
    }
  });

  test("while the server is silent its loop is shown blocked, as a bar still running", () => {
    const { m } = model();
    m.push(loop(T0, 0.5));
    const view = m.view();
    expect(blockedFor(view, T0 + 500)).toBe(0);
    expect(blockedFor(view, T0 + 2_000)).toBe(2_000);
    const frame = frameOf(
      createElement(LoopPanel, { view, now: T0 + 2_000, width: 80, height: 6 }),
      80,
    );
    expect(frame).toMatch(/^Loop delay +█+░* BLOCKED: the loop has not run for 2\.0 s/m);
    expect(frame).toMatch(/^ *loop [ ·]*░+$/m);
    const stopped = frameOf(
      createElement(LoopPanel, { view, now: T0 + 2_000, width: 80, height: 6, live: false }),
      80,
    );
    expect(stopped).not.toContain("BLOCKED");
  });
});
