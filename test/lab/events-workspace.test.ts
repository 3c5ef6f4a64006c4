import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { invalidMessageCount, parseEnvelope } from "../../src/lab/events.js";
import { prepareWorkspace, resetWorkspace } from "../../src/lab/workspace.js";

describe("parseEnvelope", () => {
  const listening = {
    type: "listening",
    sandbox: "static",
    flavour: "http.server",
    pid: 42,
    host: "127.0.0.1",
    port: 8000,
    url: "http://127.0.0.1:8000/",
    options: { threading: true },
  };

  it("accepts every event type in a v1 envelope", () => {
    expect(parseEnvelope({ v: 1, msg: listening })).toEqual(listening);
    expect(parseEnvelope({ v: 1, msg: { type: "stopping", reason: "SIGINT" } })?.type).toBe(
      "stopping",
    );
    expect(
      parseEnvelope({
        v: 1,
        msg: { type: "error", code: "EADDRINUSE", message: "m", fatal: true },
      }),
    ).toMatchObject({ code: "EADDRINUSE" });
    const req = {
      type: "request",
      id: 1,
      time: "t",
      remote: "127.0.0.1",
      method: "GET",
      target: "/?a",
      path: "/",
      version: "HTTP/1.1",
      status: 200,
      reason: "OK",
      requestHeaders: {},
      responseHeaders: {},
      bytes: 0,
      durationMs: 0.2,
    };
    expect(parseEnvelope({ v: 1, msg: req })).toEqual(req);
  });

  it("rejects and counts anything else", () => {
    const before = invalidMessageCount();
    expect(parseEnvelope(null)).toBeUndefined();
    expect(parseEnvelope({ v: 2, msg: listening })).toBeUndefined();
    expect(parseEnvelope({ v: 1, msg: { ...listening, port: "8000" } })).toBeUndefined();
    expect(parseEnvelope({ v: 1, msg: { type: "worker", pid: 3 } })).toBeUndefined();
    expect(parseEnvelope(listening)).toBeUndefined();
    expect(invalidMessageCount()).toBe(before + 5);
  });
});

describe("workspace", () => {
  const root = mkdtempSync(join(tmpdir(), "lw-workspace-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const template = join(root, "template");
  mkdirSync(join(template, "sub"), { recursive: true });
  writeFileSync(join(template, "index.html"), "<h1>hi</h1>");
  writeFileSync(join(template, "sub", "a.txt"), "a");
  const spaces = join(root, "workspaces");

  it("copies the template once and never overwrites the learner's edits", () => {
    const dir = prepareWorkspace("http-server", template, spaces);
    expect(dir).toBe(join(spaces, "http-server"));
    expect(readFileSync(join(dir, "sub", "a.txt"), "utf8")).toBe("a");
    writeFileSync(join(dir, "index.html"), "mine");
    expect(prepareWorkspace("http-server", template, spaces)).toBe(dir);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toBe("mine");
  });

  it("reset copies the template again", () => {
    const dir = join(spaces, "http-server");
    writeFileSync(join(dir, "extra.txt"), "x");
    expect(resetWorkspace("http-server", template, spaces)).toBe(dir);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toBe("<h1>hi</h1>");
    expect(existsSync(join(dir, "extra.txt"))).toBe(false);
  });

  it("makes an empty workspace without a template, refuses odd ids and missing templates", () => {
    const dir = prepareWorkspace("no-template", undefined, spaces);
    expect(existsSync(dir)).toBe(true);
    expect(() => prepareWorkspace("../escape", template, spaces)).toThrow();
    expect(() => prepareWorkspace("other", join(root, "missing"), spaces)).toThrow(/missing/);
    expect(existsSync(join(spaces, "other"))).toBe(false);
  });
});
