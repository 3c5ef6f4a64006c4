import { describe, expect, it } from "vitest";
import type { RequestEvent } from "../../sandboxes/shared/protocol.js";
import { type Mission, missionSchema } from "../../src/course/schema.js";
import { MissionTracker, matches, originOf, valueAt } from "../../src/lab/missions.js";
import type { ExperimentEvent } from "../../src/lab/types.js";

const LAB_UA = "learn-webservers-lab/0.1.0";

function request(
  over: Partial<RequestEvent> = {},
  headers: Record<string, string> = {},
): RequestEvent {
  return {
    type: "request",
    id: 1,
    time: "2024-01-01T00:00:00Z",
    remote: "127.0.0.1",
    method: "GET",
    target: "/",
    path: "/",
    version: "HTTP/1.1",
    status: 200,
    reason: "OK",
    requestHeaders: { host: "127.0.0.1:8000", "user-agent": "curl/8.5.0", ...headers },
    responseHeaders: { "content-type": "text/html", "content-length": "120" },
    bytes: 120,
    durationMs: 1.5,
    ...over,
  };
}

function mission(id: string, when: Record<string, unknown>): Mission {
  return missionSchema.parse({ id, title: id, hint: "try it", when });
}

function experiment(over: Partial<ExperimentEvent> = {}): ExperimentEvent {
  return { type: "experiment", id: "burst", ok: true, summary: "", values: {}, ...over };
}

describe("origin", () => {
  it("tells the lab's requests from the learner's by User-Agent", () => {
    expect(originOf(request({}, { "user-agent": LAB_UA }))).toBe("lab");
    expect(originOf(request())).toBe("learner");
    expect(originOf(request({}, { "user-agent": "Mozilla/5.0 learn-webservers-lab/1" }))).toBe(
      "learner",
    );
    const noUa = request();
    delete noUa.requestHeaders["user-agent"];
    expect(originOf(noUa)).toBe("learner");
    expect(originOf(request({ requestHeaders: { "User-Agent": LAB_UA } }))).toBe("lab");
    expect(originOf(experiment())).toBe("lab");
  });

  it("from: learner ignores lab requests, from: lab ignores learner requests", () => {
    const t = new MissionTracker(
      [
        mission("mine", { event: "request", from: "learner" }),
        mission("labs", { event: "request", from: "lab" }),
        mission("anyone", { event: "request", from: "any", count: 2 }),
      ],
      [],
    );
    expect(t.push(request({}, { "user-agent": LAB_UA }))).toEqual(["labs"]);
    expect(t.push(request())).toEqual(["mine", "anyone"]);
  });
});

describe("valueAt", () => {
  it("follows dotted paths, header names ignore case", () => {
    const e = request({}, { "if-modified-since": "Mon, 01 Jan 2024 00:00:00 GMT" });
    expect(valueAt(e, "status")).toBe(200);
    expect(valueAt(e, "requestHeaders.if-modified-since")).toBe("Mon, 01 Jan 2024 00:00:00 GMT");
    expect(valueAt(e, "requestHeaders.If-Modified-Since")).toBe("Mon, 01 Jan 2024 00:00:00 GMT");
    expect(valueAt(e, "responseHeaders.etag")).toBeUndefined();
    expect(valueAt(e, "status.nothing")).toBeUndefined();
    expect(valueAt({ a: { "x.y": 3 } }, "a.x.y")).toBe(3);
  });
});

describe("matchers", () => {
  it("scalars compare numbers and strings sensibly", () => {
    expect(matches(200, 200)).toBe(true);
    expect(matches("200", 200)).toBe(true);
    expect(matches(200, "200")).toBe(true);
    expect(matches(201, 200)).toBe(false);
    expect(matches("", 0)).toBe(false);
    expect(matches(undefined, 0)).toBe(false);
    expect(matches("GET", "GET")).toBe(true);
    expect(matches("get", "GET")).toBe(false);
    expect(matches(true, true)).toBe(true);
    expect(matches("true", true)).toBe(true);
    expect(matches(false, true)).toBe(false);
  });

  it("gte and lte bound numbers, and numeric strings", () => {
    expect(matches(304, { gte: 300, lte: 399 })).toBe(true);
    expect(matches(200, { gte: 300 })).toBe(false);
    expect(matches(404, { lte: 399 })).toBe(false);
    expect(matches("1500", { gte: 1000 })).toBe(true);
    expect(matches("abc", { gte: 0 })).toBe(false);
    expect(matches(undefined, { lte: 10 })).toBe(false);
  });

  it("regex, present and oneOf", () => {
    expect(matches("/files/a.txt", { regex: "^/files/" })).toBe(true);
    expect(matches("/other", { regex: "^/files/" })).toBe(false);
    expect(matches(404, { regex: "^4" })).toBe(true);
    expect(matches(undefined, { regex: ".*" })).toBe(false);
    expect(matches("x", { regex: "([" })).toBe(false);
    expect(matches("x", { present: true })).toBe(true);
    expect(matches(undefined, { present: true })).toBe(false);
    expect(matches(undefined, { present: false })).toBe(true);
    expect(matches("x", { present: false })).toBe(false);
    expect(matches("HEAD", { oneOf: ["GET", "HEAD"] })).toBe(true);
    expect(matches("POST", { oneOf: ["GET", "HEAD"] })).toBe(false);
    expect(matches("404", { oneOf: [403, 404] })).toBe(true);
    expect(matches(301, { oneOf: [200], gte: 300 })).toBe(false);
  });
});

describe("MissionTracker", () => {
  const conditional = mission("conditional-get", {
    event: "request",
    from: "learner",
    match: { status: 304, "requestHeaders.if-modified-since": { present: true } },
  });

  it("meets a mission once every match holds, and reports it only once", () => {
    const t = new MissionTracker([conditional], []);
    expect(t.push(request({ status: 304 }))).toEqual([]);
    expect(t.push(request({ status: 200 }, { "if-modified-since": "x" }))).toEqual([]);
    expect(t.status()[0]).toMatchObject({ met: false, progress: 0, needed: 1 });
    expect(t.push(request({ status: 304 }, { "if-modified-since": "x" }))).toEqual([
      "conditional-get",
    ]);
    expect(t.push(request({ status: 304 }, { "if-modified-since": "x" }))).toEqual([]);
    expect(t.status()[0]).toMatchObject({
      id: "conditional-get",
      title: "conditional-get",
      hint: "try it",
      met: true,
      progress: 1,
      needed: 1,
    });
  });

  it("only looks at the event type the mission names", () => {
    const t = new MissionTracker(
      [mission("e", { event: "error", match: { code: "EADDRINUSE" } })],
      [],
    );
    expect(t.push(request())).toEqual([]);
    expect(t.push({ type: "error", code: "EADDRINUSE", message: "", fatal: true })).toEqual(["e"]);
  });

  it("counts matching events", () => {
    const t = new MissionTracker([mission("three", { event: "request", count: 3 })], []);
    expect(t.push(request())).toEqual([]);
    expect(t.push(request({ status: 404 }))).toEqual([]);
    expect(t.status()[0]).toMatchObject({ progress: 2, needed: 3, met: false });
    expect(t.push(request())).toEqual(["three"]);
  });

  it("counts distinct values when asked", () => {
    const t = new MissionTracker(
      [mission("paths", { event: "request", count: 3, distinct: "path" })],
      [],
    );
    t.push(request({ path: "/a" }));
    t.push(request({ path: "/a" }));
    t.push(request({ path: "/b" }));
    expect(t.status()[0]).toMatchObject({ progress: 2, met: false });
    expect(t.push(request({ path: "/b" }))).toEqual([]);
    expect(t.push(request({ path: "/c" }))).toEqual(["paths"]);
  });

  it("distinct over a missing field counts nothing", () => {
    const t = new MissionTracker(
      [mission("workers", { event: "request", count: 2, distinct: "worker" })],
      [],
    );
    t.push(request());
    t.push(request());
    expect(t.status()[0]?.progress).toBe(0);
    t.push(request({ worker: 1 }));
    expect(t.push(request({ worker: 2 }))).toEqual(["workers"]);
  });

  it("matches experiment values", () => {
    const t = new MissionTracker(
      [
        mission("blocked", {
          event: "experiment",
          from: "lab",
          match: { id: "slow", "values.blocked": true, "values.waitedMs": { gte: 1000 } },
        }),
        mission("learner-only", { event: "experiment", from: "learner" }),
      ],
      [],
    );
    expect(t.push(experiment({ id: "slow", values: { blocked: false, waitedMs: 4 } }))).toEqual([]);
    expect(t.push(experiment({ id: "slow", values: { blocked: true, waitedMs: 2980 } }))).toEqual([
      "blocked",
    ]);
    expect(t.isMet("learner-only")).toBe(false);
  });

  it("starts with the missions already met", () => {
    const t = new MissionTracker(
      [conditional, mission("three", { event: "request", count: 3 })],
      new Set(["three"]),
    );
    expect(t.status()[1]).toMatchObject({ id: "three", met: true, progress: 3, needed: 3 });
    expect(t.push(request())).toEqual([]);
    expect(t.status()[0]?.met).toBe(false);
  });

  it("an empty match meets on the event type alone", () => {
    const t = new MissionTracker([mission("up", { event: "listening" })], []);
    expect(
      t.push({
        type: "listening",
        sandbox: "static",
        flavour: "http.server",
        pid: 1,
        host: "127.0.0.1",
        port: 8000,
        url: "http://127.0.0.1:8000/",
        options: {},
      }),
    ).toEqual(["up"]);
  });
});
