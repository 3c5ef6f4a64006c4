import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { WorkerEvent } from "../../sandboxes/shared/protocol.js";
import { get, header, type Parsed, parse, portFreeWithin, raw, sleep } from "./helpers.js";
import { alive, type Prefork, pidOf, removePreforkEntry, startPrefork } from "./prefork-helpers.js";

const started: Prefork[] = [];
async function start(args: string[], options?: Parameters<typeof startPrefork>[1]) {
  const p = await startPrefork(args, options);
  started.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  removePreforkEntry();
});

const lineCount = (text: string, needle: string) => text.split(needle).length - 1;

async function allGone(pids: number[], ms = 1500): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((pid) => !alive(pid))) return true;
    await sleep(20);
  }
  return false;
}

describe("prefork sandbox, gunicorn flavour: serving", () => {
  let p: Prefork;

  it("boots 3 workers with gunicorn's lines and answers from several of them", async () => {
    p = await start(["--workers", "3", "--timeout", "2", "--access-log"]);
    const err = p.stderr();
    expect(err).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] Starting gunicorn 20\.1\.0\n/,
    );
    expect(err).toContain(`[INFO] Listening at: http://127.0.0.1:${p.port} (${p.pid})`);
    expect(err).toContain(`[${p.pid}] [INFO] Using worker: sync`);
    expect(lineCount(err, "[INFO] Booting worker with pid: ")).toBe(3);
    for (const pid of p.liveWorkers())
      expect(err).toContain(`[${pid}] [INFO] Booting worker with pid: ${pid}`);
    // app.py prints a line on stdout when it is imported: here once in each worker.
    await p.waitFor(() => lineCount(p.stdout(), "[app.py imported in pid ") === 3);
    for (const pid of p.liveWorkers())
      expect(p.stdout()).toContain(`[app.py imported in pid ${pid}: 'Hello from a WSGI app!']\n`);
    expect(p.stdout()).not.toContain(`imported in pid ${p.pid}:`);

    const pids: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await get(p.port, "/");
      expect(r.status).toBe(200);
      pids.push(pidOf(r.body));
    }
    expect(new Set(pids).size).toBeGreaterThanOrEqual(2);
    const roundRobin = pids.every((pid, i) => i < 3 || pid === pids[i - 3]);
    expect(roundRobin && new Set(pids).size === 3).toBe(false);
    expect(pids.every((pid) => p.liveWorkers().includes(pid))).toBe(true);
    expect(pids).not.toContain(p.pid);
  });

  it("answers like a gunicorn sync worker: headers, access log on stdout", async () => {
    const r = await get(p.port, "/", "User-Agent: curl/7.88.1\r\n");
    expect(r.statusLine).toBe("HTTP/1.1 200 OK");
    expect(r.headers.map(([k]) => k)).toEqual([
      "Server",
      "Date",
      "Connection",
      "Content-Type",
      "Content-Length",
    ]);
    expect(header(r, "Server")).toBe("gunicorn");
    expect(header(r, "Connection")).toBe("close");
    expect(r.body.toString()).toMatch(/^.+\npid=\d+\n$/);
    await p.waitFor(() => /"GET \/ HTTP\/1\.1" 200 \d+ "-" "curl\/7\.88\.1"\n/.test(p.stdout()));
    expect(p.stdout()).toMatch(
      /^(\[app\.py imported in pid \d+: '.*'\]\n){3}127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/ HTTP\/1\.1" 200 \d+ "-" "-"\n/,
    );
  });

  it("shows the environ with PEP 3333's keys and gunicorn's own", async () => {
    const r = await get(p.port, "/environ?a=1&b=%20", "X-Test: yes\r\n");
    const text = r.body.toString();
    for (const key of [
      "REQUEST_METHOD = 'GET'",
      "SCRIPT_NAME = ''",
      "PATH_INFO = '/environ'",
      "QUERY_STRING = 'a=1&b=%20'",
      // Gunicorn names the address it listens on, whatever the Host header says.
      "SERVER_NAME = '127.0.0.1'",
      `SERVER_PORT = '${p.port}'`,
      "SERVER_PROTOCOL = 'HTTP/1.1'",
      "HTTP_X_TEST = 'yes'",
      "RAW_URI = '/environ?a=1&b=%20'",
      "REMOTE_ADDR = '127.0.0.1'",
      "SERVER_SOFTWARE = 'gunicorn/20.1.0'",
      "wsgi.version = (1, 0)",
      "wsgi.url_scheme = 'http'",
      "wsgi.multithread = False",
      "wsgi.multiprocess = True",
      "wsgi.run_once = False",
      "wsgi.input_terminated = True",
    ]) {
      expect(text).toContain(`${key}\n`);
    }
    for (const key of [
      "REMOTE_PORT",
      "gunicorn.socket",
      "wsgi.input",
      "wsgi.errors",
      "wsgi.file_wrapper",
    ]) {
      expect(text).toMatch(new RegExp(`^${key.replace(".", "\\.")} = `, "m"));
    }
    const keys = text
      .trim()
      .split("\n")
      .map((l) => l.slice(0, l.indexOf(" = ")));
    expect(keys).toEqual([...keys].sort());
    const post = await raw(
      p.port,
      "POST /environ HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    );
    expect(post.bytes.toString()).toContain("CONTENT_LENGTH = '5'\nCONTENT_TYPE = 'text/plain'\n");
  });

  it("queues like sync workers: 6 requests of 600 ms on 3 workers take about 1.2 s", async () => {
    const t0 = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 6 }, () =>
        raw(p.port, "GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 6000 }),
      ),
    );
    const ms = performance.now() - t0;
    expect(replies.every((r) => r.bytes.toString().startsWith("HTTP/1.1 200 OK"))).toBe(true);
    const byPid = new Map<number, number>();
    for (const r of replies) byPid.set(pidOf(r.bytes), (byPid.get(pidOf(r.bytes)) ?? 0) + 1);
    expect([...byPid.values()].every((n) => n <= 2)).toBe(true);
    expect(ms).toBeGreaterThan(1150);
    expect(ms).toBeLessThan(1750);
  });

  it("a slow client holds one worker only: the others answer at once", async () => {
    const slow = connect(p.port, "127.0.0.1");
    slow.on("error", () => {});
    const reply: Buffer[] = [];
    slow.on("data", (d: Buffer) => reply.push(d));
    const closed = new Promise((resolve) => slow.once("close", resolve));
    await new Promise((resolve) => slow.once("connect", resolve));
    slow.write("GET / HTTP/1.1\r\nHo");
    await sleep(150);
    const pids: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await raw(p.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 2000 });
      expect(r.bytes.toString()).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(r.ms).toBeLessThan(500);
      pids.push(pidOf(r.bytes));
    }
    slow.end("st: x\r\n\r\n");
    await closed;
    const held = pidOf(Buffer.concat(reply));
    expect(held).toBeGreaterThan(0);
    expect(pids).not.toContain(held);
  });

  it("a request in the backlog goes to the first worker that frees", async () => {
    const busyNow = () =>
      p.events.filter((e): e is WorkerEvent => e.type === "worker" && e.state === "busy").length;
    const before = busyNow();
    const t0 = performance.now();
    const long = raw(p.port, "GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 5000 });
    await p.waitFor(() => busyNow() >= before + 1, 3000, "the long request to start");
    const short = raw(p.port, "GET /slow?ms=900 HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 5000 });
    await p.waitFor(() => busyNow() >= before + 2, 3000, "the short request to start");
    const third = raw(p.port, "GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 5000 });
    await p.waitFor(() => busyNow() >= before + 3, 3000, "the third worker to take one");
    // Every worker is busy now: the next request waits in the kernel's backlog.
    const waiting = raw(p.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 5000 });
    const [l, s, t, w] = await Promise.all([long, short, third, waiting]);
    expect(pidOf(w.bytes)).toBe(pidOf(t.bytes));
    expect(new Set([l, s, t].map((r) => pidOf(r.bytes))).size).toBe(3);
    expect(w.ms).toBeLessThan(800);
    expect(performance.now() - t0).toBeGreaterThan(1400);
  });

  it("survives junk: garbage, huge headers, bad queries, a slow client", async () => {
    const before = p.liveWorkers().sort();
    const garbage = await raw(p.port, Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]));
    expect(garbage.bytes.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const huge = await raw(p.port, `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(70000)}\r\n\r\n`);
    expect(huge.bytes.toString()).toContain(
      "\n    Error parsing headers: &#x27;limit request headers fields size&#x27;\n",
    );
    for (const target of [
      "/slow?ms=abc",
      "/slow?ms=-5",
      "/cpu?ms=%zz",
      "/environ?%%%=&&",
      "/nope",
      "/cpu?ms=1e-3&ms=2",
      "/slow?ms=NaN",
    ]) {
      const r = await raw(p.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 3000 });
      expect(r.bytes.length).toBeGreaterThan(0);
    }
    const slow = connect(p.port, "127.0.0.1");
    slow.on("error", () => {});
    slow.write("GET / HTTP/1.1\r\nHo");
    await sleep(100);
    const ok = await get(p.port, "/");
    expect(ok.status).toBe(200);
    slow.destroy();
    expect(p.liveWorkers().sort()).toEqual(before);
    expect(p.stderr()).not.toContain("Worker exiting");
  });

  it("answers as app.py does on gunicorn 20.1: headers, bodies, HTTP/1.0, HEAD", async () => {
    const expectText = (r: Parsed, statusLine: string, body: RegExp) => {
      expect(r.statusLine).toBe(statusLine);
      expect(r.headers.map(([k]) => k)).toEqual([
        "Server",
        "Date",
        "Connection",
        "Content-Type",
        "Content-Length",
      ]);
      expect(header(r, "Content-Type")).toBe("text/plain; charset=utf-8");
      expect(header(r, "Content-Length")).toBe(String(r.body.length));
      expect(r.body.toString()).toMatch(body);
    };
    expectText(await get(p.port, "/"), "HTTP/1.1 200 OK", /^Hello from a WSGI app!\npid=\d+\n$/);
    expectText(await get(p.port, "/slow?ms=3"), "HTTP/1.1 200 OK", /^slept 3 ms pid=\d+\n$/);
    expectText(await get(p.port, "/slow?ms=-5"), "HTTP/1.1 200 OK", /^slept 0 ms pid=\d+\n$/);
    expectText(await get(p.port, "/cpu?ms=5"), "HTTP/1.1 200 OK", /^burned 5 ms of CPU pid=\d+\n$/);
    expectText(await get(p.port, "/nope"), "HTTP/1.1 404 Not Found", /^no route \/nope\n$/);
    for (const target of ["/cache/set?greeting=hi", "/cache/get?k=greeting"]) {
      expectText(
        await get(p.port, target),
        "HTTP/1.1 501 Not Implemented",
        /^needs uWSGI with --cache2\n$/,
      );
    }
    // Gunicorn answers in the request's version, and sends the app's body even to a HEAD.
    const old = parse((await raw(p.port, "GET / HTTP/1.0\r\n\r\n")).bytes);
    expectText(old, "HTTP/1.0 200 OK", /^Hello from a WSGI app!\npid=\d+\n$/);
    await p.waitFor(() => /"GET \/ HTTP\/1\.0" 200 \d+ "-" "-"\n/.test(p.stdout()));
    const headReply = parse((await raw(p.port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")).bytes);
    expectText(headReply, "HTTP/1.1 200 OK", /^Hello from a WSGI app!\npid=\d+\n$/);
  });

  it("refuses junk with gunicorn's own 400 page, as the real one words it", async () => {
    const page = (message: string) => {
      const body = `<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n  <body>\n    <h1><p>Bad Request</p></h1>\n    ${message}\n  </body>\n</html>\n`;
      return `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    };
    const cases: [string, string][] = [
      // limit_request_line is 4094; the line is judged on the first 8192 bytes read.
      [
        `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        "Request Line is too large (8192 &gt; 4094)",
      ],
      [`GET /${"a".repeat(5000)} HTTP/1.1\r\n\r\n`, "Request Line is too large (5014 &gt; 4094)"],
      [
        "garbage\r\n\r\n",
        "Invalid Request Line &#x27;Invalid HTTP request line: &#x27;garbage&#x27;&#x27;",
      ],
      [
        "GET /\r\n\r\n",
        "Invalid Request Line &#x27;Invalid HTTP request line: &#x27;GET /&#x27;&#x27;",
      ],
      [
        "GET / HTTP/1.x\r\n\r\n",
        "Invalid HTTP Version &#x27;Invalid HTTP Version: &#x27;HTTP/1.x&#x27;&#x27;",
      ],
      ["GET / HTTP/1.1\r\nBad Header\r\n\r\n", "Invalid HTTP Header: &#x27;Bad Header&#x27;"],
      ["GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "Invalid HTTP header name: &#x27;BAD NAME&#x27;"],
      [
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "Invalid HTTP Header: &#x27;CONTENT-LENGTH&#x27;",
      ],
    ];
    for (const [request, message] of cases) {
      expect((await raw(p.port, request)).bytes.toString("latin1")).toBe(page(message));
    }
    // Only the bad Content-Length came far enough for an access-log line, as in gunicorn.
    await p.waitFor(() => /"GET \/ HTTP\/1\.1" 400 0 "-" "-"\n/.test(p.stdout()));
    expect(p.stdout().match(/" 400 0 /g)).toHaveLength(1);
    // An HTTP/0.9 line is refused as soon as it ends, without waiting for headers.
    const early = await raw(p.port, "GET /\r\n", { end: false, timeoutMs: 2000 });
    expect(early.error).toBeUndefined();
    expect(early.bytes.toString("latin1")).toBe(
      page("Invalid Request Line &#x27;Invalid HTTP request line: &#x27;GET /&#x27;&#x27;"),
    );
    // Lower-case methods and other HTTP versions are served, as gunicorn serves them.
    const lower = parse((await raw(p.port, "get / HTTP/2.0\r\n\r\n")).bytes);
    expect(lower.statusLine).toBe("HTTP/2.0 200 OK");
  });

  it("sends events the lab accepts: listening, worker states, requests", async () => {
    expect(p.invalid).toEqual([]);
    const listening = p.events.find((e) => e.type === "listening");
    expect(listening).toMatchObject({
      sandbox: "prefork",
      flavour: "gunicorn",
      pid: p.pid,
      port: p.port,
    });
    expect(listening?.type === "listening" && listening.options).toMatchObject({
      workers: 3,
      timeout: 2,
    });
    const workers = p.events.filter((e): e is WorkerEvent => e.type === "worker");
    const states = new Set(workers.map((e) => e.state));
    expect([...states].sort()).toEqual(["booting", "busy", "idle"]);
    const busy = workers.find((e) => e.state === "busy");
    expect(busy?.request).toMatchObject({ method: "GET" });
    const requests = p.events.filter((e) => e.type === "request");
    expect(requests.length).toBeGreaterThan(30);
    expect(
      requests.every((r) => r.type === "request" && p.allWorkers().includes(r.worker ?? 0)),
    ).toBe(true);
  });

  it("stops on SIGINT: every worker gone, the port free", async () => {
    const workers = p.liveWorkers();
    p.child.kill("SIGINT");
    const { code } = await p.exited;
    expect(code).toBe(0);
    expect(p.stderr()).toContain("[INFO] Handling signal: int");
    expect(p.stderr()).toMatch(/\[INFO\] Shutting down: Master\n$/);
    expect(await allGone(workers)).toBe(true);
    expect(await portFreeWithin(p.port)).toBe(true);
  });
});

describe("prefork sandbox, gunicorn flavour: signals", () => {
  for (const via of ["os", "ipc"] as const) {
    it(`TTIN, TTOU, HUP, a killed worker, /crash and TERM (${via})`, async () => {
      const p = await start(["--workers", "2"]);
      const signal = (name: "TTIN" | "TTOU" | "HUP" | "TERM") => {
        if (via === "os") p.child.kill(`SIG${name}`);
        else p.control({ type: "signal", signal: name });
      };
      const first = p.liveWorkers();
      expect(first).toHaveLength(2);
      signal("TTIN");
      await p.waitFor(
        () => p.liveWorkers().length === 3 && p.stderr().includes("Handling signal: ttin"),
        4000,
        "a third worker",
      );
      expect(p.stderr()).toContain(`[${p.pid}] [INFO] Handling signal: ttin`);

      const oldest = p.events.find((e) => e.type === "worker")?.pid ?? 0;
      signal("TTOU");
      await p.waitFor(
        () =>
          !p.liveWorkers().includes(oldest) &&
          p.stderr().includes(`[${oldest}] [INFO] Worker exiting (pid: ${oldest})`),
        4000,
        "the oldest worker to go",
      );
      expect(p.stderr()).toContain("[INFO] Handling signal: ttou");
      expect(p.stderr()).toContain(`[${oldest}] [INFO] Worker exiting (pid: ${oldest})`);
      const exitedOldest = p.events.find(
        (e) => e.type === "worker" && e.pid === oldest && e.state === "exited",
      );
      expect(exitedOldest).toMatchObject({ reason: "ttou" });

      const beforeHup = p.liveWorkers();
      signal("HUP");
      const warned = (pid: number) =>
        p.stderr().includes(`[WARNING] Worker with pid ${pid} was terminated due to signal 15`);
      // The events and the log lines come through different pipes: wait for both.
      await p.waitFor(
        () =>
          beforeHup.every((pid) => !p.liveWorkers().includes(pid) && warned(pid)) &&
          p.liveWorkers().length === 2,
        5000,
        "the HUP to replace every worker",
      );
      expect(p.stderr()).toContain("[INFO] Hang up: Master");
      for (const pid of beforeHup) {
        expect(p.stderr()).toContain(
          `[WARNING] Worker with pid ${pid} was terminated due to signal 15`,
        );
      }

      const victim = p.liveWorkers()[0] ?? 0;
      if (via === "os") process.kill(victim, "SIGKILL");
      else p.control({ type: "kill-worker", signal: "SIGKILL", pid: victim });
      await p.waitFor(
        () =>
          p.liveWorkers().length === 2 &&
          !p.liveWorkers().includes(victim) &&
          p.stderr().includes(`Worker with pid ${victim} was terminated due to signal 9`),
        4000,
        "a respawn",
      );
      expect(p.stderr()).toContain(
        `[${p.pid}] [WARNING] Worker with pid ${victim} was terminated due to signal 9`,
      );

      const booted = p.allWorkers().length;
      const crash = await raw(p.port, "GET /crash HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(crash.bytes.length).toBe(0);
      await p.waitFor(
        () => p.allWorkers().length === booted + 1 && p.liveWorkers().length === 2,
        4000,
        "a respawn after /crash",
      );
      expect(
        p.events.some(
          (e) =>
            e.type === "worker" && e.state === "exited" && e.reason === "crash" && e.code === 1,
        ),
      ).toBe(true);
      expect((await get(p.port, "/")).status).toBe(200);

      const signals = p.events.filter((e) => e.type === "signal");
      expect(signals.map((e) => e.type === "signal" && `${e.signal}/${e.via}`)).toEqual([
        `TTIN/${via}`,
        `TTOU/${via}`,
        `HUP/${via}`,
      ]);
      const workers = p.liveWorkers();
      signal("TERM");
      expect((await p.exited).code).toBe(0);
      expect(p.stderr()).toContain("[INFO] Handling signal: term");
      for (const pid of workers)
        expect(p.stderr()).toContain(`[${pid}] [INFO] Worker exiting (pid: ${pid})`);
      expect(p.stderr()).toMatch(/\[INFO\] Shutting down: Master\n$/);
      expect(await allGone(workers)).toBe(true);
      expect(p.invalid).toEqual([]);
    });
  }

  it("QUIT via IPC stops quickly even with a request in flight", async () => {
    const p = await start(["--workers", "1"]);
    const workers = p.liveWorkers();
    const pending = raw(p.port, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 5000 });
    await p.waitFor(
      () => p.events.some((e) => e.type === "worker" && e.state === "busy"),
      3000,
      "busy",
    );
    const t0 = Date.now();
    p.control({ type: "signal", signal: "QUIT" });
    expect((await p.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await pending).bytes.length).toBe(0);
    expect(p.stderr()).toContain("[INFO] Handling signal: quit");
    expect(await allGone(workers)).toBe(true);
  });
});

describe("prefork sandbox, gunicorn flavour: timeouts, recycling, code loading", () => {
  it("kills a worker past --timeout: empty reply, the three lines, a respawn", async () => {
    const p = await start(["--workers", "1", "--timeout", "1", "--access-log"]);
    const [victim] = p.liveWorkers();
    const t0 = Date.now();
    const r = await raw(p.port, "GET /slow?ms=8000 HTTP/1.1\r\nHost: x\r\n\r\n", {
      timeoutMs: 6000,
    });
    const ms = Date.now() - t0;
    expect(r.bytes.length).toBe(0);
    expect(r.error).not.toBe("TIMEOUT");
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(3500);
    await p.waitFor(
      () => p.liveWorkers().length === 1 && !p.liveWorkers().includes(victim ?? 0),
      3000,
      "respawn",
    );
    const err = p.stderr();
    expect(err).toMatch(
      new RegExp(
        `\\[${p.pid}\\] \\[CRITICAL\\] WORKER TIMEOUT \\(pid:${victim}\\)\\n.*\\[${victim}\\] \\[INFO\\] Worker exiting \\(pid: ${victim}\\)\\n.*\\[\\d+\\] \\[INFO\\] Booting worker with pid: \\d+\\n`,
      ),
    );
    expect(p.stdout()).not.toContain("/slow");
    expect(
      p.events.some((e) => e.type === "worker" && e.state === "exited" && e.reason === "timeout"),
    ).toBe(true);
    await p.stop();
  });

  it("recycles a worker after --max-requests", async () => {
    const p = await start(["--workers", "1", "--max-requests", "2"]);
    const [first] = p.liveWorkers();
    expect(pidOf((await get(p.port, "/")).body)).toBe(first);
    expect(pidOf((await get(p.port, "/")).body)).toBe(first);
    await p.waitFor(
      () => p.liveWorkers().length === 1 && p.liveWorkers()[0] !== first,
      3000,
      "recycle",
    );
    expect(p.stderr()).toContain(
      `[${first}] [INFO] Autorestarting worker after current request.\n`,
    );
    expect(p.stderr()).toContain(`[${first}] [INFO] Worker exiting (pid: ${first})`);
    expect(pidOf((await get(p.port, "/")).body)).not.toBe(first);
    await p.stop();
  });

  for (const preload of [false, true]) {
    it(`HUP after editing greeting.txt serves the ${preload ? "OLD text with" : "new text without"} --preload`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "lws-prefork-app-"));
      writeFileSync(join(dir, "greeting.txt"), "Hello, version one\n");
      const p = await start([
        "--workers",
        "2",
        "--directory",
        dir,
        ...(preload ? ["--preload", "on"] : []),
      ]);
      expect((await get(p.port, "/")).body.toString()).toMatch(/^Hello, version one\npid=/);
      // app.py's import line: once in the master with --preload, else once in each worker.
      const imported = (pid: number, text: string) =>
        `[app.py imported in pid ${pid}: '${text}']\n`;
      const first = preload ? [p.pid] : p.liveWorkers();
      await p.waitFor(() => lineCount(p.stdout(), "[app.py imported") === first.length);
      for (const pid of first) expect(p.stdout()).toContain(imported(pid, "Hello, version one"));
      writeFileSync(join(dir, "greeting.txt"), "Hello, version two\n");
      const old = p.liveWorkers();
      p.child.kill("SIGHUP");
      await p.waitFor(
        () => old.every((pid) => !p.liveWorkers().includes(pid)) && p.liveWorkers().length === 2,
        5000,
        "reload",
      );
      const body = (await get(p.port, "/")).body.toString();
      expect(body).toContain(preload ? "Hello, version one" : "Hello, version two");
      if (preload) expect(lineCount(p.stdout(), "[app.py imported")).toBe(1);
      else {
        await p.waitFor(() => lineCount(p.stdout(), "[app.py imported") === 4);
        for (const pid of p.liveWorkers())
          expect(p.stdout()).toContain(imported(pid, "Hello, version two"));
      }
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    });
  }

  it("gives up when the app fails to import: exit 3, gunicorn's lines, no respawn loop", async () => {
    const p = await start(["--workers", "2", "--app", "broken"], { waitForListening: false });
    const { code } = await p.exited;
    expect(code).toBe(3);
    const err = p.stderr();
    expect(err).toContain(
      "[ERROR] Exception in worker process\nTraceback (most recent call last):\n",
    );
    expect(err).toMatch(/RuntimeError: .*\n.*\[INFO\] Worker exiting \(pid: \d+\)\n/);
    expect(err).toMatch(
      /\[INFO\] Shutting down: Master\n.*\[INFO\] Reason: Worker failed to boot\.\n$/,
    );
    expect(lineCount(err, "Booting worker")).toBeLessThanOrEqual(2);
    expect(p.events.some((e) => e.type === "error" && e.fatal && e.code === "EBOOT")).toBe(true);
    expect(p.events.some((e) => e.type === "listening")).toBe(false);
    expect(await allGone(p.allWorkers())).toBe(true);
  });
});

describe("prefork sandbox: no process left behind", () => {
  it("master SIGKILLed: every worker exits within about 1 s, even one blocked in a request", async () => {
    const p = await start(["--workers", "2"]);
    const workers = p.liveWorkers();
    void raw(p.port, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", { timeoutMs: 3000 });
    await p.waitFor(
      () => p.events.some((e) => e.type === "worker" && e.state === "busy"),
      3000,
      "busy",
    );
    p.child.kill("SIGKILL");
    await p.exited;
    expect(await allGone(workers, 1200)).toBe(true);
    expect(await portFreeWithin(p.port)).toBe(true);
  });

  it("IPC stop and IPC disconnect end master and workers", async () => {
    const a = await start(["--workers", "2"]);
    const aWorkers = a.liveWorkers();
    a.control({ type: "stop" });
    expect((await a.exited).code).toBe(0);
    expect(a.events.some((e) => e.type === "stopping" && e.reason === "stop")).toBe(true);
    // As after a TERM: the lab's stop stands for one.
    expect(a.stderr()).toMatch(
      /\[INFO\] Handling signal: term\n[\s\S]*\[INFO\] Shutting down: Master\n$/,
    );
    expect(await allGone(aWorkers)).toBe(true);

    const b = await start(["--workers", "2"]);
    const bWorkers = b.liveWorkers();
    const t0 = Date.now();
    b.child.disconnect();
    await b.exited;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await allGone([b.pid, ...bWorkers])).toBe(true);
    expect(await portFreeWithin(b.port)).toBe(true);
  });

  it("usage errors exit 2 in one line; --help lists every option", async () => {
    const { spawnSync } = await import("node:child_process");
    const { preforkEntry } = await import("./prefork-helpers.js");
    const run = (args: string[]) =>
      spawnSync(process.execPath, [preforkEntry(), ...args], { encoding: "utf8" });
    for (const args of [
      ["--workers", "x"],
      ["--bogus"],
      ["--flavour", "nginx"],
      ["--harakiri", "3"],
      ["--preload", "maybe"],
    ]) {
      const r = run(args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    for (const flag of [
      "--workers",
      "--timeout",
      "--preload",
      "--max-requests",
      "--access-log",
      "--processes",
      "--harakiri",
      "--master",
      "--cache2",
      "--app",
      "--directory",
      "--bind",
      "--port",
      "--flavour",
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});
