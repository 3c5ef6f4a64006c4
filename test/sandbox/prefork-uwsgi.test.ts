import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { get, parse, raw, sleep } from "./helpers.js";
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
  /^\[pid: (\d+)\|app: 0\|req: (\d+)\/(\d+)\] 127\.0\.0\.1 \(\) \{(\d+) vars in (\d+) bytes\} \[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET \/ => generated \d+ bytes in \d+ msecs \(HTTP\/1\.1 200\) 2 headers in 80 bytes \(1 switches on core 0\)$/m;

describe("prefork sandbox, uwsgi flavour", () => {
  it("banner, request lines, only the app's headers, a cache shared by the workers", async () => {
    const p = await start(["--master", "--processes", "2", "--cache2", "name=mycache,items=100"]);
    const err = p.stderr();
    expect(err).toMatch(/^\*\*\* Starting uWSGI 2\.0\.21-debian \(64bit\) on \[.+\] \*\*\*\n/);
    expect(err).toContain(`uWSGI http bound on 127.0.0.1:${p.port} fd 4\n`);
    expect(err).toContain('*** Cache "mycache" initialized: 6MB');
    // app.py is imported once, in the master; uWSGI's stdout is its log, so the line is there.
    expect(err).toContain(
      `*** Operational MODE: preforking ***\n[app.py imported in pid ${p.pid}: 'Hello from a WSGI app!']\nWSGI app 0 (mountpoint='') ready in 0 seconds on interpreter 0x7fa83bf60018 pid: ${p.pid} (default app)\n`,
    );
    expect(err.split("[app.py imported in pid ")).toHaveLength(2);
    expect(p.stdout()).toBe("");
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
    expect(r.headers).toEqual([
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(r.body.length)],
    ]);
    await p.waitFor(() => REQUEST_LINE.test(p.stderr()), 3000, "the request line");
    const m = REQUEST_LINE.exec(p.stderr());
    expect(Number(m?.[1])).toBe(pidOf(r.body));
    expect(m?.slice(2, 5)).toEqual(["1", "1", "28"]);

    const set = await get(p.port, "/cache/set?greeting=hello&b=2");
    expect(set.body.toString()).toMatch(/^set \['b', 'greeting'\] pid=\d+\n$/);
    const readers = new Set<number>();
    for (let i = 0; i < 20 && readers.size < 2; i++) {
      const body = (await get(p.port, "/cache/get?k=greeting")).body.toString();
      expect(body).toMatch(/^greeting=b'hello' pid=\d+\n$/);
      readers.add(pidOf(body));
    }
    expect(readers.size).toBe(2);
    expect((await get(p.port, "/cache/get")).body.toString()).toMatch(/^greeting=b'hello' pid=/);
    expect((await get(p.port, "/cache/get?k=missing")).body.toString()).toMatch(
      /^missing=None pid=\d+\n$/,
    );
    const environ = (await get(p.port, "/environ")).body.toString();
    for (const key of [
      "REQUEST_URI = '/environ'",
      "UWSGI_ROUTER = 'http'",
      "uwsgi.version = b'2.0.21-debian'",
      "wsgi.multiprocess = True",
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
      /^greeting=None pid=\d+\n$/,
    );
    // The reload imports app.py in the master again.
    expect(reload).toContain(`[app.py imported in pid ${p.pid}: 'Hello from a WSGI app!']\n`);

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
    // Harakiri, not a kill from outside: the lab tells the two apart.
    const exits = p.events.filter(
      (e) => e.type === "worker" && e.pid === stuck && e.state === "exited",
    );
    expect(exits.map((e) => (e.type === "worker" ? e.reason : undefined))).toEqual(["timeout"]);
    const killed = p.events.filter(
      (e) => e.type === "worker" && e.pid === victim && e.state === "exited",
    );
    expect(killed.map((e) => (e.type === "worker" ? e.reason : undefined))).toEqual(["killed"]);
    await p.stop();
  });

  it("answers junk as the real router does: nothing; HTTP/1.0 in HTTP/1.0; the app's folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lws-prefork-uwsgi-"));
    writeFileSync(join(dir, "greeting.txt"), "Hi from the folder\nsecond line\n");
    const p = await start(["--processes", "1", "--directory", dir]);
    // uwsgi started from the app's folder would show it as its working directory.
    expect(p.stderr()).toContain(`\ncurrent working directory: ${dir}\n`);
    expect(p.stderr()).toContain(`[app.py imported in pid ${p.pid}: 'Hi from the folder']\n`);
    for (const junk of [
      "garbage\r\n\r\n",
      "GET /\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
      `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(9000)}\r\n\r\n`,
    ]) {
      const r = await raw(p.port, junk, { timeoutMs: 3000 });
      expect(r.error).toBeUndefined();
      expect(r.bytes.length).toBe(0);
    }
    // The request's variables overflow the 4096-byte buffer: the worker skips it and says so.
    await p.waitFor(
      () => /invalid request block size: 92\d\d \(max 4096\)\.\.\.skip\n/.test(p.stderr()),
      3000,
      "the block size lines",
    );
    expect(p.stderr()).toMatch(
      /invalid request block size: 18\d\d\d \(max 4096\)\.\.\.skip\n\[uwsgi-http key: x client_addr: 127\.0\.0\.1 client_port: \d+\] hr_instance_read\(\): Connection reset by peer \[plugins\/http\/http\.c line 647\]\n/,
    );
    const old = parse((await raw(p.port, "GET / HTTP/1.0\r\n\r\n")).bytes);
    expect(old.statusLine).toBe("HTTP/1.0 200 OK");
    expect(old.body.toString()).toMatch(/^Hi from the folder\npid=\d+\n$/);
    await p.waitFor(
      () =>
        /\] GET \/ => generated \d+ bytes in \d+ msecs \(HTTP\/1\.0 200\) 2 headers in 80 bytes/.test(
          p.stderr(),
        ),
      3000,
      "the request line",
    );
    // uWSGI's router takes a header name with a space, and a Content-Length it cannot read.
    const lenient = await raw(
      p.port,
      "GET / HTTP/1.1\r\nBad Name: x\r\nContent-Length: abc\r\n\r\n",
    );
    expect(parse(lenient.bytes).status).toBe(200);
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
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
