import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  describeMembership,
  JoinClient,
  joinRoom,
  leaveRoom,
  readMembership,
} from "../../src/classroom/client.js";
import { ClassroomHost } from "../../src/classroom/host.js";
import { outlineOf } from "../../src/classroom/room.js";
import { newRoom } from "../../src/classroom/room-file.js";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { ProgressStore } from "../../src/progress/store.js";
import { removeTemps, tempDir } from "../cli/helpers.js";
import { PACK, until } from "./helpers.js";

let course: LoadedCourse;
const hosts: ClassroomHost[] = [];
const clients: JoinClient[] = [];

beforeAll(async () => {
  course = await loadCourse(PACK);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop(50)));
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});
afterAll(removeTemps);

async function startHost(port = 0): Promise<{ host: ClassroomHost; url: string }> {
  const host = new ClassroomHost({
    room: newRoom(outlineOf(course)),
    dataPath: join(tempDir("lw-client-host-"), "room.json"),
  });
  hosts.push(host);
  const address = await host.listen(port, "127.0.0.1");
  return { host, url: `http://127.0.0.1:${address.port}` };
}

function client(home: string, progress: ProgressStore, url: string, code: string): JoinClient {
  const membership = joinRoom(home, { url, code, name: "Tess" });
  const c = new JoinClient(home, membership, progress, { timeoutMs: 300, retryMs: 100 });
  clients.push(c);
  return c;
}

describe("join client", () => {
  it("checks the flags locally: URL, code and name", () => {
    const home = tempDir("lw-client-");
    expect(() => joinRoom(home, { url: "ftp://x", code: "ABCDEF", name: "A" })).toThrow(
      /http:\/\//,
    );
    expect(() => joinRoom(home, { url: "http://h:1", code: "!!", name: "A" })).toThrow(/join code/);
    expect(() => joinRoom(home, { url: "http://h:1", code: "ABCDEF", name: "" })).toThrow(/name/);
    const m = joinRoom(home, { url: "192.168.1.20:8090/", code: "abc-def", name: " Ann " });
    expect([m.url, m.code, m.name]).toEqual(["http://192.168.1.20:8090", "ABCDEF", "Ann"]);
    expect(readMembership(home)?.url).toBe("http://192.168.1.20:8090");
  });

  it("sends the learner's progress events as they happen", async () => {
    const { host, url } = await startHost();
    const home = tempDir("lw-client-");
    const progress = ProgressStore.open({ home });
    progress.markPageRead("share-a-folder", 0, 3);
    const c = client(home, progress, url, host.room.code);
    c.start();
    await until(async () => host.room.learners[0]?.lessons["share-a-folder"], "the sync event");
    progress.setPosition({ lessonId: "not-modified", screen: "quiz", page: 0 });
    progress.recordQuiz("not-modified", 1, true);
    progress.markMissionMet("not-modified", "see-304");
    await until(async () => host.room.learners[0]?.lessons["not-modified"]?.quiz, "the quiz event");
    const learner = host.room.learners[0];
    expect(learner?.name).toBe("Tess");
    expect(learner?.position).toEqual({ lesson: "not-modified", screen: "quiz", page: 0 });
    expect(learner?.lessons["not-modified"]?.missions).toEqual(["see-304"]);
    expect(learner?.lessons["share-a-folder"]?.pagesRead).toEqual([0]);
    await until(async () => readMembership(home)?.queue.length === 0, "an empty queue");
    expect(describeMembership(readMembership(home) ?? c.membership)).toMatch(
      /^Classroom: joined http:\/\/127\.0\.0\.1:\d+ as Tess; everything sent/,
    );
  });

  it("sends the exam: in the sync when it was taken before joining, then an exam event for each attempt", async () => {
    const { host, url } = await startHost();
    const home = tempDir("lw-client-");
    const progress = ProgressStore.open({ home });
    progress.recordExam(0.5, false);
    const c = client(home, progress, url, host.room.code);
    c.start();
    const synced = await until(async () => host.room.learners[0]?.exam, "the exam in the sync");
    expect(synced).toEqual({ best: 0.5, last: 0.5, attempts: 1, passed: false });

    progress.recordExam(0.9, true);
    // The change is queued on disk at once, as an exam event of its own.
    const queued = readMembership(home)?.queue.at(-1);
    expect(queued).toMatchObject({ type: "exam", score: 0.9, passed: true });
    await until(
      async () => (host.room.learners[0]?.lastSeq ?? 0) >= (queued?.seq ?? 1),
      "the exam event",
    );
    expect(host.room.learners[0]?.exam).toEqual({
      best: 0.9,
      last: 0.9,
      attempts: 2,
      passed: true,
    });
  });

  it("never makes the course wait: a host that accepts and never answers times out in the background", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const home = tempDir("lw-client-");
      const progress = ProgressStore.open({ home });
      const c = client(home, progress, `http://127.0.0.1:${port}`, "ABCDEF");
      const started = performance.now();
      c.start();
      for (let page = 0; page < 3; page++) progress.markPageRead("share-a-folder", page, 3);
      expect(performance.now() - started).toBeLessThan(200);
      await until(
        async () => readMembership(home)?.status.state === "offline",
        "the offline status",
      );
      const m = readMembership(home);
      expect(m?.status.message).toMatch(/no answer within 300 ms/);
      expect(m?.queue.map((e) => e.type)).toEqual(["sync", "page", "page", "page"]);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("keeps events on disk while the host is away and sends them from a later run", async () => {
    const { host, url } = await startHost();
    const port = Number(new URL(url).port);
    const home = tempDir("lw-client-");
    const first = client(home, ProgressStore.open({ home }), url, host.room.code);
    first.start();
    await until(async () => host.room.learners.length === 1, "the join");
    await first.stop(50);
    await host.close();
    hosts.length = 0;

    // The learner goes on while the host is down: a second run queues on disk.
    const progress = ProgressStore.open({ home });
    const second = new JoinClient(home, readMembership(home) ?? first.membership, progress, {
      timeoutMs: 300,
      retryMs: 100,
    });
    clients.push(second);
    second.start();
    progress.setPosition({ lessonId: "share-a-folder", screen: "lab", page: 0 });
    progress.markMissionMet("share-a-folder", "own-404");
    await second.stop(50);
    const waiting = readMembership(home);
    expect(waiting?.status.state).toBe("offline");
    expect(waiting?.queue.length).toBeGreaterThanOrEqual(3);
    expect(readFileSync(join(home, "classroom.json"), "utf8")).toContain("own-404");

    // The host comes back with its room (same file, same port); a third run delivers the queue.
    const again = new ClassroomHost({ room: host.room, dataPath: join(tempDir(), "room.json") });
    hosts.push(again);
    await again.listen(port, "127.0.0.1");
    const third = new JoinClient(
      home,
      readMembership(home) ?? first.membership,
      ProgressStore.open({ home }),
      {
        timeoutMs: 300,
        retryMs: 100,
      },
    );
    clients.push(third);
    third.start();
    await until(
      async () => again.room.learners[0]?.lessons["share-a-folder"]?.missions.includes("own-404"),
      "the queued mission",
    );
    expect(again.room.learners).toHaveLength(1);
    expect(again.room.learners[0]?.position).toEqual({
      lesson: "share-a-folder",
      screen: "lab",
      page: 0,
    });
  });

  it("a wrong code is refused once and then left alone; leave forgets the room", async () => {
    const { url } = await startHost();
    const home = tempDir("lw-client-");
    const progress = ProgressStore.open({ home });
    const c = client(home, progress, url, "ZZZZZZ");
    c.start();
    await until(async () => readMembership(home)?.status.state === "refused", "the refusal");
    expect(describeMembership(readMembership(home) ?? c.membership)).toMatch(
      /the host refused to let you join: wrong join code/,
    );
    const left = leaveRoom(home);
    expect(left?.code).toBe("ZZZZZZ");
    expect(readMembership(home)).toBeUndefined();
    progress.markPageRead("share-a-folder", 1, 3);
    expect(readMembership(home)).toBeUndefined();
  });
});
