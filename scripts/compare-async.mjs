// Sends the same raw requests to the async sandbox and to the real Tornado 6.2 and Uvicorn
// 0.17.6 (when installed) and prints every difference in the status line, the header names
// (case and order) and the body. Date values and ephemeral details are masked.
//
//   node scripts/build.mjs && node scripts/compare-async.mjs [python3]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const sandbox = join(root, "dist", "sandboxes", "async.js");
const tornadoApp = "/work/shared/reference/real-servers/scripts/tornado_app.py";
const python =
  process.argv[2] ??
  ["python3", "/usr/bin/python3"].find(
    (py) => spawnSync(py, ["-c", "import tornado, uvicorn"], { stdio: "ignore" }).status === 0,
  );
if (!python) {
  console.log("tornado and uvicorn are not installed for python3: nothing to compare against");
  process.exit(0);
}

// The ASGI app the uvicorn flavour plays: a Starlette-like app with /ws and plain responses.
const ASGI_APP = `
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": "echo " + (m.get("text") or "")})
    found = scope["path"] in ("/", "/hello")
    status = 200 if found else 404
    if found and scope["method"] != "GET":
        status = 405
    body = {200: b"hello", 404: b"Not Found", 405: b"Method Not Allowed"}[status]
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})
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

function rawRequest(port, text, extra) {
  return new Promise((resolve) => {
    const chunks = [];
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(text.replaceAll("PORT", String(port)));
      if (extra) setTimeout(() => socket.write(extra), 100);
    });
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => {});
    const finish = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    setTimeout(finish, 500);
  });
}

async function waitFor(port) {
  for (let i = 0; i < 200; i++) {
    const bytes = await new Promise((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (bytes) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function describe(bytes) {
  const text = bytes.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return { head: [], body: JSON.stringify(text) };
  const [status, ...lines] = text.slice(0, end).split("\r\n");
  const head = [
    status,
    ...lines.map((l) => {
      const [name, ...rest] = l.split(": ");
      const value = rest.join(": ");
      return /^date$/i.test(name)
        ? `${name}: <date>`
        : /^etag$/i.test(name)
          ? `${name}: <etag>`
          : `${name}: ${value}`;
    }),
  ];
  return { head, body: JSON.stringify(bytes.subarray(end + 4).toString("latin1")) };
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const upgrade = (extra = "", version = "13") =>
  `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`;
const masked = (payload) => {
  const key = [1, 2, 3, 4];
  return Buffer.from([
    0x81,
    0x80 | payload.length,
    ...key,
    ...payload.map((b, i) => b ^ key[i % 4]),
  ]);
};

const CASES = [
  ["upgrade, no Origin", upgrade(), masked([...Buffer.from("hi")])],
  ["upgrade, same Origin", upgrade("Origin: http://127.0.0.1:PORT\r\n")],
  ["upgrade, cross Origin", upgrade("Origin: http://evil.example\r\n")],
  ["plain GET /ws", "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"],
  [
    "upgrade without a key",
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ],
  ["upgrade, version 8", upgrade("", "8")],
  ["bad UTF-8 frame", upgrade(), masked([0xff, 0xfe])],
  ["GET /nope", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"],
  ["POST /", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"],
  ["GET /nope, Connection: close", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
  [
    "HTTP/1.0 GET /nope, keep-alive",
    "GET /nope HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
  ],
  ["HTTP/1.0 GET /nope", "GET /nope HTTP/1.0\r\nHost: x\r\n\r\n"],
];

async function run(flavour, startReal) {
  const realPort = await freePort();
  const mine = await freePort();
  const real = startReal(realPort);
  const ours = spawn(process.execPath, [sandbox, "--flavour", flavour, "--port", String(mine)], {
    stdio: "ignore",
  });
  try {
    await waitFor(realPort);
    await waitFor(mine);
    let differences = 0;
    for (const [name, text, extra] of CASES) {
      const a = describe(await rawRequest(realPort, text, extra));
      const b = describe(await rawRequest(mine, text, extra));
      const same = JSON.stringify(a) === JSON.stringify(b);
      if (!same) differences++;
      console.log(`${same ? "same" : "DIFF"}  ${flavour}: ${name}`);
      if (!same) {
        console.log(`   real: ${a.head.join(" | ")}  body ${a.body}`);
        console.log(`   ours: ${b.head.join(" | ")}  body ${b.body}`);
      }
    }
    return differences;
  } finally {
    real.kill("SIGKILL");
    ours.kill("SIGKILL");
  }
}

const dir = mkdtempSync(join(tmpdir(), "lws-compare-async-"));
writeFileSync(join(dir, "app.py"), ASGI_APP);
let total = 0;
total += await run("tornado", (port) =>
  spawn(python, [tornadoApp, `--port=${port}`], { stdio: "ignore" }),
);
total += await run("uvicorn", (port) =>
  spawn(python, ["-m", "uvicorn", "app:app", "--port", String(port)], {
    cwd: dir,
    stdio: "ignore",
  }),
);
rmSync(dir, { recursive: true, force: true });
// One difference is deliberate: Tornado drops the connection on a text frame that is not
// UTF-8, where the sandbox closes it with 1007 as RFC 6455 asks (and as Uvicorn's websockets does).
console.log(total ? `\n${total} differences` : "\nno differences");
