import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Lab, labSchema, type Mission } from "../../src/course/schema.js";
import { LabSession } from "../../src/lab/session.js";
import { stopAll } from "../../src/lab/supervisor.js";
import type { LabSessionSnapshot } from "../../src/lab/types.js";
import { ProgressStore } from "../../src/progress/store.js";

const homes: string[] = [];
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-session-"));
  homes.push(dir);
  return dir;
}

afterAll(async () => {
  await stopAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const lab: Lab = labSchema.parse({
  sandbox: "static",
  workspace: "demo-site",
  intro: "Serve a folder.",
  experiments: [
    {
      key: 1,
      id: "get-root",
      title: "GET /",
      explain: "x",
      action: { kind: "request", path: "/" },
    },
    {
      key: 2,
      id: "write-hello",
      title: "Write my-note.txt",
      explain: "x",
      action: { kind: "write-file", file: "my-note.txt", content: "hello\n" },
    },
    {
      key: 3,
      id: "single",
      title: "One thread",
      explain: "x",
      action: { kind: "restart", options: { threading: false } },
    },
    {
      key: 4,
      id: "burst",
      title: "Burst",
      explain: "x",
      action: { kind: "burst", path: "/my-note.txt", count: 40, concurrency: 5 },
    },
  ],
  missions: [
    {
      id: "own-request",
      title: "Fetch my-note.txt yourself",
      hint: "curl 127.0.0.1:PORT/my-note.txt",
      when: { event: "request", from: "learner", match: { path: "/my-note.txt", status: 200 } },
    },
    {
      id: "lab-get",
      title: "Run experiment 1",
      hint: "press 1",
      when: { event: "experiment", match: { id: "get-root", "values.status": 200 } },
    },
    {
      id: "lab-requests",
      title: "Lab requests",
      hint: "press 4",
      when: { event: "request", from: "lab", count: 30 },
    },
  ],
});

function until(session: LabSession, test: (s: LabSessionSnapshot) => boolean, ms = 5000) {
  return new Promise<LabSessionSnapshot>((resolve, reject) => {
    if (test(session.snapshot())) return resolve(session.snapshot());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out; state ${session.snapshot().state}`));
    }, ms);
    const off = session.subscribe((s) => {
      if (test(s)) {
        clearTimeout(timer);
        off();
        resolve(s);
      }
    });
  });
}

function learnerGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { "User-Agent": "curl/8.5.0" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

describe("LabSession", () => {
  it("runs a lab end to end and saves what the learner did", async () => {
    const h = home();
    const progress = ProgressStore.open({ home: h });
    const session = new LabSession({ lessonId: "http-server", lab, progress });
    const seen: LabSessionSnapshot[] = [];
    session.subscribe((s) => seen.push(s));
    const met: Mission[][] = [];
    session.onMissionMet((m) => met.push(m));

    expect(session.curlCommand()).toBeUndefined();
    await session.start();
    const s = session.snapshot();
    expect(s.state).toBe("listening");
    expect(s.port).toBeGreaterThan(0);
    expect(s.workspace).toBe(join(h, "workspaces", "http-server"));
    expect(existsSync(join(h, "workspaces", "http-server"))).toBe(true);
    expect(session.curlCommand()).toBe(`curl -v http://127.0.0.1:${s.port}/`);
    const own = s.missions.find((m) => m.id === "own-request");
    expect(own?.hint).toBe(`curl 127.0.0.1:${s.port}/my-note.txt`);
    expect(seen.map((x) => x.state)).toContain("starting");
    expect(ProgressStore.open({ home: h }).lesson("http-server")?.labOpened).toBe(true);
    const banner = await until(session, (x) =>
      x.logs.some((l) => l.text.startsWith("Serving HTTP")),
    );
    expect(banner.logs.find((l) => l.stream === "stdout")?.text).toContain(`port ${s.port}`);

    const first = session.runExperiment(1);
    const second = session.runExperiment(2);
    expect(session.snapshot().running?.experimentId).toBe("get-root");
    const r1 = await first;
    expect(r1?.ok).toBe(true);
    expect(r1?.exchange?.response).toMatch(/^HTTP\/1\.0 200 OK/);
    expect(session.snapshot().running?.experimentId).toBe("write-hello");
    expect(met.flat().map((m) => m.id)).toEqual(["lab-get"]);
    const r2 = await second;
    expect(r2?.ok).toBe(true);
    expect(session.snapshot().lastResult).toBe(r2);
    expect(session.snapshot().running).toBeUndefined();
    expect(await learnerGet(`http://127.0.0.1:${s.port}/my-note.txt`)).toBe(200);
    const after = await until(session, (x) =>
      x.missions.some((m) => m.id === "own-request" && m.met),
    );
    expect(after.requests.at(-1)?.requestHeaders["user-agent"]).toBe("curl/8.5.0");
    expect(met.flat().map((m) => m.id)).toEqual(["lab-get", "own-request"]);
    const saved = ProgressStore.open({ home: h }).lesson("http-server")?.missionsMet;
    expect(saved).toEqual(["lab-get", "own-request"]);

    const { logs } = await until(session, (x) =>
      x.logs.some(
        (l) => l.stream === "stderr" && l.text.includes('"GET /my-note.txt HTTP/1.1" 200'),
      ),
    );
    const seqs = logs.map((l) => l.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);

    const r3 = await session.runExperiment(3);
    expect(r3?.ok).toBe(true);
    const restarted = session.snapshot();
    expect(restarted.state).toBe("listening");
    expect(restarted.port).toBe(s.port);
    expect(restarted.pid).not.toBe(s.pid);
    expect(restarted.options).toEqual({ threading: false });
    expect(
      restarted.logs.some((l) => l.stream === "lab" && l.text.includes("--threading off")),
    ).toBe(true);

    const burstProgress: number[] = [];
    const off = session.subscribe((x) => {
      if (x.running?.progress) burstProgress.push(x.running.progress.done);
    });
    const r4 = await session.runExperiment(4);
    off();
    expect(r4?.values).toMatchObject({ requests: 40, ok: 40 });
    expect(burstProgress.length).toBeGreaterThan(0);
    expect(burstProgress.length).toBeLessThan(40);
    expect(session.snapshot().missions.find((m) => m.id === "lab-requests")?.met).toBe(true);
    expect(session.snapshot().logs.length).toBeLessThanOrEqual(300);

    const pid = restarted.pid as number;
    await session.stop();
    expect(session.snapshot().state).toBe("stopped");
    expect(() => process.kill(pid, 0)).toThrow();
    expect(session.curlCommand()).toBeUndefined();
    expect((await session.runExperiment(1))?.ok).toBe(false);

    const again = new LabSession({
      lessonId: "http-server",
      lab,
      progress: ProgressStore.open({ home: h }),
    });
    expect(
      again
        .snapshot()
        .missions.filter((m) => m.met)
        .map((m) => m.id),
    ).toEqual(["own-request", "lab-get", "lab-requests"]);
  });

  it("shows a mission's partial progress before it is met", async () => {
    const h = home();
    const progress = ProgressStore.open({ home: h });
    const session = new LabSession({ lessonId: "http-server", lab, progress });
    await session.start();
    const before = session.snapshot().missions.find((m) => m.id === "lab-requests");
    expect(before?.progress).toBe(0);
    await session.runExperiment(1);
    const after = await until(
      session,
      (x) => (x.missions.find((m) => m.id === "lab-requests")?.progress ?? 0) >= 1,
    );
    const partial = after.missions.find((m) => m.id === "lab-requests");
    expect(partial?.met).toBe(false);
    expect(partial?.needed).toBe(30);
    await session.stop();
  });

  it("keeps the learner's workspace edits across sessions", async () => {
    const h = home();
    const progress = ProgressStore.open({ home: h });
    const one = new LabSession({ lessonId: "http-server", lab, progress });
    await one.start();
    await one.runExperiment(2);
    await one.stop();
    const two = new LabSession({ lessonId: "http-server", lab, progress });
    await two.start();
    expect(readFileSync(join(two.snapshot().workspace as string, "my-note.txt"), "utf8")).toBe(
      "hello\n",
    );
    two.resetWorkspace();
    expect(existsSync(join(two.snapshot().workspace as string, "my-note.txt"))).toBe(false);
    await two.stop();
  });

  it("runs experiments pressed while one runs in turn, up to three waiting", async () => {
    const h = home();
    const progress = ProgressStore.open({ home: h });
    const session = new LabSession({ lessonId: "http-server", lab, progress });
    await session.start();
    const order: string[] = [];
    const runs = [1, 1, 1, 1, 1].map((key) =>
      session.runExperiment(key).then((r) => {
        order.push(r ? "ran" : "dropped");
        return r;
      }),
    );
    const results = await Promise.all(runs);
    expect(results.map((r) => r?.ok)).toEqual([true, true, true, true, undefined]);
    // The fifth is refused at once; the others finish one after another.
    expect(order).toEqual(["dropped", "ran", "ran", "ran", "ran"]);
    await session.stop();
  });

  it("resetting the workspace brings the Python files back too", async () => {
    const h = home();
    const progress = ProgressStore.open({ home: h });
    const python = [{ name: "serve.py", code: "print('serve')\n" }];
    const session = new LabSession({ lessonId: "http-server", lab, progress, python });
    await session.start();
    const file = join(h, "workspaces", "http-server", "python", "serve.py");
    rmSync(file);
    expect(session.resetWorkspace()).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("print('serve')\n");
    await session.stop();
  });

  it("copies the lesson's Python files into the workspace, keeping the learner's edits", async () => {
    const h = home();
    const progress = ProgressStore.open({ home: h });
    const python = [
      { name: "serve.py", code: "print('serve')\n" },
      { name: "tools/client.py", code: "print('client')\n" },
    ];
    const first = new LabSession({ lessonId: "http-server", lab, progress, python });
    await first.start();
    const dir = join(h, "workspaces", "http-server", "python");
    expect(readFileSync(join(dir, "serve.py"), "utf8")).toBe("print('serve')\n");
    expect(readFileSync(join(dir, "tools", "client.py"), "utf8")).toBe("print('client')\n");
    await first.stop();
    writeFileSync(join(dir, "serve.py"), "# mine\n");
    const second = new LabSession({ lessonId: "http-server", lab, progress, python });
    await second.start();
    expect(readFileSync(join(dir, "serve.py"), "utf8")).toBe("# mine\n");
    await second.stop();
  });

  it("a taken port ends in state failed with the one clear line", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const h = home();
      const session = new LabSession({
        lessonId: "http-server",
        lab,
        progress: ProgressStore.open({ home: h }),
        port,
      });
      await session.start();
      const s = session.snapshot();
      expect(s.state).toBe("failed");
      expect(s.error?.message).toBe(
        `Port ${port} is already in use on 127.0.0.1. Stop the program using it, or leave out --port to take a free one.`,
      );
      await session.stop();
      const after = session.snapshot();
      expect(after.state).toBe("failed");
      expect(after.logs.filter((l) => l.stream === "lab").map((l) => l.text)).not.toContainEqual(
        expect.stringContaining("Sandbox process error"),
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
