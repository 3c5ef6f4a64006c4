import { execFileSync, fork, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pty from "node-pty";
import { freePort, median, report, results } from "./lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");
const staticSandbox = join(root, "dist", "sandboxes", "static.js");
const preforkSandbox = join(root, "dist", "sandboxes", "prefork.js");
const only = process.argv.slice(2);
function timeRun(args, env = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function interleaved(runs, fns) {
  const samples = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [j, fn] of fns.entries()) samples[j].push(fn());
  }
  return samples.map(median);
}

function get(port, path = "/") {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}

async function waitForAnswer(port, deadlineMs = 5000) {
  return waitForPath(port, "/hello.txt", deadlineMs);
}

async function waitForPath(port, path, deadlineMs = 5000) {
  const start = Date.now();
  for (;;) {
    try {
      return await get(port, path);
    } catch {
      if (Date.now() - start > deadlineMs) throw new Error(`no answer on port ${port}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

function makeSite() {
  const dir = mkdtempSync(join(tmpdir(), "lws-bench-"));
  writeFileSync(join(dir, "hello.txt"), "hello");
  return dir;
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGINT");
  });
}

async function timeToFirstAnswer(argsFor, dir) {
  const port = await freePort();
  const start = process.hrtime.bigint();
  const child = spawn(argsFor.cmd, argsFor.args(port, dir), { stdio: "ignore" });
  try {
    await waitForAnswer(port);
    return Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    await stopChild(child);
  }
}

function hasCommand(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

async function throughput(port, path) {
  if (hasCommand("wrk")) {
    const out = execFileSync("wrk", ["-t2", "-c50", "-d5s", `http://127.0.0.1:${port}${path}`], {
      encoding: "utf8",
    });
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      tool: "wrk -t2 -c50 -d5s",
    };
  }
  const deadline = Date.now() + 5000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      try {
        await get(port, path);
        done++;
      } catch {}
    }
  };
  const start = Date.now();
  await Promise.all(Array.from({ length: 50 }, worker));
  return { rps: (done * 1000) / (Date.now() - start), tool: "node client, 50 connections, 5 s" };
}

function ptyRun(args, { until, cols = 80, rows = 24, env = {} }) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const term = pty.spawn(process.execPath, args, {
      cols,
      rows,
      cwd: root,
      env: { ...process.env, TERM: "xterm-256color", ...env },
    });
    let screen = "";
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${until}`)), 15000);
    const finish = (err, ms) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        term.kill();
        reject(err);
      } else resolve({ ms, term });
    };
    term.onData((data) => {
      screen += data;
      if (until && screen.includes(until))
        finish(null, Number(process.hrtime.bigint() - start) / 1e6);
    });
    term.onExit(() => {
      if (!until) finish(null, Number(process.hrtime.bigint() - start) / 1e6);
    });
  });
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const wanted = (name) => only.length === 0 || only.includes(name);

if (wanted("startup")) {
  timeRun(["-e", "0"]);
  const [bare, version] = interleaved(20, [
    () => timeRun(["-e", "0"]),
    () => timeRun([cli, "--version"]),
  ]);
  report("learn-webservers --version", version, "ms", bare, 1.5);
}

if (wanted("first-frame")) {
  const home = mkdtempSync(join(tmpdir(), "lws-bench-home-"));
  const env = { LEARN_WEBSERVERS_HOME: home };
  const bareRuns = [];
  const mapRuns = [];
  for (let i = 0; i < 8; i++) {
    bareRuns.push((await ptyRun(["-e", "0"], {})).ms);
    const { ms, term } = await ptyRun([cli], { until: "Python web servers", env });
    mapRuns.push(ms);
    term.kill();
  }
  rmSync(home, { recursive: true, force: true });
  report("course map first frame (pty 80x24)", median(mapRuns), "ms", median(bareRuns), 3.5);
}

if (wanted("static")) {
  const dir = makeSite();
  const ours = {
    cmd: process.execPath,
    args: (port, d) => [staticSandbox, "--port", String(port), "--directory", d],
  };
  const python = {
    cmd: "python3",
    args: (port, d) => ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", d],
  };
  const hasPython = hasCommand("python3");
  const spawnOurs = [];
  const spawnPython = [];
  for (let i = 0; i < 10; i++) {
    spawnOurs.push(await timeToFirstAnswer(ours, dir));
    if (hasPython) spawnPython.push(await timeToFirstAnswer(python, dir));
  }
  report("static sandbox spawn to first answer", median(spawnOurs), "ms", undefined, 300);
  if (hasPython)
    report("python3 -m http.server spawn to first answer (reference)", median(spawnPython), "ms");

  const port = await freePort();
  const child = spawn(process.execPath, ours.args(port, dir), { stdio: "ignore" });
  await waitForAnswer(port);
  const mine = await throughput(port, "/hello.txt");
  await stopChild(child);
  if (hasPython) {
    const pport = await freePort();
    const py = spawn("python3", python.args(pport, dir), { stdio: "ignore" });
    await waitForAnswer(pport);
    const theirs = await throughput(pport, "/hello.txt");
    await stopChild(py);
    report(
      `static sandbox throughput vs python3 -m http.server (${mine.tool})`,
      mine.rps,
      "req/s",
      theirs.rps,
      3,
      "higher",
    );
  } else {
    report(
      `static sandbox throughput (${mine.tool}; python3 not installed, no baseline)`,
      mine.rps,
      "req/s",
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Starts the prefork sandbox with IPC; resolves once every worker answers (the listening event). */
function startPrefork(args) {
  const started = process.hrtime.bigint();
  const child = fork(preforkSandbox, ["--port", "0", ...args], { stdio: "ignore" });
  const workers = new Set();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("prefork did not start")), 10000);
    child.on("message", (m) => {
      if (m?.msg?.type === "worker" && m.msg.state === "idle") workers.add(m.msg.pid);
      if (m?.msg?.type === "listening") {
        clearTimeout(timer);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        resolve({ child, port: m.msg.port, ms, workers });
      }
    });
  });
}

async function cpuThroughput(port, seconds = 4, concurrency = 4) {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      await get(port, "/cpu?ms=20");
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / seconds;
}

if (wanted("prefork")) {
  const ready = [];
  for (let i = 0; i < 7; i++) {
    const { child, port, ms } = await startPrefork(["--workers", "4"]);
    await get(port, "/");
    ready.push(ms);
    await stopChild(child);
  }
  report("prefork: 4 workers all answering, from spawn", median(ready), "ms", undefined, 600);

  const one = await startPrefork(["--workers", "1"]);
  const cpuOne = await cpuThroughput(one.port);
  await stopChild(one.child);
  const two = await startPrefork(["--workers", "2"]);
  const cpuTwo = await cpuThroughput(two.port);
  const rss = Math.max(...[...two.workers].map(rssMb));
  await stopChild(two.child);
  report(
    "prefork: CPU-bound req/s, 2 workers vs 1 (/cpu?ms=20, 4 clients)",
    cpuTwo,
    "req/s",
    cpuOne,
    1.7,
    "higher",
  );
  if (process.platform === "linux")
    report("prefork: worker resident memory (largest)", rss, "MB", undefined, 60);

  const hello = await startPrefork(["--workers", "2"]);
  const mine = await throughput(hello.port, "/");
  await stopChild(hello.child);
  if (hasCommand("gunicorn") && hasCommand("wrk")) {
    const dir = mkdtempSync(join(tmpdir(), "lws-bench-wsgi-"));
    const appLines = [
      "import os",
      "def app(environ, start_response):",
      '    body = f"Hello from a prefork worker!\\npid={os.getpid()}\\n".encode()',
      '    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])',
      "    return [body]",
    ];
    writeFileSync(join(dir, "app.py"), `${appLines.join("\n")}\n`);
    const gport = await freePort();
    const gunicorn = spawn("gunicorn", ["-w", "2", "-b", `127.0.0.1:${gport}`, "app:app"], {
      cwd: dir,
      stdio: "ignore",
    });
    await waitForPath(gport, "/");
    const theirs = await throughput(gport, "/");
    await stopChild(gunicorn);
    rmSync(dir, { recursive: true, force: true });
    report(
      `prefork: hello req/s with 2 workers vs gunicorn -w 2 (${mine.tool})`,
      mine.rps,
      "req/s",
      theirs.rps,
      1,
      "higher",
    );
  } else {
    report(
      `prefork: hello req/s with 2 workers (${mine.tool}; gunicorn or wrk missing, no baseline)`,
      mine.rps,
      "req/s",
    );
  }
}

if (wanted("memory")) {
  const home = mkdtempSync(join(tmpdir(), "lws-bench-home-"));
  const { term } = await ptyRun([cli, "lab", "http-server"], {
    until: "http://127.0.0.1:",
    env: { LEARN_WEBSERVERS_HOME: home },
  });
  await new Promise((r) => setTimeout(r, 1500));
  const tui = rssMb(term.pid);
  const children = childPids(term.pid)
    .map(rssMb)
    .reduce((a, b) => a + b, 0);
  report("TUI resident memory with a lab running", tui, "MB", undefined, 150);
  report("TUI + sandbox resident memory (reference)", tui + children, "MB");
  term.write("\x03");
  await new Promise((r) => setTimeout(r, 500));
  rmSync(home, { recursive: true, force: true });
}

if (wanted("dev-reload")) {
  // Reload latency as ../shared/reference/real-servers/scripts/reload_latency.py measures it:
  // write the file, then request every few ms until the new body is served; a random pause
  // between trials puts the save at a random phase of the stat reloader's poll.
  const devReload = join(root, "dist", "sandboxes", "dev-reload.js");
  // The reference measurements used Debian's python3 (Flask 2.2.2, Django 3.2.25).
  const python = existsSync("/usr/bin/python3")
    ? "/usr/bin/python3"
    : hasCommand("python3")
      ? "python3"
      : undefined;
  const hasFlask =
    python !== undefined &&
    spawnSync(python, ["-c", "import flask"], { stdio: "ignore" }).status === 0;
  const hasDjango =
    python !== undefined &&
    spawnSync(python, ["-c", "import django"], { stdio: "ignore" }).status === 0;
  const trials = Number(process.env.BENCH_RELOAD_TRIALS ?? 20);
  const body = (port) =>
    new Promise((resolve) => {
      const req = request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve(text));
      });
      req.on("error", () => resolve(""));
      req.on("close", () => resolve(""));
      req.setTimeout(5000, () => req.destroy());
      req.end();
    });
  const jsApp = (marker) => `export const routes = { "/": () => "${marker}" };\n`;
  const flaskApp = (marker) =>
    `from flask import Flask\napp = Flask(__name__)\n\n@app.route("/")\ndef index():\n    return "${marker}"\n`;
  const djangoViews = (marker) =>
    `from django.http import HttpResponse\n\ndef index(request):\n    return HttpResponse("${marker}")\n`;

  async function reloadLatencies({ cmd, args, cwd, file, template, env = {} }) {
    const port = await freePort();
    writeFileSync(file, template("v0"));
    const child = spawn(cmd, args(port), { cwd, stdio: "ignore", env: { ...process.env, ...env } });
    const samples = [];
    try {
      const start = Date.now();
      while (!(await body(port)).includes("v0")) {
        if (Date.now() - start > 15000)
          throw new Error(`${cmd} ${args(port).join(" ")} does not answer`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 1500));
      for (let i = 1; i <= trials; i++) {
        const marker = `v${Date.now()}x${i}`;
        writeFileSync(file, template(marker));
        const t0 = performance.now();
        while (!(await body(port)).includes(marker)) {
          if (performance.now() - t0 > 10000) throw new Error("the new code never answered");
          await new Promise((r) => setTimeout(r, 5));
        }
        samples.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 400 + Math.random() * 1000));
      }
    } finally {
      await stopChild(child);
    }
    return samples;
  }

  const ours = (flavour, reloader) => {
    const dir = mkdtempSync(join(tmpdir(), "lws-bench-dev-"));
    return {
      cmd: process.execPath,
      args: (port) => [
        devReload,
        "--flavour",
        flavour,
        "--reloader",
        reloader,
        "--port",
        String(port),
        "--directory",
        dir,
      ],
      cwd: dir,
      file: join(dir, "app.mjs"),
      template: jsApp,
      dir,
    };
  };
  const realFlask = () => {
    const dir = mkdtempSync(join(tmpdir(), "lws-bench-flask-"));
    return {
      cmd: python,
      args: (port) => ["-m", "flask", "--app", "app", "--debug", "run", "--port", String(port)],
      cwd: dir,
      file: join(dir, "app.py"),
      template: flaskApp,
      env: { PYTHONDONTWRITEBYTECODE: "1" },
      dir,
    };
  };
  const realDjango = () => {
    const dir = mkdtempSync(join(tmpdir(), "lws-bench-django-"));
    execFileSync(python, ["-m", "django", "startproject", "mysite", dir]);
    writeFileSync(
      join(dir, "mysite", "urls.py"),
      `from django.urls import path\nfrom . import views\nurlpatterns = [path("", views.index)]\n`,
    );
    return {
      cmd: python,
      args: (port) => ["manage.py", "runserver", String(port)],
      cwd: dir,
      file: join(dir, "mysite", "views.py"),
      template: djangoViews,
      env: { PYTHONDONTWRITEBYTECODE: "1" },
      dir,
    };
  };
  const measure = async (setup) => {
    try {
      const samples = await reloadLatencies(setup);
      const f = (x) => x.toFixed(0);
      console.log(
        `  ${setup.cmd === process.execPath ? "sandbox" : "real"} ${setup.args(0).slice(1, 5).join(" ")}: min ${f(Math.min(...samples))}  median ${f(median(samples))}  max ${f(Math.max(...samples))} ms  (n=${samples.length})`,
      );
      return median(samples);
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  };

  // events reloader, side by side with the real Flask (stat: watchdog is not installed there).
  const events = ours("flask", "events");
  const eventsMedian = await measure(events);
  report(
    "dev-reload events reloader: save to new code answering (median)",
    eventsMedian,
    "ms",
    undefined,
    150,
  );
  let flaskMedian;
  if (hasFlask) {
    flaskMedian = await measure(realFlask());
    report(
      "dev-reload events reloader vs real flask --debug run (stat)",
      eventsMedian,
      "ms",
      flaskMedian,
      0.25,
    );
  }

  // stat reloader (1 s polls), each flavour against its real server.
  const statFlask = await measure(ours("flask", "stat"));
  if (hasFlask) {
    report(
      "dev-reload stat reloader, flask flavour vs real Flask 2.2 (median)",
      statFlask,
      "ms",
      flaskMedian,
      1.2,
    );
    report(
      "  same run, at least (informational: a busy machine slows Python's restart)",
      statFlask,
      "ms",
      flaskMedian,
    );
  } else
    report(
      "dev-reload stat reloader, flask flavour (median; Flask not installed)",
      statFlask,
      "ms",
    );
  const statDjango = await measure(ours("django", "stat"));
  if (hasDjango) {
    const djangoMedian = await measure(realDjango());
    report(
      "dev-reload stat reloader, django flavour vs real Django 3.2 (median)",
      statDjango,
      "ms",
      djangoMedian,
      1.2,
    );
    report(
      "  same run, at least (informational: a busy machine slows Python's restart)",
      statDjango,
      "ms",
      djangoMedian,
    );
  } else
    report(
      "dev-reload stat reloader, django flavour (median; Django not installed)",
      statDjango,
      "ms",
    );

  // Within 20% of the medians in ../shared/reference/real-servers (an idle 2-core machine):
  // flask-reload-latency-cli.txt 652 ms, django-reload-latency.txt 809 ms.
  for (const [name, value, reference] of [
    ["flask", statFlask, 652],
    ["django", statDjango, 809],
  ]) {
    report(
      `dev-reload stat reloader, ${name} flavour vs the reference transcript, at most`,
      value,
      "ms",
      reference,
      1.2,
    );
    report(
      `dev-reload stat reloader, ${name} flavour vs the reference transcript, at least`,
      value,
      "ms",
      reference,
      0.8,
      "higher",
    );
  }

  // Idle CPU of parent + app child, stat polling every second included.
  const dir = mkdtempSync(join(tmpdir(), "lws-bench-idle-"));
  writeFileSync(join(dir, "app.mjs"), jsApp("idle"));
  const port = await freePort();
  const idle = spawn(process.execPath, [devReload, "--port", String(port), "--directory", dir], {
    stdio: "ignore",
  });
  await waitForBody(port, "idle", body);
  await new Promise((r) => setTimeout(r, 1000));
  const ticks = () =>
    [idle.pid, ...childPids(idle.pid)].reduce((sum, pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return sum + Number(fields[11]) + Number(fields[12]);
      } catch {
        return sum;
      }
    }, 0);
  const before = ticks();
  const idleSeconds = 5;
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const used = ticks() - before;
  await stopChild(idle);
  rmSync(dir, { recursive: true, force: true });
  // /proc counts in clock ticks of 1/100 s on Linux.
  report(
    "dev-reload idle CPU (parent + app child, stat reloader)",
    (used / 100 / idleSeconds) * 100,
    "% of a core",
    undefined,
    2,
  );
}

async function waitForBody(port, text, body) {
  const start = Date.now();
  while (!(await body(port)).includes(text)) {
    if (Date.now() - start > 10000) throw new Error(`no answer on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// --- async: one event loop holding many connections (Tornado / Uvicorn imitation) ---
const asyncSandbox = join(root, "dist", "sandboxes", "async.js");

function openFileLimit() {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [soft, hard] = (line ?? "").split(/\s{2,}/).slice(1, 3);
    return { soft: Number(soft), hard: hard === "unlimited" ? Infinity : Number(hard) };
  } catch {
    return undefined;
  }
}

/** Forks `file` (a node script) under `ulimit -n N` when one is given. */
function forkLimited(file, args, nofile, stderr = "ignore") {
  const stdio = ["ignore", "ignore", stderr, "ipc"];
  if (!nofile) return fork(file, args, { stdio });
  return spawn(
    "sh",
    ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, file, ...args],
    { stdio },
  );
}

function startAsyncSandbox(args, nofile) {
  const child = forkLimited(asyncSandbox, ["--port", "0", ...args], nofile);
  const loops = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("async sandbox did not start")), 10000);
    child.on("message", (m) => {
      if (m?.msg?.type === "loop") loops.push(m.msg);
      if (m?.msg?.type === "listening") {
        clearTimeout(timer);
        resolve({ child, pid: m.msg.pid, port: m.msg.port, loops });
      }
    });
  });
}

// The load process: opens N WebSockets in batches (progress on stderr), then on request sends
// one broadcast and times its arrival at every connection.
const ASYNC_LOAD = `
import { createRequire } from "node:module";
const require = createRequire(${JSON.stringify(join(root, "package.json"))});
const WebSocket = require("ws");
const [port, total] = process.argv.slice(2).map(Number);
const sockets = [];
let failed = 0;
const open = () => new Promise((resolve) => {
  const ws = new WebSocket("ws://127.0.0.1:" + port + "/ws", { perMessageDeflate: false });
  ws.once("open", () => { sockets.push(ws); resolve(); });
  ws.once("error", () => { failed++; resolve(); });
});
const started = Date.now();
for (let i = 0; i < total; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, total - i) }, open));
  process.stderr.write("\\r  opened " + sockets.length + "/" + total + " WebSockets");
}
process.stderr.write("\\n");
process.send({ opened: sockets.length, failed, ms: Date.now() - started });
process.on("message", async (m) => {
  if (m === "broadcast") {
    let got = 0;
    const t0 = performance.now();
    await new Promise((resolve) => {
      for (const ws of sockets) ws.once("message", () => { if (++got === sockets.length) resolve(); });
      sockets[0].send("all:hello");
    });
    process.send({ broadcastMs: performance.now() - t0, received: got });
  }
  if (m === "close") {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
`;

function nextMessage(child) {
  return new Promise((resolve) => child.once("message", resolve));
}

if (wanted("async")) {
  // Hello throughput against one Tornado process (the reference app, access log on both sides).
  const tornadoApp = "/work/shared/reference/real-servers/scripts/tornado_app.py";
  const python = ["python3", "/usr/bin/python3"].find(
    (py) => spawnSync(py, ["-c", "import tornado"], { stdio: "ignore" }).status === 0,
  );
  const hasTornado = existsSync(tornadoApp) && python !== undefined;
  const mine = await startAsyncSandbox([]);
  // Idle event-loop delay: each loop event covers the last second; the median p99 of four
  // seconds that do not overlap, after a quiet second and a half.
  await new Promise((r) => setTimeout(r, 5600));
  const seconds = mine.loops.slice(-16).filter((_, i) => i % 4 === 3);
  report(
    "async sandbox idle event-loop delay p99 (median of 4 one-second windows)",
    seconds.length ? median(seconds.map((l) => l.p99Ms)) : Infinity,
    "ms",
    undefined,
    5,
  );
  const ours = await throughput(mine.port, "/hello");
  await stopChild(mine.child);
  if (hasTornado) {
    const tport = await freePort();
    const py = spawn(python, [tornadoApp, `--port=${tport}`], { stdio: "ignore" });
    await waitForAnswer(tport);
    const theirs = await throughput(tport, "/");
    await stopChild(py);
    report(
      `async sandbox hello throughput vs one Tornado process (${ours.tool})`,
      ours.rps,
      "req/s",
      theirs.rps,
      1.5,
      "higher",
    );
  } else {
    report(
      `async sandbox hello throughput (${ours.tool}; tornado not installed)`,
      ours.rps,
      "req/s",
    );
  }

  // 10,000 idle WebSockets held by the one sandbox process. The limit is per process: the
  // sandbox and the load process each need N descriptors and some spare.
  const N = 10000;
  const limit = openFileLimit();
  const need = N + 1000;
  const nofile = limit && limit.soft < need && limit.hard >= need ? need : undefined;
  if (!limit || (limit.soft < need && !nofile)) {
    console.log(
      `async 10,000 WebSockets: skipped, the open-file limit is ${limit?.soft ?? "unknown"} (needs about ${need}; raise it with ulimit -n ${need})`,
    );
  } else {
    const server = await startAsyncSandbox(["--access-log", "off"], nofile);
    await new Promise((r) => setTimeout(r, 500));
    const before = rssMb(server.pid);
    const dir = mkdtempSync(join(tmpdir(), "lws-async-load-"));
    const script = join(dir, "load.mjs");
    writeFileSync(script, ASYNC_LOAD);
    const load = forkLimited(script, [String(server.port), String(N)], nofile, "inherit");
    const opened = await nextMessage(load);
    await new Promise((r) => setTimeout(r, 3000));
    const after = rssMb(server.pid);
    console.log(
      `  opened ${opened.opened} (${opened.failed} failed) in ${(opened.ms / 1000).toFixed(2)} s; sandbox RSS ${before.toFixed(1)} MB -> ${after.toFixed(1)} MB`,
    );
    report(
      "async sandbox resident memory per idle WebSocket (10,000 open; Tornado ~14 KB)",
      ((after - before) * 1024) / Math.max(1, opened.opened),
      "KB",
      undefined,
      10,
    );
    load.send("broadcast");
    const sent = await nextMessage(load);
    report(
      `async sandbox broadcast to all ${sent.received} WebSockets (Tornado: 0.95 s for 10,000)`,
      sent.broadcastMs / 1000,
      "s",
      undefined,
      0.5,
    );
    load.send("close");
    await new Promise((r) => load.once("exit", r));
    await stopChild(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

// The proxy and classroom budgets are scripts of their own; their verdicts count here too.
let separateOver = 0;
for (const name of ["proxy", "classroom"]) {
  if (!wanted(name)) continue;
  const run = spawnSync(process.execPath, [join(root, "bench", `${name}.mjs`)], {
    stdio: "inherit",
  });
  if (run.status !== 0) separateOver++;
}

const over = results.filter((r) => r.ok === false);
const total = over.length + separateOver;
console.log(
  total
    ? `\n${over.length} over budget${separateOver ? `, and ${separateOver} separate bench(es) over budget` : ""}`
    : "\nall budgets met",
);
process.exitCode = total ? 1 : 0;
