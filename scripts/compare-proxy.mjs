// Sends the same raw requests to the proxy sandbox and to a real nginx (both in front of the same
// real Gunicorn, both serving the same static folder) and prints every difference in the status
// line, the header names and order, the error pages, the access-log lines and the error-log
// messages. Dates, ETags, ports and pids are masked.
//
//   node scripts/build.mjs && node scripts/compare-proxy.mjs
//
// Needs nginx and gunicorn on PATH (Debian: apt-get install nginx gunicorn); nginx runs as the
// current user with every path in a temporary folder.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const sandbox = join(root, "dist", "sandboxes", "proxy.js");
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
if (!has("nginx") || !has("gunicorn")) {
  console.log("nginx or gunicorn is not installed: nothing to compare against");
  process.exit(0);
}

const APP = `
import os, time
from urllib.parse import parse_qs

def app(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":
        time.sleep(float(qs.get("s", ["1"])[0]))
    if path == "/environ":
        body = "".join(f"{k}={v}\\n" for k, v in sorted(environ.items()) if k.startswith("HTTP_")).encode()
    else:
        body = b"hello from gunicorn\\n"
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    if path == "/private":
        headers.append(("Cache-Control", "private"))
    start_response("200 OK", headers)
    return [body]
`;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function rawRequest(port, bytes, waitMs = 600) {
  return new Promise((resolve) => {
    const chunks = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => {});
    const finish = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.on("close", finish);
    setTimeout(finish, waitMs);
  });
}

async function waitForPort(port, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** Status line, header names in order, and the body, with what changes from run to run masked. */
function shape(bytes) {
  const text = bytes.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return { status: text.slice(0, 60) || "(nothing)", headers: [], body: "" };
  const [status, ...lines] = text.slice(0, end).split("\r\n");
  const headers = lines.map((l) => {
    const [name, ...rest] = l.split(": ");
    const value = rest.join(": ");
    if (/^(date|etag|last-modified)$/i.test(name)) return name;
    return `${name}: ${value.replace(/:\d{2,5}\b/g, ":PORT")}`;
  });
  return { status, headers, body: text.slice(end + 4).replace(/pid=\d+/g, "pid=N") };
}

const maskLog = (line) =>
  line
    .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d/, "DATE")
    .replace(/\d+#\d+: \*\d+/, "PID#TID: *N")
    .replace(/\[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/, "[TIME]")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT")
    .replace(/"\/[^"]*static\//g, '"STATIC/')
    .replace("openat()", "open()");
const short = (text) =>
  text && text.length > 160 ? `${text.slice(0, 150)}... (${text.length})` : text;

const dir = mkdtempSync(join(tmpdir(), "lws-compare-proxy-"));
// nginx's workers run as another user when it is started as root: let them read the folder.
chmodSync(dir, 0o755);
const children = [];
let differences = 0;
try {
  const site = join(dir, "site");
  mkdirSync(join(site, "static", "sub"), { recursive: true });
  writeFileSync(join(site, "static", "hello.txt"), "hello\n");
  writeFileSync(join(site, "static", "index.html"), "<h1>static</h1>\n");
  writeFileSync(join(site, "secret.txt"), "secret\n");
  symlinkSync(join(site, "secret.txt"), join(site, "static", "out.txt"));
  writeFileSync(join(dir, "app.py"), APP);
  for (const sub of ["logs", "tmp"]) mkdirSync(join(dir, sub));

  const [appPort, deadPort, nginxPort, ourPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const app = spawn("gunicorn", ["-b", `127.0.0.1:${appPort}`, "--chdir", dir, "app:app"], {
    stdio: "ignore",
  });
  children.push(app);
  const tmp = join(dir, "tmp");
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1;
${process.getuid?.() === 0 ? `user ${userInfo().username};\n` : ""}error_log ${join(dir, "logs", "error.log")} notice;
pid ${join(dir, "nginx.pid")};
daemon off;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${join(dir, "logs", "access.log")};
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  proxy_cache_path ${tmp}/cache keys_zone=micro:1m;
  disable_symlinks on;
  upstream app_server { server 127.0.0.1:${appPort}; server 127.0.0.1:${deadPort}; }
  server {
    listen 127.0.0.1:${nginxPort};
    server_name localhost;
    location /static/ { alias ${join(site, "static")}/; }
    location / {
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Host $http_host;
      proxy_set_header X-Request-ID $request_id;
      proxy_redirect off;
      proxy_read_timeout 2s;
      proxy_cache micro;
      proxy_cache_valid 200 5s;
      add_header X-Cache $upstream_cache_status;
      proxy_pass http://app_server;
    }
  }
}
`,
  );
  const nginx = spawn("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" });
  children.push(nginx);
  const ours = spawn(
    process.execPath,
    [
      sandbox,
      "--port",
      String(ourPort),
      "--upstream",
      `http://127.0.0.1:${appPort}`,
      "--upstream",
      `http://127.0.0.1:${deadPort}`,
      "--static",
      join(site, "static"),
      "--read-timeout",
      "2",
      "--cache",
      "5",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(ours);
  let ourOut = "";
  let ourErr = "";
  ours.stdout.setEncoding("utf8").on("data", (d) => {
    ourOut += d;
  });
  ours.stderr.setEncoding("utf8").on("data", (d) => {
    ourErr += d;
  });
  await Promise.all([waitForPort(appPort), waitForPort(nginxPort), waitForPort(ourPort)]);

  const H = "Host: 127.0.0.1\r\nUser-Agent: compare/1.0\r\n";
  const requests = [
    `GET / HTTP/1.1\r\n${H}\r\n`,
    `GET / HTTP/1.1\r\n${H}\r\n`,
    `GET /environ?x=1 HTTP/1.1\r\n${H}X-Forwarded-For: 203.0.113.7\r\n\r\n`,
    `GET /private HTTP/1.1\r\n${H}\r\n`,
    `GET /static/hello.txt HTTP/1.1\r\n${H}\r\n`,
    `HEAD /static/hello.txt HTTP/1.1\r\n${H}\r\n`,
    `GET /static/hello.txt HTTP/1.0\r\n\r\n`,
    `GET /static/hello.txt HTTP/1.1\r\n${H}Range: bytes=1-3\r\n\r\n`,
    `GET /static/nope HTTP/1.1\r\n${H}\r\n`,
    `GET /static/sub HTTP/1.1\r\n${H}\r\n`,
    `GET /static/sub/ HTTP/1.1\r\n${H}\r\n`,
    `GET /static/ HTTP/1.1\r\n${H}\r\n`,
    `GET /static/out.txt HTTP/1.1\r\n${H}\r\n`,
    `POST /static/hello.txt HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`,
    `GET /../secret.txt HTTP/1.1\r\n${H}\r\n`,
    `GET /static/%2e%2e/%2e%2e/secret.txt HTTP/1.1\r\n${H}\r\n`,
    `GET /static/a%00b HTTP/1.1\r\n${H}\r\n`,
    "garbage\r\n\r\n",
    `get / HTTP/1.1\r\n${H}\r\n`,
    "GET / HTTP/1.1\r\n\r\n",
    `GET / HTTP/2.0\r\n${H}\r\n`,
    `GET /${"a".repeat(9000)} HTTP/1.1\r\n${H}\r\n`,
    `GET / HTTP/1.1\r\n${H}Cookie: ${"c".repeat(9000)}\r\n\r\n`,
    `POST /upload HTTP/1.1\r\n${H}Content-Length: 2000000\r\n\r\n`,
    `POST /upload HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`,
    `GET /sleep?s=3 HTTP/1.1\r\n${H}\r\n`,
  ];
  for (const request of requests) {
    const wait = request.includes("sleep") ? 7000 : 800;
    const [theirs, mine] = await Promise.all([
      rawRequest(nginxPort, request, wait),
      rawRequest(ourPort, request, wait),
    ]);
    const a = shape(theirs);
    const b = shape(mine);
    const label = request.split("\r\n")[0].slice(0, 60);
    const problems = [];
    if (a.status !== b.status) problems.push(`status: nginx "${a.status}", ours "${b.status}"`);
    if (a.headers.join("|") !== b.headers.join("|"))
      problems.push(
        `headers:\n    nginx ${a.headers.join(" | ")}\n    ours  ${b.headers.join(" | ")}`,
      );
    if (
      a.body !== b.body &&
      (a.status.includes(" 4") || a.status.includes(" 5") || !a.body.includes("HTTP_"))
    )
      problems.push(
        `body:\n    nginx ${JSON.stringify(a.body.slice(0, 200))}\n    ours  ${JSON.stringify(b.body.slice(0, 200))}`,
      );
    if (problems.length > 0) {
      differences++;
      console.log(`- ${label}\n  ${problems.join("\n  ")}`);
    }
  }

  await new Promise((r) => setTimeout(r, 300));
  const theirAccess = readFileSync(join(dir, "logs", "access.log"), "utf8")
    .trim()
    .split("\n")
    .map(maskLog);
  const ourAccess = ourOut.trim().split("\n").map(maskLog);
  for (let i = 0; i < Math.max(theirAccess.length, ourAccess.length); i++) {
    if (theirAccess[i] !== ourAccess[i]) {
      differences++;
      console.log(
        `- access log line ${i + 1}\n    nginx ${short(theirAccess[i])}\n    ours  ${short(ourAccess[i])}`,
      );
    }
  }
  const messages = (text) =>
    text
      .split("\n")
      .filter((l) => / \[(error|emerg|crit|alert)\] /.test(l))
      .map((l) => maskLog(l).replace(/^.*?\*N /, ""));
  const theirErrors = messages(readFileSync(join(dir, "logs", "error.log"), "utf8"));
  const ourErrors = messages(ourErr);
  for (const line of theirErrors) {
    if (!ourErrors.includes(line)) {
      differences++;
      console.log(`- error log, only nginx: ${line}`);
    }
  }
  for (const line of ourErrors) {
    if (!theirErrors.includes(line)) {
      differences++;
      console.log(`- error log, only ours: ${line}`);
    }
  }
  console.log(
    differences === 0
      ? `no differences in ${requests.length} requests`
      : `${differences} difference(s) in ${requests.length} requests`,
  );
} finally {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  rmSync(dir, { recursive: true, force: true });
}
