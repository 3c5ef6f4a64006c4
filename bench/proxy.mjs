/**
 * The proxy sandbox's budgets (issue 6): hello throughput through the proxy against the same
 * prefork sandbox hit directly, and how many sync workers a slow client ties up with and
 * without the proxy. Run `node scripts/build.mjs` first; `node bench/proxy.mjs [throughput]
 * [slow-client]` runs one part only.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
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
const cli = join(root, "dist", "cli.js");
const only = process.argv.slice(2);
const wanted = (name) => only.length === 0 || only.includes(name);
const WORKERS = 2;
/** Rounds of throughput runs, interleaved: the machine's load drifts, and a median of five holds. */
const ROUNDS = 5;

for (const file of [preforkSandbox, proxySandbox, cli]) {
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

/** The proxy sandbox in front of `upstream` (a URL), with no IPC (so no events) and no logs kept. */
async function startProxy(upstream) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [proxySandbox, "--port", String(port), "--upstream", upstream],
    { stdio: "ignore" },
  );
  await waitForPath(port, "/");
  return { child, port };
}

/**
 * The proxy as a learner runs it, `learn-webservers sandbox proxy`, with its defaults: it starts
 * its own app server (the prefork sandbox, `WORKERS` workers) on a Unix socket, as the lesson's
 * nginx.conf passes to Gunicorn, and on a TCP port for reaching it directly. Resolves with both
 * addresses once every worker answers.
 */
function startProxyWithApp() {
  const child = spawn(
    process.execPath,
    [cli, "sandbox", "proxy", "--port", "0", "--workers", String(WORKERS)],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the proxy did not start")), 15000);
    let text = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      if (text.length < 65536) text += chunk;
      const app = /Listening at: unix:([^,\s]+),http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      const port = /proxy listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1];
      if (!app || port === undefined) return;
      clearTimeout(timer);
      child.stderr.removeAllListeners("data");
      child.stderr.resume();
      resolve({ child, port: Number(port), socket: app[1], appPort: Number(app[2]) });
    });
    child.once("exit", () => reject(new Error(`the proxy exited:\n${text}`)));
  });
}

/**
 * A real nginx in front of `upstream` (`unix:PATH` or `127.0.0.1:PORT`), configured as
 * Gunicorn's docs show, for reference; undefined when nginx is not installed.
 */
async function startNginx(upstream) {
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
  upstream app_server { server ${upstream} fail_timeout=0; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Host $http_host;
      proxy_redirect off;
      proxy_pass http://app_server;
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
  const nginxDirs = [];
  try {
    const proxy = await startProxyWithApp();
    started.push(proxy.child);
    const tcpProxy = await startProxy(`http://127.0.0.1:${proxy.appPort}`);
    started.push(tcpProxy.child);
    const fronts = [
      { name: "proxy", port: proxy.port },
      { name: "proxy-tcp", port: tcpProxy.port },
    ];
    for (const [name, upstream] of [
      ["nginx", `unix:${proxy.socket}`],
      ["nginx-tcp", `127.0.0.1:${proxy.appPort}`],
    ]) {
      const nginx = await startNginx(upstream);
      if (!nginx) continue;
      started.push(nginx.child);
      nginxDirs.push(nginx.dir);
      fronts.push({ name, port: nginx.port });
    }
    await throughput(proxy.appPort, "/", 1);
    for (const front of fronts) await throughput(front.port, "/", 1);
    const direct = [];
    const through = Object.fromEntries(fronts.map((f) => [f.name, []]));
    let tool = "";
    // Interleaved, so that a change in the machine's load hits all alike.
    for (let i = 0; i < ROUNDS; i++) {
      const d = await throughput(proxy.appPort, "/");
      direct.push(d.rps);
      tool = d.tool;
      for (const front of fronts) through[front.name].push((await throughput(front.port, "/")).rps);
    }
    report(
      `proxy: hello req/s through the proxy (its app server on a Unix socket, as the lesson's nginx.conf) vs that app server hit directly over TCP, ${WORKERS} workers (${tool}, median of ${ROUNDS})`,
      median(through.proxy),
      "req/s",
      median(direct),
      0.6,
      "higher",
    );
    report(
      "proxy: the same, the proxy passing to the app server over TCP (--upstream http://127.0.0.1:PORT; reference)",
      median(through["proxy-tcp"]),
      "req/s",
      median(direct),
    );
    if (through.nginx) {
      report(
        "proxy: hello req/s through a real nginx 1.22 over the same Unix socket (reference)",
        median(through.nginx),
        "req/s",
        median(direct),
      );
      report(
        "proxy: hello req/s through a real nginx 1.22 over TCP (reference)",
        median(through["nginx-tcp"]),
        "req/s",
        median(direct),
      );
    }
  } finally {
    // The front servers first, the proxy that started the app server last.
    for (const child of started.reverse()) await stop(child);
    for (const dir of nginxDirs) rmSync(dir, { recursive: true, force: true });
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
  const proxy = await startProxyWithApp();
  let behind;
  let direct;
  try {
    behind = await slowClientTiesUp(proxy.appPort, proxy.port, 10);
    direct = await slowClientTiesUp(proxy.appPort, proxy.appPort, 10);
  } finally {
    await stop(proxy.child);
  }
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
