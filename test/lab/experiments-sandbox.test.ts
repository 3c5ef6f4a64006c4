import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestEvent } from "../../sandboxes/shared/protocol.js";
import { type Experiment, experimentSchema } from "../../src/course/schema.js";
import { type ExperimentContext, runExperiment } from "../../src/lab/experiments.js";
import { originOf } from "../../src/lab/missions.js";
import { type SandboxProcess, startSandbox, stopAll } from "../../src/lab/supervisor.js";
import type { ExperimentProgress } from "../../src/lab/types.js";

function exp(action: Record<string, unknown>, id = "exp"): Experiment {
  return experimentSchema.parse({ key: 1, id, title: id, explain: "x", action });
}

const dir = mkdtempSync(join(tmpdir(), "lw-exp-sandbox-"));
writeFileSync(join(dir, "index.html"), "<h1>Demo</h1>\n");
writeFileSync(join(dir, "pixel.bin"), Buffer.from([0, 1, 2, 3, 255, 254]));

async function sandboxCtx(threading: boolean) {
  const sandbox = startSandbox({
    sandbox: "static",
    port: 0,
    directory: dir,
    options: { threading },
  });
  const requests: RequestEvent[] = [];
  sandbox.on("event", (e) => {
    if (e.type === "request") requests.push(e);
  });
  const { port } = await sandbox.ready;
  const ctx: ExperimentContext = {
    baseUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    workspace: dir,
    restart: async () => {},
  };
  return { sandbox, ctx, requests };
}

let threaded: { sandbox: SandboxProcess; ctx: ExperimentContext; requests: RequestEvent[] };
let single: { sandbox: SandboxProcess; ctx: ExperimentContext; requests: RequestEvent[] };

beforeAll(async () => {
  [threaded, single] = await Promise.all([sandboxCtx(true), sandboxCtx(false)]);
});

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("experiments against the static sandbox", () => {
  it("request: the inspector shows the real status line, and the sandbox sees the lab", async () => {
    const r = await runExperiment(exp({ kind: "request", path: "/index.html" }), threaded.ctx);
    expect(r.ok).toBe(true);
    expect(r.values).toMatchObject({ status: 200, bytes: 14 });
    expect(r.exchange?.response).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(r.exchange?.response).toContain("Server: SimpleHTTP/");
    expect(r.exchange?.response).toContain("<h1>Demo</h1>");
    await new Promise((res) => setTimeout(res, 50));
    const seen = threaded.requests.at(-1);
    expect(seen?.path).toBe("/index.html");
    expect(seen && originOf(seen)).toBe("lab");
  });

  it("request with useLastModifiedFrom gets a 304", async () => {
    const r = await runExperiment(
      exp({ kind: "request", path: "/index.html", useLastModifiedFrom: "/index.html" }),
      threaded.ctx,
    );
    expect(r.values.status).toBe(304);
    expect(r.exchange?.response).toMatch(/^HTTP\/1\.0 304 Not Modified\r\n/);
    expect(r.exchange?.request).toMatch(/If-Modified-Since: \w{3}, \d{2} \w{3} \d{4}/);
  });

  it("request of a binary file shows a byte count", async () => {
    const r = await runExperiment(exp({ kind: "request", path: "/pixel.bin" }), threaded.ctx);
    expect(r.exchange?.response).toContain("<6 bytes of binary data>");
  });

  it("raw: a good request, an unknown method, and an HTTP/0.9-style answer", async () => {
    const good = await runExperiment(
      exp({ kind: "raw", send: "GET / HTTP/1.0\\r\\n\\r\\n" }),
      threaded.ctx,
    );
    expect(good.values).toMatchObject({ status: 200, responses: 1 });
    expect(good.exchange?.response).toMatch(/^HTTP\/1\.0 200 OK/);
    const brew = await runExperiment(
      exp({ kind: "raw", send: "BREW / HTTP/1.0\\r\\n\\r\\n" }),
      threaded.ctx,
    );
    expect(brew.values).toMatchObject({ status: 501, responses: 1 });
    const bad = await runExperiment(exp({ kind: "raw", send: "HELLO\\r\\n\\r\\n" }), threaded.ctx);
    expect(bad.ok).toBe(true);
    expect(bad.values.responses).toBe(0);
    expect(bad.values.status).toBeUndefined();
    expect(bad.summary).toMatch(/bytes that are not an HTTP response; then the server closed/);
    expect(bad.exchange?.response).toContain("Bad request syntax ('HELLO')");
  });

  it("burst: every request answered, progress reported", async () => {
    const progress: ExperimentProgress[] = [];
    const r = await runExperiment(
      exp({ kind: "burst", path: "/index.html", count: 60, concurrency: 8 }),
      threaded.ctx,
      (p) => progress.push(p),
    );
    expect(r.ok).toBe(true);
    expect(r.values).toMatchObject({ requests: 60, ok: 60, failed: 0 });
    expect(Number(r.values.rps)).toBeGreaterThan(0);
    expect(r.summary).toMatch(/^60 requests in \d+\.\d\d s \(\d+(\.\d)? req\/s\), all 200$/);
    expect(progress.at(-1)).toMatchObject({ done: 60, total: 60 });
    expect(progress.length).toBeGreaterThanOrEqual(60);
  });

  it("slow-client: a single-threaded server makes the second client wait, a threaded one does not", async () => {
    const holdMs = 1000;
    const [blocked, free] = await Promise.all([
      runExperiment(exp({ kind: "slow-client", path: "/index.html", holdMs }), single.ctx),
      runExperiment(exp({ kind: "slow-client", path: "/index.html", holdMs }), threaded.ctx),
    ]);
    expect(blocked.ok).toBe(true);
    expect(blocked.values.blocked).toBe(true);
    expect(Number(blocked.values.waitedMs)).toBeGreaterThanOrEqual(holdMs - 150 - 100);
    expect(blocked.summary).toMatch(/^second request waited \d\.\d\d s behind the slow client$/);
    expect(free.ok).toBe(true);
    expect(free.values.blocked).toBe(false);
    expect(Number(free.values.waitedMs)).toBeLessThan(Number(blocked.values.waitedMs) / 3);
    expect(free.summary).toMatch(/^answered in \d+ ms while the slow client was still sending$/);
    expect(free.values.status).toBe(200);
  });

  it("write-file: the sandbox serves what was written", async () => {
    const w = await runExperiment(
      exp({ kind: "write-file", file: "notes/new.txt", content: "fresh\n" }),
      single.ctx,
    );
    expect(w).toMatchObject({ ok: true, values: { bytes: 6 } });
    const r = await runExperiment(exp({ kind: "request", path: "/notes/new.txt" }), single.ctx);
    expect(r.values.status).toBe(200);
    expect(r.exchange?.response).toContain("fresh");
  });
});
