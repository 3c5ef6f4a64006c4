import { afterAll, describe, expect, it } from "vitest";
import { get, header, parse, raw, sleep } from "./helpers.js";
import {
  type RunningProxy,
  removeProxyEntry,
  reply,
  startProxy,
  type TinyUpstream,
  tinyUpstream,
} from "./proxy-helpers.js";

const started: RunningProxy[] = [];
const upstreams: TinyUpstream[] = [];

async function start(args: string[], env?: Record<string, string>): Promise<RunningProxy> {
  const p = await startProxy(args, env ? { env } : {});
  started.push(p);
  return p;
}

async function upstream(name: string): Promise<TinyUpstream> {
  const u = await tinyUpstream(() => reply(`${name}\n`));
  upstreams.push(u);
  return u;
}

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await Promise.all(upstreams.map((u) => u.close()));
  removeProxyEntry();
});

const PAGE_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
const PAGE_504 =
  "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Log lines reach the test a moment after the answer: waits until one matches. */
async function logged(p: RunningProxy, pattern: RegExp | string, count = 1): Promise<void> {
  const matches = () =>
    typeof pattern === "string"
      ? p.stderr().split(pattern).length - 1
      : (p.stderr().match(new RegExp(pattern.source, "g")) ?? []).length;
  await p.waitFor(() => matches() >= count, 3000, `the log line ${pattern}`);
  expect(matches()).toBe(count);
}

describe("proxy sandbox: several upstreams", () => {
  it("takes turns, takes out one that refuses, and tries it again after fail_timeout", async () => {
    const a = await upstream("A");
    const b = await upstream("B");
    const p = await start(["--upstream", a.url, "--upstream", b.url, "--fail-timeout", "1"]);
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await get(p.port, `/rr${i}`)).body.toString().trim());
    expect(bodies).toEqual(["A", "B", "A", "B", "A", "B"]);

    await b.close();
    // The request that finds B gone goes on to A: the client never sees the failure.
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await get(p.port, `/after${i}`);
      expect(r.status).toBe(200);
      answers.push(r.body.toString().trim());
    }
    expect(answers).toEqual(["A", "A", "A", "A"]);
    // max_fails 1: after one refusal B is out, so only one request found it refusing.
    await logged(
      p,
      new RegExp(
        `\\[error\\] \\d+#\\d+: \\*\\d+ connect\\(\\) failed \\(111: Connection refused\\) while connecting to upstream, client: 127\\.0\\.0\\.1, server: localhost, request: "GET /after\\d HTTP/1\\.1", upstream: "${escapeRegex(b.url)}/after\\d", host: "x"\\n`,
      ),
    );
    await p.waitFor(() => p.proxyEvents().length >= 10);
    const failover = p.proxyEvents().find((e) => e.attempts.length === 2);
    expect(failover?.attempts.map((t) => [t.upstream, t.outcome])).toEqual([
      [b.url, "refused"],
      [a.url, "ok"],
    ]);
    expect(failover?.upstream).toBe(a.url);
    await p.waitFor(
      () => p.lastUpstreams()?.upstreams.find((u) => u.upstream === b.url)?.state === "down",
      2000,
      "B shown down",
    );
    const down = p.lastUpstreams()?.upstreams.find((u) => u.upstream === b.url);
    expect(down?.downUntil).toBeGreaterThan(Date.now() - 1000);
    expect(down?.failures).toBe(1);

    // After fail_timeout one request tries B again (and A answers it once more).
    await sleep(1200);
    expect((await get(p.port, "/later")).body.toString().trim()).toBe("A");
    await logged(p, "connect() failed", 2);
    expect(p.invalid).toEqual([]);
  });

  it("answers 502 Bad Gateway when none answers, and says there are no live upstreams", async () => {
    const a = await upstream("A");
    const b = await upstream("B");
    const p = await start(["--upstream", `${a.url},${b.url}`]);
    await a.close();
    await b.close();
    const first = await get(p.port, "/gone", "User-Agent: curl/8.0\r\n");
    expect(first.statusLine).toBe("HTTP/1.1 502 Bad Gateway");
    expect(first.headers.map(([k]) => k)).toEqual([
      "Server",
      "Date",
      "Content-Type",
      "Content-Length",
      "Connection",
    ]);
    expect(header(first, "Server")).toBe("nginx/1.22.1");
    expect(header(first, "Content-Length")).toBe("157");
    expect(header(first, "Connection")).toBe("keep-alive");
    expect(first.body.toString()).toBe(PAGE_502);
    await logged(p, "(111: Connection refused)", 2);
    // Both are out now: the next request tries none.
    const second = await get(p.port, "/still-gone");
    expect(second.status).toBe(502);
    await logged(
      p,
      /\[error\] \d+#\d+: \*\d+ no live upstreams while connecting to upstream, client: 127\.0\.0\.1, server: localhost, request: "GET \/still-gone HTTP\/1\.1", upstream: "http:\/\/app_server\/still-gone", host: "x"\n/,
    );
    await p.waitFor(() => /"GET \/gone HTTP\/1\.1" 502 157 "-" "curl\/8\.0"/.test(p.stdout()));
    await p.waitFor(() => p.proxyEvents().some((e) => e.target === "/still-gone"));
    expect(p.proxyEvents().find((e) => e.target === "/still-gone")).toMatchObject({
      route: "error",
      status: 502,
      attempts: [],
    });
  });

  it("never takes out a single upstream: each request tries it again", async () => {
    const a = await upstream("A");
    const p = await start(["--upstream", a.url]);
    await a.close();
    expect((await get(p.port, "/1")).status).toBe(502);
    expect((await get(p.port, "/2")).status).toBe(502);
    await logged(p, "connect() failed (111: Connection refused)", 2);
    expect(p.stderr()).not.toContain("no live upstreams");
  });

  it("answers 504 Gateway Time-out when the upstream stays silent past --read-timeout", async () => {
    const silent = await tinyUpstream(() => undefined);
    upstreams.push(silent);
    const p = await start(["--upstream", silent.url, "--read-timeout", "1"]);
    const t0 = performance.now();
    const r = await get(p.port, "/slow");
    const ms = performance.now() - t0;
    expect(r.statusLine).toBe("HTTP/1.1 504 Gateway Time-out");
    expect(r.body.toString()).toBe(PAGE_504);
    expect(header(r, "Content-Length")).toBe("167");
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(3500);
    await logged(
      p,
      new RegExp(
        `\\*\\d+ upstream timed out \\(110: Connection timed out\\) while reading response header from upstream, client: 127\\.0\\.0\\.1, server: localhost, request: "GET /slow HTTP/1\\.1", upstream: "${escapeRegex(silent.url)}/slow", host: "x"\\n`,
      ),
    );
    await p.waitFor(() => p.proxyEvents().length > 0);
    expect(p.proxyEvents()[0]?.attempts[0]?.outcome).toBe("timeout");
  });

  it("tries the next upstream after a timeout, but never sends a POST twice", async () => {
    const silent = await tinyUpstream(() => undefined);
    const a = await upstream("A");
    upstreams.push(silent);
    const p = await start([
      "--upstream",
      silent.url,
      "--upstream",
      a.url,
      "--read-timeout",
      "1",
      "--max-fails",
      "0",
    ]);
    const got = await get(p.port, "/idempotent");
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe("A\n");
    // The POST reaches the silent one first (round-robin comes back to it) and stops there.
    const post = parse(
      (
        await raw(p.port, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz", {
          timeoutMs: 6000,
        })
      ).bytes,
    );
    expect(post.status).toBe(504);
    expect(a.received.filter((t) => t.startsWith("POST"))).toHaveLength(0);
  });

  it("passes on what came of an answer cut short by a reset, then closes", async () => {
    const cut = await tinyUpstream((_request, socket) => {
      socket.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nabc");
      setTimeout(() => socket.resetAndDestroy(), 50);
      return undefined;
    });
    upstreams.push(cut);
    const p = await start(["--upstream", cut.url]);
    const r = await raw(p.port, "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n", {
      end: false,
      timeoutMs: 5000,
    });
    const parsed = parse(r.bytes);
    expect(parsed.statusLine).toBe("HTTP/1.1 200 OK");
    expect(header(parsed, "Content-Length")).toBe("100");
    expect(parsed.body.toString()).toBe("abc");
    expect(r.error === undefined || r.error === "ECONNRESET").toBe(true);
    await logged(
      p,
      /\*\d+ readv\(\) failed \(104: Connection reset by peer\) while reading upstream, client: 127\.0\.0\.1/,
    );
    // An answer with no head at all is a 502.
    const empty = await tinyUpstream((_request, socket) => {
      socket.destroy();
      return undefined;
    });
    upstreams.push(empty);
    const q = await start(["--upstream", empty.url]);
    const nothing = await get(q.port, "/nothing");
    expect(nothing.status).toBe(502);
    await logged(
      q,
      /(upstream prematurely closed connection|recv\(\) failed \(104: Connection reset by peer\)) while reading response header from upstream/,
    );
    // A status line that is not HTTP is a 502 too.
    const junk = await tinyUpstream(() => "garbage\r\n\r\n");
    upstreams.push(junk);
    const j = await start(["--upstream", junk.url]);
    expect((await get(j.port, "/junk")).status).toBe(502);
    await logged(
      j,
      "upstream sent no valid HTTP/1.0 header while reading response header from upstream",
    );
    expect((await get(p.port, "/cut")).statusLine).toBe("HTTP/1.1 200 OK");
  });

  it("does the same over net.Socket where Node's TCP handles are not at hand", async () => {
    const a = await upstream("A");
    const b = await upstream("B");
    const silent = await tinyUpstream(() => undefined);
    upstreams.push(silent);
    const env = { LEARN_WEBSERVERS_PROXY_NET_SOCKET: "1" };
    const p = await start(["--upstream", `${a.url},${b.url}`], env);
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await get(p.port, `/s${i}`)).body.toString().trim());
    expect(bodies).toEqual(["A", "B", "A", "B"]);
    await b.close();
    for (let i = 0; i < 3; i++) expect((await get(p.port, `/t${i}`)).body.toString()).toBe("A\n");
    await logged(p, "connect() failed (111: Connection refused) while connecting to upstream");
    const q = await start(["--upstream", silent.url, "--read-timeout", "1"], env);
    expect((await get(q.port, "/wait")).status).toBe(504);
    await logged(q, "upstream timed out (110: Connection timed out) while reading response header");
  });
});
