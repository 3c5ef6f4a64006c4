import { describe, expect, test } from "vitest";
import type { ProxyEvent, UpstreamsEvent } from "../../sandboxes/shared/protocol.js";
import { ProxyModel, pathLine, shortUpstream, upstreamsLine } from "../../src/lab/proxy.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function path(fields: Partial<ProxyEvent>): ProxyEvent {
  return {
    type: "proxy",
    id: 1,
    method: "GET",
    target: "/",
    status: 200,
    route: "proxied",
    start: T0,
    readMs: 0.4,
    attempts: [],
    sentMs: 2,
    requestBytes: 0,
    bytes: 46,
    ...fields,
  };
}

describe("the proxy's request paths", () => {
  test("a slow client's time is on the client's side; the worker's is short", () => {
    const line = pathLine(
      path({
        readMs: 3000,
        attempts: [
          {
            upstream: "http://127.0.0.1:41234",
            chosenMs: 3000,
            connectMs: 3000.2,
            firstByteMs: 3005,
            doneMs: 3006,
            outcome: "ok",
            status: 200,
          },
        ],
        upstream: "http://127.0.0.1:41234",
        worker: 4242,
        sentMs: 3006.3,
      }),
    );
    expect(line).toBe(
      "200 GET /  client 3.00 s ▸ proxy ▸ :41234 worker 4242 6.0 ms ▸ client 0.3 ms",
    );
  });

  test("a failover shows the refused upstream before the one that answered", () => {
    const line = pathLine(
      path({
        cache: "MISS",
        attempts: [
          { upstream: "http://127.0.0.1:1", chosenMs: 0.5, outcome: "refused" },
          { upstream: "http://127.0.0.1:2", chosenMs: 1, doneMs: 7, outcome: "ok", status: 200 },
        ],
        sentMs: 7.5,
      }),
    );
    expect(line).toBe(
      "200 MISS GET /  client 0.4 ms ▸ proxy ▸ :1 refused ▸ :2 6.0 ms ▸ client 0.5 ms",
    );
  });

  test("static files and cache hits never reach an upstream", () => {
    expect(pathLine(path({ route: "static", target: "/static/a.css", sentMs: 0.6 }))).toBe(
      "200 GET /static/a.css  client 0.4 ms ▸ proxy ▸ static file ▸ client 0.2 ms",
    );
    expect(pathLine(path({ route: "cache", cache: "HIT", sentMs: 0.5 }))).toBe(
      "200 HIT GET /  client 0.4 ms ▸ proxy ▸ cache ▸ client 0.1 ms",
    );
    expect(shortUpstream("http://10.0.0.5:8000")).toBe("10.0.0.5:8000");
    expect(shortUpstream("unix:/tmp/lws-proxy-AbCdEf/app-1.sock")).toBe("app-1.sock");
  });

  test("the model counts routes, keeps the last paths and the upstreams' state", () => {
    const m = new ProxyModel();
    for (let i = 1; i <= 60; i++) m.push(path({ id: i, route: i % 2 ? "static" : "proxied" }));
    const upstreams: UpstreamsEvent = {
      type: "upstreams",
      at: T0,
      clients: { open: 2, reading: 1 },
      upstreams: [
        {
          upstream: "http://127.0.0.1:1",
          state: "down",
          downUntil: T0 + 9_500,
          active: 0,
          requests: 3,
          failures: 1,
        },
        { upstream: "http://127.0.0.1:2", state: "up", active: 1, requests: 5, failures: 0 },
      ],
      cache: { entries: 1, hits: 3, misses: 2, expired: 0 },
    };
    expect(m.push(upstreams)).toBe(true);
    expect(m.push({ type: "stopping", reason: "stop" })).toBe(false);
    const view = m.view();
    expect(view.paths).toHaveLength(50);
    expect(view.paths[0]?.id).toBe(11);
    expect(view.routes).toEqual({ static: 30, proxied: 30, cache: 0, error: 0 });
    expect(upstreamsLine(view)).toBe(
      "2 clients (1 still sending) · :1 DOWN, retried in 10 s, 0 busy, 3 req · :2 up, 1 busy, 5 req · cache 3 hits, 2 misses",
    );
    expect(upstreamsLine(view, T0 + 4_000)).toContain(":1 DOWN, retried in 6 s");
    expect(upstreamsLine(view, T0 + 12_000)).toContain(":1 DOWN, retried next");
  });
});
