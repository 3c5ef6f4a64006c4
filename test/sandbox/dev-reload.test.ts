import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListeningEvent } from "../../sandboxes/shared/protocol.js";
import {
  builtEntry,
  cleanUp,
  type DevServer,
  devReloadEntry,
  emptyDir,
  expectValidEvents,
  makeApp,
  startDev,
} from "./dev-reload-helpers.js";
import { header, type Parsed, parse, raw, sleep } from "./helpers.js";

/** GET with a Host that Django's DEBUG ALLOWED_HOSTS accepts (Host: x gets DisallowedHost). */
async function get(port: number, target: string): Promise<Parsed> {
  const r = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  return parse(r.bytes);
}

const DATE = String.raw`\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d`;

afterAll(() => cleanUp());

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  expect(text).toContain(from);
  writeFileSync(file, text.replace(from, to));
}

async function body(port: number, target = "/"): Promise<string> {
  return (await get(port, target)).body.toString("utf8");
}

/** Requests every `everyMs` until `stop()`; returns how each one went (status or error). */
function hammer(port: number, everyMs: number): { stop(): Promise<string[]> } {
  const results: Promise<string>[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      results.push(
        raw(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", { timeoutMs: 6000 }).then((r) =>
          r.error && r.bytes.length === 0
            ? r.error
            : (r.bytes.toString("latin1").split(" ")[1] ?? "?"),
        ),
      );
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return Promise.all(results);
    },
  };
}

describe("dev-reload, flask flavour (events reloader)", () => {
  let dir: string;
  let app: string;
  let s: DevServer;

  beforeAll(async () => {
    dir = makeApp("flask-app");
    app = join(dir, "app.mjs");
    s = await startDev([
      "--reloader",
      "events",
      "--interval",
      "0.2",
      "--port",
      "0",
      "--directory",
      dir,
    ]);
  });
  afterAll(async () => {
    s?.kill("SIGINT");
    await s?.exited;
  });

  it("a port another server already listens on: Werkzeug's two lines, an error event, exit 1", async () => {
    const second = await startDev(["--port", String(s.port), "--directory", dir], {
      ready: false,
    });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.stderr()).toContain(
      `Address already in use\nPort ${s.port} is in use by another program. Either identify and stop that program, or start the server with a different port.\n`,
    );
    expect(second.stderr()).not.toContain("Running on");
    expect(second.events()).toEqual([
      expect.objectContaining({ type: "error", code: "EADDRINUSE", fatal: true }),
    ]);
  });

  it("prints the Werkzeug banner line for line and sends a valid listening event", async () => {
    await s.waitFor(() => s.stderr().includes("Debugger PIN"), 5000, "the PIN");
    expect(s.stdout()).toBe(" * Serving Flask app 'app'\n * Debug mode: on\n");
    const lines = s.stderr().split("\n");
    expect(lines.slice(0, 7)).toEqual([
      "WARNING: This is a development server. Do not use it in a production deployment. Use a production WSGI server instead.",
      ` * Running on http://127.0.0.1:${s.port}`,
      "Press CTRL+C to quit",
      " * Restarting with watchdog (inotify)",
      " * Debugger is active!",
      expect.stringMatching(/^ \* Debugger PIN: \d{3}-\d{3}-\d{3}$/),
      expect.any(String),
    ]);
    const listening = s.events().find((e) => e.type === "listening") as ListeningEvent;
    expect(listening).toMatchObject({
      sandbox: "dev-reload",
      flavour: "flask",
      pid: s.child.pid,
      host: "127.0.0.1",
      url: `http://127.0.0.1:${s.port}/`,
      directory: expect.stringContaining("lws-flask-app-"),
      options: { reloader: "events", interval: 0.2, reload: true, threading: true, app: "app.mjs" },
    });
  });

  it("answers like Werkzeug: headers, reason phrases, 404 and 405 pages, log lines", async () => {
    const ok = await get(s.port, "/");
    expect(ok.statusLine).toBe("HTTP/1.1 200 OK");
    expect(ok.headers.map(([k]) => k)).toEqual([
      "Server",
      "Date",
      "Content-Type",
      "Content-Length",
      "Connection",
    ]);
    expect(header(ok, "Server")).toBe("Werkzeug/2.2.2 Python/3.11.2");
    expect(header(ok, "Content-Type")).toBe("text/html; charset=utf-8");
    expect(header(ok, "Connection")).toBe("close");
    expect(ok.body.toString()).toBe("Hello, World!");
    const missing = await get(s.port, "/nope");
    expect(missing.statusLine).toBe("HTTP/1.1 404 NOT FOUND");
    expect(missing.body.toString()).toBe(
      "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n",
    );
    expect(missing.body.length).toBe(207);
    const post = await raw(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    const text = post.bytes.toString("latin1");
    expect(text).toMatch(/^HTTP\/1\.1 405 METHOD NOT ALLOWED\r\n/);
    expect(text).toContain("Allow: GET, OPTIONS, HEAD\r\n");
    expect(text).toContain("Content-Length: 153\r\n");
    await s.waitFor(() => s.stderr().includes('"POST / HTTP/1.1" 405 -'), 3000, "the 405 line");
    expect(s.stderr()).toMatch(
      new RegExp(`\\n127\\.0\\.0\\.1 - - \\[${DATE}\\] "GET / HTTP/1\\.1" 200 -\\n`),
    );
    expect(s.stderr()).toMatch(
      new RegExp(`127\\.0\\.0\\.1 - - \\[${DATE}\\] "GET /nope HTTP/1\\.1" 404 -\\n`),
    );
    await s.waitFor(
      () =>
        s
          .events()
          .some(
            (e) => e.type === "request" && e.status === 405 && e.reason === "METHOD NOT ALLOWED",
          ),
      3000,
      "the 405 request event",
    );
  });

  it("shows the Werkzeug debugger page for an exception, with the traceback on stderr", async () => {
    const r = await get(s.port, "/boom");
    expect(r.statusLine).toBe("HTTP/1.1 500 INTERNAL SERVER ERROR");
    const page = r.body.toString("utf8");
    expect(page).toContain("<title>Error: boom\n // Werkzeug Debugger</title>");
    expect(page).toContain('<h2 class="traceback">Traceback <em>(most recent call last)</em></h2>');
    expect(page).toContain(`<cite class="filename">"${app}"</cite>`);
    expect(page).toContain("throw new Error(&#34;boom&#34;);");
    expect(page).toContain("<h3>Console Locked</h3>");
    expect(page).toContain("The console is locked and needs to be unlocked by entering the PIN.");
    expect(page).toContain("DON'T PANIC");
    expect(page).not.toMatch(/<script|<link|src=|href="http/i);
    await s.waitFor(() => s.stderr().includes("Error: boom\n"), 3000, "the traceback");
    const log = s.stderr();
    const line = log.indexOf('"GET /boom HTTP/1.1" 500 -');
    expect(line).toBeGreaterThan(0);
    expect(log.slice(line)).toContain(
      `Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/flask/app.py", line 2548, in __call__\n    return self.wsgi_app(environ, start_response)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n`,
    );
    expect(log.slice(line)).toContain(`  File "${app}", line `);
  });

  it("never runs code sent to the debugger console: it explains what the real one would do", async () => {
    const pidBefore = await body(s.port, "/info");
    const marker = join(dir, "pwned.txt");
    const code = encodeURIComponent(
      `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); process.exit(3)`,
    );
    for (const target of [
      `/boom?__debugger__=yes&cmd=${code}&frm=0&s=secret`,
      `/?__debugger__=yes&cmd=pinauth&pin=123-456-789&s=secret`,
      `/?__debugger__=yes&cmd=${encodeURIComponent(`__import__('os').system('touch ${marker}')`)}&frm=1&s=x`,
      "/console",
    ]) {
      const r = await get(s.port, target);
      expect(r.status).toBe(200);
      const page = r.body.toString("utf8");
      expect(page).toContain("remote code execution");
      expect(page).toContain("nothing was executed");
    }
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    const pidOf = (text: string) => /pid=(\d+)/.exec(text)?.[1];
    expect(pidOf(await body(s.port, "/info"))).toBe(pidOf(pidBefore));
  });

  it("survives junk: a broken request line gets Python's 400 page", async () => {
    const r = await raw(s.port, "GARBAGE\r\n\r\n");
    expect(r.bytes.toString("utf8")).toContain("<p>Message: Bad request syntax ('GARBAGE').</p>");
    await raw(s.port, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]));
    await raw(s.port, "GET / HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n");
    expect((await get(s.port, "/")).status).toBe(200);
    await s.waitFor(() => s.stderr().includes(`"GARBAGE" 400 -`), 3000, "the 400 log line");
    expect(s.stderr()).toContain("code 400, message Bad request syntax ('GARBAGE')");
  });

  it("reloads on a save with file events, fast, and reports each phase with the latency", async () => {
    const n = s.lastReload() + 1;
    const pidBefore = await body(s.port, "/info");
    edit(app, 'const MESSAGE = "Hello, World!";', 'const MESSAGE = "Hello, events!";');
    const ready = await s.waitReload(n, ["ready"]);
    const phases = s.reloads(n).map((e) => e.phase);
    expect(phases).toEqual(["detected", "stopped", "ready"]);
    for (const e of s.reloads(n)) {
      expect(e).toMatchObject({ reloader: "events", file: "app.mjs" });
      expect(e.savedAt).toBe(s.reloads(n)[0]?.savedAt);
    }
    expect(ready.latencyMs).toBeGreaterThanOrEqual(0);
    expect(ready.latencyMs).toBeLessThan(1500);
    expect(ready.downtimeMs).toBeGreaterThanOrEqual(0);
    expect(ready.latencyMs).toBe(ready.at - ready.savedAt);
    expect(await body(s.port, "/")).toBe("Hello, events!");
    expect(await body(s.port, "/info")).not.toBe(pidBefore);
    // The log comes through a pipe, the reload events through IPC: either may arrive first. The
    // parent's two lines and the new child's may have request lines between them.
    const inOrder = () => {
      const log = s.stderr();
      const detected = log.indexOf(` * Detected change in '${app}', reloading\n`);
      const restarting = log.indexOf(" * Restarting with watchdog (inotify)\n", detected);
      const active = log.indexOf(" * Debugger is active!\n", restarting);
      return detected >= 0 && restarting > detected && active > restarting;
    };
    await s.waitFor(inOrder, 3000, "the reload's log lines");
    expect(inOrder()).toBe(true);
  });

  it("keeps the socket during a restart: requests wait, none is refused", async () => {
    const n = s.lastReload() + 1;
    const h = hammer(s.port, 8);
    await sleep(60);
    edit(app, 'const MESSAGE = "Hello, events!"', 'const MESSAGE = "Hello, queue!"');
    await s.waitReload(n, ["ready"]);
    await sleep(80);
    const results = await h.stop();
    expect(results.length).toBeGreaterThan(5);
    expect(results.filter((r) => r !== "200")).toEqual([]);
    expect(await body(s.port, "/")).toBe("Hello, queue!");
  });

  it("a syntax error: keeps serving a 500 traceback page, keeps watching, recovers on a good save", async () => {
    const n = s.lastReload() + 1;
    const good = readFileSync(app, "utf8");
    const broken = good.replace(
      '"/": () => MESSAGE,',
      '"/": () => MESSAGE,\n  "/x": (request => "y",',
    );
    const badLine = broken.split("\n").findIndex((l) => l.includes('"/x"')) + 1;
    writeFileSync(app, broken);
    const failed = await s.waitReload(n, ["failed"]);
    expect(failed.error).toMatch(/^SyntaxError: /);
    const r = await get(s.port, "/");
    expect(r.status).toBe(500);
    const page = r.body.toString("utf8");
    expect(page).toContain("SyntaxError");
    expect(page).toContain(`"${app}"`);
    const err = s.stderr();
    const at = err.indexOf(
      `  File "/usr/lib/python3/dist-packages/flask/cli.py", line 218, in locate_app\n    __import__(module_name)\n  File "${app}", line `,
    );
    expect(at).toBeGreaterThan(0);
    // JavaScript reports the token where parsing failed: the broken line or a later one.
    const reported = Number.parseInt(err.slice(at).split(`File "${app}", line `)[1] ?? "", 10);
    expect(reported).toBeGreaterThanOrEqual(badLine);
    const pins = [...err.matchAll(/Debugger PIN: (\S+)/g)].map((m) => m[1]);
    expect(new Set(pins).size).toBe(2);
    writeFileSync(
      app,
      good.replace('const MESSAGE = "Hello, queue!"', 'const MESSAGE = "Hello, fixed!"'),
    );
    const ready = await s.waitReload(n + 1, ["ready"]);
    expect(ready.reload).toBe(n + 1);
    expect(await body(s.port, "/")).toBe("Hello, fixed!");
    expect(s.stderr().match(/Debugger PIN: (\S+)\n[\s\S]*$/)?.[1]).toBe(pins[0]);
  });

  it("sends only events the supervisor accepts", () => {
    expectValidEvents(s);
  });
});

describe("dev-reload, django flavour (stat reloader)", () => {
  let dir: string;
  let views: string;
  let s: DevServer;

  beforeAll(async () => {
    dir = makeApp("django-app");
    views = join(dir, "views.mjs");
    s = await startDev([
      "--flavour",
      "django",
      "--interval",
      "0.2",
      "--port",
      "0",
      "--directory",
      dir,
    ]);
  });
  afterAll(async () => {
    s?.kill("SIGINT");
    await s?.exited;
  });

  it("prints runserver's banner line for line", async () => {
    expect(s.stderr().startsWith("Watching for file changes with StatReloader\n")).toBe(true);
    const lines = s.stdout().split("\n");
    expect(lines).toEqual([
      "Performing system checks...",
      "",
      "System check identified no issues (0 silenced).",
      "",
      "You have 18 unapplied migration(s). Your project may not work properly until you apply the migrations for app(s): admin, auth, contenttypes, sessions.",
      "Run 'python manage.py migrate' to apply them.",
      expect.stringMatching(/^[A-Z][a-z]+ \d\d, \d{4} - \d\d:\d\d:\d\d$/),
      "Django version 3.2.25, using settings 'mysite.settings'",
      `Starting development server at http://127.0.0.1:${s.port}/`,
      "Quit the server with CONTROL-C.",
      "",
    ]);
  });

  it("answers like Django: headers, log lines, APPEND_SLASH, the technical 404", async () => {
    const ok = await get(s.port, "/");
    expect(ok.statusLine).toBe("HTTP/1.1 200 OK");
    expect(ok.headers.map(([k]) => k)).toEqual([
      "Date",
      "Server",
      "Content-Type",
      "X-Frame-Options",
      "Content-Length",
      "X-Content-Type-Options",
      "Referrer-Policy",
    ]);
    expect(header(ok, "Server")).toBe("WSGIServer/0.2 CPython/3.11.2");
    // Threaded runserver keeps the connection: two requests on one, two answers.
    const two = await raw(
      s.port,
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /info/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    expect(two.bytes.toString("latin1").match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(header(ok, "X-Frame-Options")).toBe("DENY");
    const redirect = await get(s.port, "/info?x=1");
    expect(redirect.statusLine).toBe("HTTP/1.1 301 Moved Permanently");
    expect(header(redirect, "Location")).toBe("/info/?x=1");
    expect(header(redirect, "X-Frame-Options")).toBeUndefined();
    expect(await body(s.port, "/info/")).toMatch(
      /^pid=\d+ thread=Thread-\d+ \(process_request_thread\)\n$/,
    );
    const missing = await get(s.port, "/nope");
    expect(missing.statusLine).toBe("HTTP/1.1 404 Not Found");
    expect(header(missing, "Content-Type")).toBe("text/html");
    const page = missing.body.toString("utf8");
    expect(page).toContain("<title>Page not found at /nope</title>");
    expect(page).toContain("Using the URLconf defined in <code>mysite.urls</code>");
    expect(page).toContain("The current path, <code>nope</code>,");
    await s.waitFor(() => s.stderr().includes('"GET /nope HTTP/1.1" 404'), 3000, "the 404 line");
    expect(s.stderr()).toMatch(new RegExp(`\\n\\[${DATE}\\] "GET / HTTP/1\\.1" 200 13\\n`));
    expect(s.stderr()).toMatch(new RegExp(`\\[${DATE}\\] "GET /info\\?x=1 HTTP/1\\.1" 301 0\\n`));
    expect(s.stderr()).toMatch(
      new RegExp(
        `Not Found: /nope\\n\\[${DATE}\\] "GET /nope HTTP/1\\.1" 404 ${missing.body.length}\\n`,
      ),
    );
  });

  it("answers DisallowedHost to a Host outside DEBUG's ALLOWED_HOSTS", async () => {
    const r = parse((await raw(s.port, "GET /?q=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n")).bytes);
    expect(r.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(header(r, "X-Frame-Options")).toBeUndefined();
    expect(r.body.toString("utf8")).toContain("DisallowedHost");
    await s.waitFor(
      () => s.stderr().includes("Bad Request: /\n"),
      3000,
      "the DisallowedHost lines",
    );
    expect(s.stderr()).toContain(
      "Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' to ALLOWED_HOSTS.\nBad Request: /\n",
    );
  });

  it("shows Django's technical 500 page for an exception", async () => {
    const r = await get(s.port, "/boom?a=1");
    expect(r.statusLine).toBe("HTTP/1.1 500 Internal Server Error");
    expect(header(r, "Vary")).toBe("Cookie");
    const page = r.body.toString("utf8");
    expect(page).toContain("<h1>Error\n       at /boom</h1>");
    expect(page).toContain('<pre class="exception_value">boom</pre>');
    expect(page).toContain("<th>Django Version:</th><td>3.2.25</td>");
    expect(page).toContain(`<span class="fname">${views}</span>, line`);
    expect(page).toContain("<h2>Request information</h2>");
    expect(page).toContain("Using settings module <code>mysite.settings</code>");
    expect(page).toContain("You’re seeing this error because you have <code>DEBUG = True</code>");
    expect(page).not.toContain(process.env.PATH ?? "no PATH");
    expect(page).not.toMatch(/<script|<link|src=/i);
    await s.waitFor(
      () => s.stderr().includes('"GET /boom?a=1 HTTP/1.1" 500'),
      3000,
      "the 500 line",
    );
    expect(s.stderr()).toContain(
      'Internal Server Error: /boom\nTraceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/django/core/handlers/exception.py", line 47, in inner\n',
    );
  });

  it("reloads with the stat reloader; the port is closed during the restart", async () => {
    const n = s.lastReload() + 1;
    const h = hammer(s.port, 4);
    await sleep(30);
    edit(views, 'const MESSAGE = "Hello, World!";', 'const MESSAGE = "Hello, stat!";');
    const ready = await s.waitReload(n, ["ready"]);
    await sleep(30);
    const results = await h.stop();
    expect(s.reloads(n).map((e) => e.phase)).toEqual(["detected", "stopped", "ready"]);
    expect(ready).toMatchObject({ reloader: "stat", file: "views.mjs" });
    expect(ready.latencyMs).toBeLessThan(200 + 1500);
    expect(results).toContain("ECONNREFUSED");
    expect(await body(s.port, "/")).toBe("Hello, stat!");
    const err = s.stderr();
    const detected = err.indexOf(`\n${views} changed, reloading.\n`);
    expect(detected).toBeGreaterThan(0);
    expect(err.indexOf("Watching for file changes with StatReloader\n", detected)).toBeGreaterThan(
      detected,
    );
    expect(s.stdout().split("Quit the server with CONTROL-C.").length).toBe(3);
  });

  it("a syntax error: stops listening and prints the thread's traceback; a good save recovers", async () => {
    const n = s.lastReload() + 1;
    const good = readFileSync(views, "utf8");
    writeFileSync(
      views,
      good.replace("export function index(_request) {", "export function index(_request {"),
    );
    const failed = await s.waitReload(n, ["failed"]);
    expect(failed.error).toMatch(/^SyntaxError: /);
    expect(await raw(s.port, "GET / HTTP/1.1\r\n\r\n").then((r) => r.error)).toBe("ECONNREFUSED");
    const err = s.stderr();
    expect(err).toContain(
      "Exception in thread django-main-thread:\nTraceback (most recent call last):\n",
    );
    expect(err).toMatch(
      new RegExp(
        `  File "${views}", line \\d+\\n    export function index\\(_request \\{\\n\\s+\\^+\\nSyntaxError: `,
      ),
    );
    expect(s.stdout().endsWith("Performing system checks...\n\n")).toBe(true);
    writeFileSync(views, good);
    await s.waitReload(n + 1, ["ready"]);
    expect(await body(s.port, "/")).toBe("Hello, stat!");
  });

  it("sends only events the supervisor accepts", () => {
    expectValidEvents(s);
  });
});

describe("dev-reload options", () => {
  it("--help is complete and usage mistakes exit 2 in one line", () => {
    const entry = devReloadEntry();
    const help = spawnSync(process.execPath, [entry, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const flag of [
      "--flavour flask|django",
      "--app FILE",
      "--reloader stat|events",
      "--interval S",
      "--reload on|off",
      "--no-reload",
      "--threading on|off",
      "--no-threading",
      "--port N",
      "-b, --bind ADDRESS",
      "--host",
      "-d, --directory DIRECTORY",
      "LEARN_WEBSERVERS_FS_EVENTS",
    ]) {
      expect(help.stdout).toContain(flag);
    }
    for (const args of [
      ["--bogus"],
      ["--reloader", "inotify"],
      ["--interval", "0"],
      ["--interval", "soon"],
      ["--flavour", "rails"],
      ["--threading", "maybe"],
      ["--app", "../elsewhere.mjs"],
      ["--app", "/etc/passwd.mjs"],
      ["--app", "app.py"],
      ["--port", "99999"],
      ["--reload", "on", "--no-reload"],
    ]) {
      const r = spawnSync(process.execPath, [entry, ...args], { encoding: "utf8" });
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^dev-reload: .* \(see --help\)\n$/);
    }
  });

  it("the stat reloader polls every second by default", async () => {
    const dir = makeApp("flask-app");
    const app = join(dir, "app.mjs");
    const s = await startDev(["--port", "0", "--directory", dir]);
    try {
      const listening = s.events().find((e) => e.type === "listening") as ListeningEvent;
      expect(listening.options).toMatchObject({ reloader: "stat", interval: 1 });
      edit(app, 'const MESSAGE = "Hello, World!"', 'const MESSAGE = "Hello, one!"');
      const first = await s.waitReload(1, ["detected"], 5000);
      // Just after a poll found the first change, the next change waits for the next poll.
      edit(app, 'const MESSAGE = "Hello, one!"', 'const MESSAGE = "Hello, two!"');
      const second = await s.waitReload(2, ["detected"], 5000);
      expect(second.at - first.at).toBeGreaterThan(700);
      expect(second.at - first.at).toBeLessThan(2500);
      await s.waitReload(2, ["ready"], 5000);
      expect(await body(s.port, "/")).toBe("Hello, two!");
    } finally {
      s.kill("SIGTERM");
      await s.exited;
    }
  });

  it("falls back to polling when file events are unavailable, and says so", async () => {
    const dir = makeApp("flask-app");
    const app = join(dir, "app.mjs");
    const s = await startDev(
      ["--reloader", "events", "--interval", "0.2", "--port", "0", "--directory", dir],
      { env: { LEARN_WEBSERVERS_FS_EVENTS: "off" } },
    );
    try {
      expect(s.stderr()).toContain(
        "Warning: file system events are unavailable here (LEARN_WEBSERVERS_FS_EVENTS=off); polling for changes every 0.2 s instead.\n * Restarting with stat\n",
      );
      edit(app, 'const MESSAGE = "Hello, World!"', 'const MESSAGE = "Hello, polled!"');
      const ready = await s.waitReload(1, ["ready"]);
      expect(ready.reloader).toBe("stat");
      expect(await body(s.port, "/")).toBe("Hello, polled!");
    } finally {
      s.kill("SIGTERM");
      await s.exited;
    }
  });

  it("--reload off (as a lab passes it) serves without a reloader", async () => {
    const dir = makeApp("flask-app");
    const s = await startDev(["--reload", "off", "--port", "0", "--directory", dir]);
    try {
      expect(s.stderr()).not.toContain("Restarting with");
      expect(s.stderr()).toContain(" * Debugger is active!");
      edit(
        join(dir, "app.mjs"),
        'const MESSAGE = "Hello, World!"',
        'const MESSAGE = "Hello, ignored!"',
      );
      await sleep(400);
      expect(await body(s.port, "/")).toBe("Hello, World!");
      expect(s.reloads()).toEqual([]);
    } finally {
      s.kill("SIGTERM");
      await s.exited;
    }
  });

  it("an empty folder gets the demo app", async () => {
    const dir = emptyDir();
    const s = await startDev(
      ["--port", "0", "--directory", dir, "--flavour", "django", "--reload", "off"],
      {
        entry: builtEntry(),
      },
    );
    try {
      expect(existsSync(join(dir, "app.mjs"))).toBe(true);
      expect(existsSync(join(dir, "views.mjs"))).toBe(true);
      expect(await body(s.port, "/")).toBe("Hello, World!");
    } finally {
      s.kill("SIGTERM");
      await s.exited;
    }
  });
});

describe("dev-reload threading", () => {
  async function burst(port: number, n: number, ms: number): Promise<number> {
    const start = performance.now();
    const results = await Promise.all(Array.from({ length: n }, () => get(port, `/slow?ms=${ms}`)));
    for (const r of results) expect(r.status).toBe(200);
    return performance.now() - start;
  }

  it("serves concurrent requests together by default, one at a time with threading off", async () => {
    const dirA = makeApp("flask-app");
    const dirB = makeApp("django-app");
    const [on, off, noThreading] = await Promise.all([
      startDev(["--port", "0", "--directory", dirA, "--reload", "off"]),
      startDev(["--port", "0", "--directory", dirA, "--reload", "off", "--threading", "off"]),
      startDev([
        "--flavour",
        "django",
        "--port",
        "0",
        "--directory",
        dirB,
        "--reload",
        "off",
        "--no-threading",
      ]),
    ]);
    try {
      const [tOn, tOff, tNo] = await Promise.all([
        burst(on.port, 5, 400),
        burst(off.port, 5, 400),
        burst(noThreading.port, 5, 400),
      ]);
      expect(tOn).toBeLessThan(1500);
      expect(tOff).toBeGreaterThan(1900);
      expect(tNo).toBeGreaterThan(1900);
      expect(await body(off.port, "/info")).toMatch(/thread=MainThread/);
    } finally {
      for (const s of [on, off, noThreading]) s.kill("SIGTERM");
      await Promise.all([on.exited, off.exited, noThreading.exited]);
    }
  });
});
