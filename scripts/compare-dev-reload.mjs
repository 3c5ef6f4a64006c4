#!/usr/bin/env node
// Runs the real `flask --app app --debug run` and `manage.py runserver` beside the dev-reload
// sandbox (flask and django flavours) on equivalent apps, sends each the same requests, and
// prints the differences in banners, status lines, header names and order, and log lines
// (dates, ports, PINs and pids masked). Needs Flask and Django importable by the interpreter.
//
//   node scripts/build.mjs && node scripts/compare-dev-reload.mjs [--verbose]
//
// PYTHON=/path/to/python3 picks the interpreter (default: /usr/bin/python3, else python3).

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const sandbox = join(root, "dist", "sandboxes", "dev-reload.js");
const verbose = process.argv.includes("--verbose");
const python = [process.env.PYTHON, "/usr/bin/python3", "python3"]
  .filter(Boolean)
  .find((cmd) => spawnSync(cmd, ["-c", "import flask, django"], { stdio: "ignore" }).status === 0);
if (!python) {
  console.log("Flask and Django are not installed for any python3 here: nothing to compare.");
  process.exit(0);
}
if (!existsSync(sandbox)) {
  console.error(`${sandbox} is missing: run node scripts/build.mjs first`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function raw(port, text) {
  return new Promise((resolve) => {
    const chunks = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => {});
    socket.setTimeout(5000, () => socket.destroy());
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

async function start(cmd, args, cwd) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, PYTHONUNBUFFERED: "1", FORCE_COLOR: "0" },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return { child, out: () => out, err: () => err };
}

async function waitAnswer(port) {
  for (let i = 0; i < 400; i++) {
    if ((await raw(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("HTTP/")) return;
    await sleep(25);
  }
  throw new Error(`nothing answers on ${port}`);
}

const mask = (text, port) =>
  text
    .replaceAll(String(port), "PORT")
    .replace(/\d\d\/[A-Z][a-z]{2}\/\d{4} \d\d:\d\d:\d\d/g, "DATE")
    .replace(/[A-Z][a-z]+ \d\d, \d{4} - \d\d:\d\d:\d\d/g, "LONGDATE")
    .replace(/PIN: \d{3}-\d{3}-\d{3}/g, "PIN: NNN-NNN-NNN")
    .replace(/Date: .*\r\n/g, "Date: DATE\r\n")
    .replace(/Content-Length: \d+/g, "Content-Length: N")
    .replace(/\.(py|mjs)\b/g, ".EXT");

function shape(response) {
  const head = response.split("\r\n\r\n")[0] ?? "";
  const [status, ...headers] = head.split("\r\n");
  return [status, ...headers.map((h) => h.split(":")[0])].join(" | ");
}

let differences = 0;
function compare(what, real, ours) {
  if (real === ours) {
    if (verbose) console.log(`same   ${what}: ${real}`);
    return;
  }
  differences++;
  console.log(`DIFF   ${what}\n  real: ${JSON.stringify(real)}\n  ours: ${JSON.stringify(ours)}`);
}

// Django (DEBUG, no ALLOWED_HOSTS) answers 400 DisallowedHost to Host: x (both sides get it).
const REQUESTS = [
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  "GET /boom HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  "GET /info HTTP/1.1\r\nHost: localhost\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n",
  "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
  "GARBAGE\r\n\r\n",
];

async function side(name, realSetup, oursArgs, extra = []) {
  const realPort = await freePort();
  const oursPort = await freePort();
  const real = await start(python, realSetup.args(realPort), realSetup.dir);
  const ours = await start(
    process.execPath,
    [sandbox, ...oursArgs, "--port", String(oursPort)],
    realSetup.oursDir,
  );
  try {
    await Promise.all([waitAnswer(realPort), waitAnswer(oursPort)]);
    for (const req of [...REQUESTS, ...extra]) {
      const [a, b] = await Promise.all([raw(realPort, req), raw(oursPort, req)]);
      compare(
        `${name} ${JSON.stringify(req.split("\r\n")[0])}`,
        shape(mask(a, realPort)),
        shape(mask(b, oursPort)),
      );
    }
    await sleep(300);
    const lines = (t, port) =>
      mask(t, port)
        .split("\n")
        .filter(
          (l) => l && !l.startsWith("  ") && !l.startsWith("Traceback") && !/^\w*Error/.test(l),
        );
    compare(
      `${name} stdout`,
      lines(real.out(), realPort).join("\n"),
      lines(ours.out(), oursPort).join("\n"),
    );
    compare(
      `${name} stderr`,
      lines(real.err(), realPort).join("\n"),
      lines(ours.err(), oursPort).join("\n"),
    );
  } finally {
    real.child.kill("SIGINT");
    ours.child.kill("SIGINT");
    await sleep(300);
  }
}

const flaskDir = mkdtempSync(join(tmpdir(), "lws-cmp-flask-"));
writeFileSync(
  join(flaskDir, "app.py"),
  `from flask import Flask\napp = Flask(__name__)\n\n@app.route("/")\ndef index():\n    return "Hello, World!"\n\n@app.route("/boom")\ndef boom():\n    raise RuntimeError("boom")\n`,
);
const oursFlask = mkdtempSync(join(tmpdir(), "lws-cmp-flask-ours-"));
cpSync(join(root, "sandboxes", "dev-reload", "flask-app"), oursFlask, { recursive: true });
await side(
  "flask",
  {
    dir: flaskDir,
    oursDir: oursFlask,
    args: (port) => ["-m", "flask", "--app", "app", "--debug", "run", "--port", String(port)],
  },
  ["--directory", oursFlask],
  ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"],
);

const djangoDir = mkdtempSync(join(tmpdir(), "lws-cmp-django-"));
execFileSync(python, ["-m", "django", "startproject", "mysite", djangoDir]);
writeFileSync(
  join(djangoDir, "mysite", "views.py"),
  `from django.http import HttpResponse\n\ndef index(request):\n    return HttpResponse("Hello, World!")\n\ndef boom(request):\n    raise RuntimeError("boom")\n\ndef info(request):\n    return HttpResponse("info")\n`,
);
writeFileSync(
  join(djangoDir, "mysite", "urls.py"),
  `from django.urls import path\nfrom . import views\nurlpatterns = [path("", views.index), path("boom", views.boom), path("info/", views.info)]\n`,
);
const oursDjango = mkdtempSync(join(tmpdir(), "lws-cmp-django-ours-"));
cpSync(join(root, "sandboxes", "dev-reload", "django-app"), oursDjango, { recursive: true });
await side(
  "django",
  { dir: djangoDir, oursDir: oursDjango, args: (port) => ["manage.py", "runserver", String(port)] },
  ["--flavour", "django", "--directory", oursDjango],
  [],
);

for (const dir of [flaskDir, oursFlask, djangoDir, oursDjango])
  rmSync(dir, { recursive: true, force: true });
console.log(
  differences === 0
    ? "no differences"
    : `${differences} difference(s); the deliberate ones are listed in docs/ARCHITECTURE.md and the dev-reload report`,
);
