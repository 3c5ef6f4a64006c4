import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Experiment } from "../../src/course/schema.js";
import { experimentSchema } from "../../src/course/schema.js";
import {
  type ExperimentContext,
  LAB_USER_AGENT,
  runExperiment,
  toExperimentEvent,
  unescapeBytes,
} from "../../src/lab/experiments.js";

function exp(action: Record<string, unknown>, id = "exp"): Experiment {
  return experimentSchema.parse({ key: 1, id, title: id, explain: "x", action });
}

const workspace = mkdtempSync(join(tmpdir(), "lw-exp-"));
let server: http.Server;
let ctx: ExperimentContext;
const seen: http.IncomingMessage[] = [];

beforeAll(async () => {
  // A keep-alive HTTP/1.1 server: responses end by Content-Length, never by close.
  server = http.createServer((req, res) => {
    seen.push(req);
    if (req.url === "/binary") {
      res.setHeader("Content-Type", "image/png");
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
    } else if (req.url === "/big") {
      res.setHeader("Content-Type", "text/plain");
      res.end("x".repeat(5000));
    } else if (req.url === "/dated") {
      const lm = "Mon, 01 Jan 2024 00:00:00 GMT";
      if (req.headers["if-modified-since"] === lm) {
        res.statusCode = 304;
        res.end();
      } else {
        res.setHeader("Last-Modified", lm);
        res.end("dated");
      }
    } else if (req.url === "/echo") {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => res.end(`got ${body}`));
    } else {
      res.setHeader("Content-Type", "text/html");
      res.end("<p>hello</p>");
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  ctx = {
    baseUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    workspace,
    restart: async () => {},
  };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(workspace, { recursive: true, force: true });
});

describe("request over a raw socket", () => {
  it("shows the exact bytes and finishes by Content-Length on a kept-alive connection", async () => {
    const started = performance.now();
    const r = await runExperiment(
      exp({ kind: "request", path: "/", headers: { "X-Try": "1" } }),
      ctx,
    );
    // The read timeout is 5 s: finishing well before it means Content-Length ended the read.
    expect(performance.now() - started).toBeLessThan(4000);
    expect(r.ok).toBe(true);
    expect(r.values).toMatchObject({ status: 200, bytes: 12 });
    expect(r.exchange?.request).toBe(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\nUser-Agent: ${LAB_USER_AGENT}\r\nAccept: */*\r\nX-Try: 1\r\n\r\n`,
    );
    expect(r.exchange?.response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.exchange?.response).toContain("<p>hello</p>");
    expect(r.summary).toContain("HTTP/1.1 200 OK");
    expect(seen.at(-1)?.headers["user-agent"]).toMatch(/^learn-webservers-lab\/\d/);
  });

  it("sends a body with its Content-Length", async () => {
    const r = await runExperiment(
      exp({ kind: "request", method: "POST", path: "/echo", body: "héllo" }),
      ctx,
    );
    expect(r.exchange?.request).toContain("Content-Length: 6\r\n\r\nhéllo");
    expect(r.exchange?.response).toContain("got héllo");
  });

  it("shows binary bodies as a byte count and truncates long ones", async () => {
    const bin = await runExperiment(exp({ kind: "request", path: "/binary" }), ctx);
    expect(bin.exchange?.response).toContain("<8 bytes of binary data>");
    const big = await runExperiment(exp({ kind: "request", path: "/big" }), ctx);
    expect(big.values.bytes).toBe(5000);
    expect(big.exchange?.response).toContain("(2952 more bytes not shown)");
    expect(big.exchange?.response.length).toBeLessThan(2500);
  });

  it("useLastModifiedFrom sends the Last-Modified back as If-Modified-Since", async () => {
    const r = await runExperiment(
      exp({ kind: "request", path: "/dated", useLastModifiedFrom: "/dated" }),
      ctx,
    );
    expect(r.values.status).toBe(304);
    expect(r.exchange?.request).toContain("If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT\r\n");
    expect(r.exchange?.note).toContain("Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT");
    const none = await runExperiment(
      exp({ kind: "request", path: "/", useLastModifiedFrom: "/" }),
      ctx,
    );
    expect(none.ok).toBe(false);
    expect(none.summary).toContain("without a Last-Modified header");
  });

  it("a refused connection is a result that says what to do, not a throw", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const dead = { ...ctx, port };
    for (const action of [
      { kind: "request", path: "/" },
      { kind: "raw", send: "GET / HTTP/1.0\\r\\n\\r\\n" },
      { kind: "burst", path: "/", count: 3, concurrency: 2 },
      { kind: "slow-client", path: "/", holdMs: 100 },
    ]) {
      const r = await runExperiment(exp(action, "dead"), dead);
      expect(r.ok, action.kind).toBe(false);
      expect(r.summary, action.kind).toContain("connection refused");
      expect(toExperimentEvent(r)).toMatchObject({ type: "experiment", id: "dead", ok: false });
    }
  });
});

describe("raw", () => {
  it("unescapes and counts every response on a pipelined connection", async () => {
    expect(unescapeBytes("a\\r\\nb\\x00\\\\").equals(Buffer.from("a\r\nb\0\\"))).toBe(true);
    const r = await runExperiment(
      exp({
        kind: "raw",
        send: "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /big HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n",
      }),
      ctx,
    );
    expect(r.ok).toBe(true);
    expect(r.values).toMatchObject({ status: 200, responses: 2 });
    expect(Number(r.values.bytes)).toBeGreaterThan(5000);
    expect(r.exchange?.request).toBe(
      "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(r.summary).toMatch(/^2 responses \(HTTP\/1\.1 200 OK/);
  });
});

describe("raw with the lab's address", () => {
  it("fills in 127.0.0.1:PORT with the server's real address before sending", async () => {
    const r = await runExperiment(
      exp({
        kind: "raw",
        send: "GET / HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\nConnection: close\\r\\n\\r\\n",
      }),
      ctx,
    );
    expect(r.ok).toBe(true);
    expect(r.exchange?.request).toContain(`Host: 127.0.0.1:${ctx.port}\r\n`);
    expect(seen.at(-1)?.headers.host).toBe(`127.0.0.1:${ctx.port}`);
  });
});

describe("write-file", () => {
  it("writes inside the workspace and refuses paths that leave it", async () => {
    const ok = await runExperiment(
      exp({ kind: "write-file", file: "sub/new.html", content: "<b>new</b>" }),
      ctx,
    );
    expect(ok).toMatchObject({ ok: true, values: { bytes: 10 } });
    expect(readFileSync(join(workspace, "sub", "new.html"), "utf8")).toBe("<b>new</b>");
    for (const file of ["../outside.txt", "/etc/passwd-lab", "sub/../../x"]) {
      const r = await runExperiment(exp({ kind: "write-file", file, content: "x" }), ctx);
      expect(r.ok, file).toBe(false);
      expect(r.summary).toContain("outside the lab's workspace");
    }
  });
});

describe("restart", () => {
  it("calls the session's restart with the options, and reports its failure", async () => {
    const calls: unknown[] = [];
    const r = await runExperiment(exp({ kind: "restart", options: { threading: false } }), {
      ...ctx,
      restart: async (o) => {
        calls.push(o);
      },
    });
    expect(calls).toEqual([{ threading: false }]);
    expect(r).toMatchObject({ ok: true, values: {} });
    expect(r.summary).toContain("--threading off");
    const bad = await runExperiment(exp({ kind: "restart", options: {} }), {
      ...ctx,
      restart: async () => {
        throw new Error("port taken");
      },
    });
    expect(bad.ok).toBe(false);
    expect(bad.summary).toContain("port taken");
  });
});
