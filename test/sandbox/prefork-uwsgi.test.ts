import { afterAll, describe, expect, it } from "vitest";
import { get, raw, sleep } from "./helpers.js";
import { alive, type Prefork, pidOf, removePreforkEntry, startPrefork } from "./prefork-helpers.js";

const started: Prefork[] = [];
async function start(args: string[]) {
  const p = await startPrefork(["--flavour", "uwsgi", ...args]);
  started.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  removePreforkEntry();
});

const REQUEST_LINE =
  /^\[pid: (\d+)\|app: 0\|req: (\d+)\/(\d+)\] 127\.0\.0\.1 \(\) \{(\d+) vars in (\d+) bytes\} \[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET \/ => generated \d+ bytes in \d+ msecs \(HTTP\/1\.1 200\) 2 headers in 65 bytes \(1 switches on core 0\)$/m;

describe("prefork sandbox, uwsgi flavour", () => {
  it("banner, request lines, only the app's headers, a cache shared by the workers", async () => {
    const p = await start(["--master", "--processes", "2", "--cache2", "name=mycache,items=100"]);
    const err = p.stderr();
    expect(err).toMatch(/^\*\*\* Starting uWSGI 2\.0\.21-debian \(64bit\) on \[.+\] \*\*\*\n/);
    expect(err).toContain(`uWSGI http bound on 127.0.0.1:${p.port} fd 4\n`);
    expect(err).toContain('*** Cache "mycache" initialized: 6MB');
    expect(err).toContain("*** Operational MODE: preforking ***\n");
    expect(err).toContain(
      `WSGI app 0 (mountpoint='') ready in 0 seconds on interpreter 0x7fa83bf60018 pid: ${p.pid} (default app)\n`,
    );
    expect(err).toContain(`spawned uWSGI master process (pid: ${p.pid})\n`);
    const [w1, w2] = p.events
      .filter((e) => e.type === "worker" && e.state === "booting")
      .map((e) => e.type === "worker" && e.pid);
    expect(err).toContain(
      `spawned uWSGI worker 1 (pid: ${w1}, cores: 1)\nspawned uWSGI worker 2 (pid: ${w2}, cores: 1)\n`,
    );
    expect(err).toMatch(/spawned uWSGI http 1 \(pid: \d+\)\n/);

    const r = await get(p.port, "/", "User-Agent: curl/7.88.1\r\nAccept: */*\r\n");
    expect(r.statusLine).toBe("HTTP/1.1 200 OK");
    expect(r.headers.map(([k]) => k)).toEqual(["Content-Type", "Content-Length"]);
    await p.waitFor(() => REQUEST_LINE.test(p.stderr()), 3000, "the request line");
    const m = REQUEST_LINE.exec(p.stderr());
    expect(Number(m?.[1])).toBe(pidOf(r.body));
    expect(m?.slice(2, 5)).toEqual(["1", "1", "28"]);

    const set = await get(p.port, "/cache/set?greeting=hello");
    expect(set.body.toString()).toMatch(/^set \['greeting'\] in pid \d+\n$/);
    const readers = new Set<number>();
    for (let i = 0; i < 20 && readers.size < 2; i++) {
      const body = (await get(p.port, "/cache/get?k=greeting")).body.toString();
      expect(body).toMatch(/^greeting=b'hello' exists=True \(read by pid \d+\)\n$/);
      readers.add(pidOf(body.replace("read by pid ", "pid=")));
    }
    expect(readers.size).toBe(2);
    expect((await get(p.port, "/cache/get?k=missing")).body.toString()).toMatch(
      /^missing=None exists=None \(read by pid \d+\)\n$/,
    );
    const environ = (await get(p.port, "/environ")).body.toString();
    for (const key of [
      "REQUEST_URI: '/environ'",
      "UWSGI_ROUTER: 'http'",
      "uwsgi.version: b'2.0.21-debian'",
      "wsgi.multiprocess: True",
    ]) {
      expect(environ).toContain(`${key}\n`);
    }

    p.child.kill("SIGHUP");
    await p.waitFor(
      () => p.stderr().includes("gracefully (RE)spawned uWSGI master process"),
      4000,
      "the reload",
    );
    const reload = p.stderr().slice(err.length);
    expect(reload).toContain('gateway "uWSGI http 1" has been buried');
    expect(reload).toContain("...gracefully killing workers...\n");
    expect(reload).toContain("binary reloading uWSGI...\n");
    expect(reload).toContain("*** Starting uWSGI 2.0.21-debian");
    await p.waitFor(() => p.liveWorkers().length === 2, 3000, "new workers");
    expect((await get(p.port, "/cache/get?k=greeting")).body.toString()).toMatch(
      /^greeting=None exists=None/,
    );

    const beforeTerm = p.stderr().length;
    p.child.kill("SIGTERM");
    await p.waitFor(
      () => p.stderr().slice(beforeTerm).includes("gracefully (RE)spawned uWSGI master process"),
      4000,
      "TERM reload",
    );
    expect(p.stderr().slice(beforeTerm)).toContain("...brutally killing workers...\n");
    expect(alive(p.pid)).toBe(true);
    await p.waitFor(() => p.liveWorkers().length === 2, 3000, "new workers");

    const workers = p.liveWorkers();
    p.child.kill("SIGINT");
    expect((await p.exited).code).toBe(0);
    expect(p.stderr()).toMatch(
      /SIGINT\/SIGTERM received\.\.\.killing workers\.\.\.\n(.*\n)*goodbye to uWSGI\.\n$/,
    );
    for (const pid of workers) expect(alive(pid)).toBe(false);
    expect(p.invalid).toEqual([]);
  });

  it("DAMN and respawn after kill -9, harakiri on a stuck request", async () => {
    const p = await start(["--master", "--processes", "1", "--harakiri", "1"]);
    const [victim] = p.liveWorkers();
    process.kill(victim ?? 0, "SIGKILL");
    await p.waitFor(() => p.stderr().includes("Respawned uWSGI worker 1"), 3000, "respawn");
    expect(p.stderr()).toMatch(
      new RegExp(
        `DAMN ! worker 1 \\(pid: ${victim}\\) died, killed by signal 9 :\\( trying respawn \\.\\.\\.\\nRespawned uWSGI worker 1 \\(new pid: \\d+\\)\\n`,
      ),
    );
    await p.waitFor(() => p.liveWorkers().length === 1, 3000, "the new worker");
    const [stuck] = p.liveWorkers();
    const r = await raw(p.port, "GET /slow?ms=6000 HTTP/1.1\r\nHost: x\r\n\r\n", {
      timeoutMs: 5000,
    });
    expect(r.bytes.length).toBe(0);
    expect(p.stderr()).toContain(`*** HARAKIRI ON WORKER 1 (pid: ${stuck}, try: 1) ***`);
    expect(p.stderr()).toMatch(
      / - HARAKIRI \[core 0\] 127\.0\.0\.1 - GET \/slow\?ms=6000 since \d+\n/,
    );
    await p.waitFor(
      () => p.stderr().includes(`DAMN ! worker 1 (pid: ${stuck}) died, killed by signal 9`),
      3000,
      "DAMN",
    );
    await p.stop();
  });

  it("without --master a dead worker is not respawned", async () => {
    const p = await start(["--processes", "2"]);
    expect(p.stderr()).not.toContain("spawned uWSGI master process");
    const [victim] = p.liveWorkers();
    process.kill(victim ?? 0, "SIGKILL");
    await p.waitFor(() => p.liveWorkers().length === 1, 3000, "the worker to die");
    await sleep(300);
    expect(p.liveWorkers()).toHaveLength(1);
    expect(p.stderr()).not.toContain("Respawned");
    expect((await get(p.port, "/")).status).toBe(200);
    await p.stop();
  });
});
