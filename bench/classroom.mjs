// The classroom host under a room's load: 60 learners posting an event a second each for 10 s
// (p99 latency, resident memory), and the time from a learner's post to the dashboard's stream.
// Run after a build: node scripts/build.mjs && node bench/classroom.mjs
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { report, verdict } from "./lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");
const LEARNERS = 60;
const SECONDS = 10;
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function rssMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return undefined;
  }
}

/** A POST as the join client sends it: a new connection each time, JSON both ways. */
function post(port, path, body, headers = {}) {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent: false,
        headers: {
          "Content-Type": "application/json",
          "Content-Length": payload.length,
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            ms: performance.now() - started,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function startHost(home) {
  const child = spawn(
    process.execPath,
    [cli, "classroom", "host", "--port", "0", "--json", "--data", join(home, "room.json")],
    { env: { ...process.env, LEARN_WEBSERVERS_HOME: home }, stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the classroom host did not start")), 10000);
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      const end = out.indexOf("\n");
      if (end >= 0 && !child.info) {
        clearTimeout(timer);
        child.info = JSON.parse(out.slice(0, end));
        resolve(child);
      }
    });
    child.once("exit", (code) => reject(new Error(`the classroom host exited with ${code}`)));
  });
}

/** Follows the dashboard's stream; calls `onRoom` with each room snapshot as it arrives. */
function followStream(port, key, onRoom) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: `/api/stream?key=${encodeURIComponent(key)}`, agent: false },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: HTTP ${res.statusCode}`));
        let buffer = "";
        res.setEncoding("utf8").on("data", (d) => {
          buffer += d;
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block
              .split("\n")
              .filter((l) => l.startsWith("data: "))
              .map((l) => l.slice(6))
              .join("\n");
            if (data) onRoom(JSON.parse(data), performance.now());
          }
        });
        resolve(req);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const home = mkdtempSync(join(tmpdir(), "lws-bench-classroom-"));
const host = await startHost(home);
const { port, code, instructorUrl } = host.info;
const key = new URL(instructorUrl).hash.replace(/^#key=/, "");

try {
  const learners = [];
  for (let i = 0; i < LEARNERS + 1; i++) {
    const r = await post(port, "/api/join", { code, name: `Learner ${i + 1}` });
    if (r.status !== 201) throw new Error(`join ${i + 1}: HTTP ${r.status} ${r.body}`);
    learners.push({ ...JSON.parse(r.body), seq: 0 });
  }
  const probe = learners.pop();
  const send = (who, event) =>
    post(
      port,
      `/api/learners/${who.learner}/events`,
      { code, sentAt: Date.now(), events: [{ ...event, seq: ++who.seq, at: Date.now() }] },
      { Authorization: `Bearer ${who.token}` },
    );

  // Dashboard latency: the probe moves to page N; how long until a snapshot shows page N.
  const waiting = new Map();
  const updateMs = [];
  const stream = await followStream(port, key, (room, at) => {
    const page = room.learners.find((l) => l.id === probe.learner)?.position?.page;
    const sentAt = page === undefined ? undefined : waiting.get(page);
    if (sentAt !== undefined) {
      updateMs.push(at - sentAt);
      waiting.delete(page);
    }
  });

  const latencies = [];
  const statuses = new Map();
  const rss = [];
  const lessons = ["http-basics", "http-server", "wsgi", "gunicorn"];
  const started = performance.now();
  const rssTimer = setInterval(() => {
    const mb = rssMb(host.pid);
    if (mb !== undefined) rss.push(mb);
  }, 250);
  const work = learners.map(async (who, i) => {
    // Spread over the second, as a room's clicks are.
    await new Promise((r) => setTimeout(r, (i * 1000) / LEARNERS));
    for (let s = 0; s < SECONDS; s++) {
      const due = started + (i * 1000) / LEARNERS + s * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      const event =
        s % 2 === 0
          ? {
              type: "position",
              position: { lesson: lessons[s % lessons.length], screen: "reader", page: s },
            }
          : { type: "page", lesson: lessons[s % lessons.length], page: s, pageCount: 12 };
      const r = await send(who, event);
      latencies.push(r.ms);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  });
  const probing = (async () => {
    for (let s = 0; s < SECONDS; s++) {
      await new Promise((r) => setTimeout(r, 1000 - ((performance.now() - started) % 1000) + 500));
      waiting.set(s, performance.now());
      await send(probe, {
        type: "position",
        position: { lesson: "wsgi", screen: "reader", page: s },
      });
    }
  })();
  await Promise.all([...work, probing]);
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(rssTimer);
  stream.destroy();

  const statusText = [...statuses].map(([s, n]) => `${n}x ${s}`).join(", ");
  console.log(
    `  ${latencies.length} posts from ${LEARNERS} learners in ${SECONDS} s (${statusText}); ${updateMs.length}/${SECONDS} dashboard updates seen`,
  );
  report(
    `classroom host: p99 post latency, ${LEARNERS} learners x 1 event/s`,
    percentile(latencies, 99),
    "ms",
    undefined,
    50,
  );
  report("classroom host: median post latency (reference)", percentile(latencies, 50), "ms");
  if (statuses.size !== 1 || !statuses.has(200)) {
    report(
      "classroom host: posts refused under that load",
      latencies.length - (statuses.get(200) ?? 0),
      "posts",
      undefined,
      0,
    );
  }
  if (rss.length > 0) {
    report(
      "classroom host: resident memory under that load (peak)",
      Math.max(...rss),
      "MB",
      undefined,
      100,
    );
  }
  report(
    "classroom dashboard: learner post to the stream's update (worst of the run)",
    updateMs.length === SECONDS ? Math.max(...updateMs) : Infinity,
    "ms",
    undefined,
    1000,
  );
  report(
    "classroom dashboard: learner post to update (median, reference)",
    percentile(updateMs, 50),
    "ms",
  );
} finally {
  host.kill("SIGTERM");
  await new Promise((r) => host.once("exit", r));
  rmSync(home, { recursive: true, force: true });
}

verdict();
