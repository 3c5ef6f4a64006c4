/**
 * The proxy sandbox's budgets (issue 6): hello throughput through the proxy against the same
 * prefork sandbox hit directly, and how many sync workers a slow client ties up with and
 * without the proxy. Run `node scripts/build.mjs` first; `node bench/proxy.mjs [throughput]
 * [slow-client]` runs one part only.
 */
import { execFileSync, fork, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, median, report, verdict } from "./lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const preforkSandbox = join(root, "dist", "sandboxes", "prefork.js");
const proxySandbox = join(root, "dist", "sandboxes", "proxy.js");
const relayScript = join(root, "bench", "relay.mjs");
const only = process.argv.slice(2);
const wanted = (name) => only.length === 0 || only.includes(name);
const WORKERS = 2;

for (const file of [preforkSandbox, proxySandbox]) {
  if (!existsSync(file)) {
    console.error(`${file} is missing: run node scripts/build.mjs first`);
    process.exit(1);
  }
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

async function waitForPath(port, path, deadlineMs = 8000) {
  const start = Date.now();
  for (;;) {
    try {
      return await get(port, path);
    } catch {
      if (Date.now() - start > deadlineMs) throw new Error(`no answer on port ${port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function hasCommand(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

async function throughput(port, path, seconds = 4) {
  if (hasCommand("wrk")) {
    const out = execFileSync(
      "wrk",
      ["-t2", "-c50", `-d${seconds}s`, `http://127.0.0.1:${port}${path}`],
      { encoding: "utf8" },
    );
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      tool: `wrk -t2 -c50 -d${seconds}s`,
    };
  }
  const deadline = Date.now() + seconds * 1000;
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
  return {
    rps: (done * 1000) / (Date.now() - start),
    tool: `node client, 50 connections, ${seconds} s`,
  };
}

/** The prefork sandbox (Gunicorn flavour) with IPC; resolves once every worker answers. */
function startPrefork(args) {
  const child = fork(preforkSandbox, ["--port", "0", ...args], { stdio: "ignore" });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("prefork did not start")), 10000);
    child.on("message", (m) => {
      if (m?.msg?.type === "listening") {
        clearTimeout(timer);
        resolve({ child, port: m.msg.port });
      }
    });
  });
}

/** The proxy in front of `upstreamPort`, as a learner runs it (no IPC, logs discarded). */
async function startProxy(upstreamPort) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [proxySandbox, "--port", String(port), "--upstream", `http://127.0.0.1:${upstreamPort}`],
    { stdio: "ignore" },
  );
  await waitForPath(port, "/");
  return { child, port };
}

/** The minimal Node relay (bench/relay.mjs) in front of `upstreamPort`: Node's floor, for reference. */
async function startRelay(upstreamPort) {
  const port = await freePort();
  const child = spawn(process.execPath, [relayScript, String(port), String(upstreamPort)], {
    stdio: "ignore",
  });
  await waitForPath(port, "/");
  return { child, port };
}

/**
 * A real nginx in front of `upstreamPort`, configured as Gunicorn's docs show, for reference;
 * undefined when nginx is not installed.
 */
async function startNginx(upstreamPort) {
  if (!hasCommand("nginx")) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "lws-bench-nginx-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "tmp"));
  const port = await freePort();
  const tmp = join(dir, "tmp");
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1;
${process.getuid?.() === 0 ? `user ${userInfo().username};\n` : ""}error_log ${join(dir, "error.log")};
pid ${join(dir, "nginx.pid")};
daemon off;
events { worker_connections 1024; }
http {
  access_log ${join(dir, "access.log")};
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Host $http_host;
      proxy_redirect off;
      proxy_pass http://127.0.0.1:${upstreamPort};
    }
  }
}
`,
  );
  const child = spawn("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" });
  try {
    await waitForPath(port, "/");
  } catch {
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return { child, port, dir };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

if (wanted("throughput")) {
  const started = [];
  let nginxDir;
  try {
    const app = await startPrefork(["--workers", String(WORKERS)]);
    started.push(app.child);
    const proxy = await startProxy(app.port);
    started.push(proxy.child);
    await throughput(app.port, "/", 1);
    await throughput(proxy.port, "/", 1);
    const nginx = await startNginx(app.port);
    if (nginx) {
      started.push(nginx.child);
      nginxDir = nginx.dir;
    }
    const relay = await startRelay(app.port);
    started.push(relay.child);
    await throughput(relay.port, "/", 1);
    const direct = [];
    const proxied = [];
    const real = [];
    const relayed = [];
    let tool = "";
    // Interleaved, so that a change in the machine's load hits all alike.
    for (let i = 0; i < 3; i++) {
      const d = await throughput(app.port, "/");
      const p = await throughput(proxy.port, "/");
      if (nginx) real.push((await throughput(nginx.port, "/")).rps);
      relayed.push((await throughput(relay.port, "/")).rps);
      direct.push(d.rps);
      proxied.push(p.rps);
      tool = d.tool;
    }
    report(
      `proxy: hello req/s through the proxy vs the prefork sandbox directly, ${WORKERS} workers (${tool}, median of 3)`,
      median(proxied),
      "req/s",
      median(direct),
      0.6,
      "higher",
    );
    if (nginx) {
      report(
        "proxy: hello req/s through a real nginx 1.22 vs the same prefork sandbox directly (reference)",
        median(real),
        "req/s",
        median(direct),
      );
    }
    report(
      "proxy: hello req/s through a minimal Node relay (bench/relay.mjs: no limits, logs or timeouts) vs the same (reference: about the most a Node front server reaches here)",
      median(relayed),
      "req/s",
      median(direct),
    );
  } finally {
    // The front servers first, the app server they stand in front of last.
    for (const child of started.reverse()) await stop(child);
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  }
}

/**
 * How many of the app server's workers are busy right now, seen from outside: `WORKERS`
 * requests of 500 ms sent at once straight to the app server; each one answered within
 * 850 ms found a free worker, the others waited behind a worker that was tied up.
 */
async function tiedUpWorkers(appPort) {
  const started = performance.now();
  const answered = await Promise.all(
    Array.from({ length: WORKERS }, () =>
      get(appPort, "/slow?ms=500").then(() => performance.now() - started),
    ),
  );
  return WORKERS - answered.filter((ms) => ms < 850).length;
}

/** A client that sends its request head one byte every `gapMs`, over `seconds`. */
function trickle(port, seconds) {
  const head = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: slow-client\r\n`;
  const padding = "X-Slow: ";
  const total = Math.round((seconds * 1000) / 100);
  const bytes = Buffer.from(
    `${head}${padding}${"a".repeat(Math.max(0, total - head.length - padding.length))}`,
  );
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.resume();
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < bytes.length) {
        socket.write(bytes.subarray(sent, sent + 1));
        sent++;
        return;
      }
      clearInterval(timer);
      socket.end("\r\n\r\n");
      socket.once("close", resolve);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 5000).unref();
    }, 100);
  });
}

async function slowClientTiesUp(appPort, targetPort, seconds) {
  const done = trickle(targetPort, seconds);
  await new Promise((r) => setTimeout(r, 1000));
  let most = 0;
  const until = performance.now() + (seconds - 2) * 1000;
  while (performance.now() < until) {
    most = Math.max(most, await tiedUpWorkers(appPort));
    await new Promise((r) => setTimeout(r, 500));
  }
  await done;
  return most;
}

if (wanted("slow-client")) {
  const app = await startPrefork(["--workers", String(WORKERS)]);
  const proxy = await startProxy(app.port);
  const behind = await slowClientTiesUp(app.port, proxy.port, 10);
  const direct = await slowClientTiesUp(app.port, app.port, 10);
  await stop(proxy.child);
  await stop(app.child);
  report(
    `proxy: workers a slow client (one byte per 100 ms for 10 s) ties up behind the proxy, of ${WORKERS}`,
    behind,
    "workers",
    undefined,
    0,
  );
  report(
    `proxy: workers the same slow client ties up hitting the prefork sandbox directly (reference, expected 1)`,
    direct,
    "workers",
  );
}

verdict();
