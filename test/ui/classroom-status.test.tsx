import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  classroomLine,
  JoinClient,
  joinRoom,
  leaveRoom,
  type Membership,
  writeMembership,
} from "../../src/classroom/client.js";
import { ClassroomHost } from "../../src/classroom/host.js";
import { outlineOf } from "../../src/classroom/room.js";
import { newRoom } from "../../src/classroom/room-file.js";
import { startClassroom } from "../../src/commands/classroom.js";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { ProgressStore } from "../../src/progress/store.js";
import { PACK, until } from "../classroom/helpers.js";
import { removeTemps, tempDir } from "../cli/helpers.js";
import { closeApps, openApp } from "./helpers.js";

let course: LoadedCourse;
const clients: JoinClient[] = [];
const hosts: ClassroomHost[] = [];

beforeAll(async () => {
  course = await loadCourse(PACK);
});
afterEach(async () => {
  closeApps();
  await Promise.all(clients.splice(0).map((c) => c.stop(50)));
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});
afterAll(removeTemps);

describe("the classroom line on the course map", () => {
  test("says the learner joined, then that the host is out of reach and what waits", async () => {
    const host = new ClassroomHost({
      room: newRoom(outlineOf(course)),
      dataPath: join(tempDir("lw-map-room-"), "room.json"),
    });
    hosts.push(host);
    const address = await host.listen(0, "127.0.0.1");
    const url = `http://127.0.0.1:${address.port}`;
    const { screen, progress } = await openApp({
      course,
      classroom: (home, store) => {
        const membership = joinRoom(home, { url, code: host.room.code, name: "Tess" });
        const client = new JoinClient(home, membership, store, { timeoutMs: 300, retryMs: 100 });
        clients.push(client);
        client.start();
        return client;
      },
    });
    const joined = await screen.waitFor(
      `Classroom: joined 127.0.0.1:${address.port} as Tess · progress sent`,
    );
    expect(joined.split("\n")[1]).toContain("Classroom: joined 127.0.0.1");
    await host.close();
    hosts.length = 0;
    progress.markLabOpened(course.lessons[0]?.id ?? "");
    const away = await screen.waitFor("host out of reach", 5000);
    expect(away).toMatch(/Classroom: host out of reach since \d\d:\d\d · 1 event waits\n/);
  });

  test("the join client calls back on each change until undone, and says when the learner left", async () => {
    const home = tempDir("lw-map-sub-");
    const store = ProgressStore.open({ home });
    const membership = joinRoom(home, { url: "http://127.0.0.1:9", code: "ABCDEF", name: "Ann" });
    const client = new JoinClient(home, membership, store, { timeoutMs: 200, retryMs: 50 });
    clients.push(client);
    let calls = 0;
    const undo = client.subscribe(() => {
      calls++;
    });
    client.start();
    await until(
      async () => client.status().text.includes("out of reach"),
      "the client to find the host out of reach",
    );
    expect(calls).toBeGreaterThan(0);
    undo();
    const before = calls;
    store.markLabOpened(course.lessons[0]?.id ?? "");
    await client.flush();
    expect(calls).toBe(before);
    leaveRoom(home);
    store.markLabOpened(course.lessons[1]?.id ?? "");
    expect(client.status()).toEqual({ text: "Classroom: you left the room", ok: true });
  });

  test("a refusal from an earlier run stays on the map of the next one", async () => {
    const home = tempDir("lw-map-refused-");
    const membership = joinRoom(home, { url: "http://10.0.0.2:8090", code: "ZZZZZZ", name: "Bob" });
    writeMembership(home, {
      ...membership,
      status: {
        state: "refused",
        at: Date.now(),
        message: "the host refused to let you join: wrong join code",
      },
    });
    const said: string[] = [];
    const session = await startClassroom({}, ProgressStore.open({ home }), (line) =>
      said.push(line),
    );
    expect(said.join("\n")).toContain("wrong join code");
    if (!session) throw new Error("startClassroom gave no session for a refused membership");
    const link = session.link;
    const { screen } = await openApp({ course, classroom: () => link });
    const frame = await screen.waitFor("Classroom: not joined");
    expect(frame.split("\n")[1]).toBe(
      "Classroom: not joined, the host refused to let you join: wrong join code",
    );
    await session.stop();
  });

  test("a map without a classroom keeps its blank line", async () => {
    const { screen } = await openApp({ course });
    const frame = await screen.waitFor("lessons done");
    expect(frame.split("\n")[1]?.trim()).toBe("");
    expect(frame).not.toContain("Classroom");
  });
});

describe("classroomLine", () => {
  const base: Omit<Membership, "status"> = {
    version: 1,
    url: "http://10.0.0.2:8090",
    code: "K7PX3M",
    name: "Ada",
    nextSeq: 1,
    queue: [],
  };
  const line = (status: Membership["status"]) => classroomLine({ ...base, status });

  test("names the learner and the host while it goes well, and warns when it does not", () => {
    const now = Date.now();
    expect(line({ state: "connected", at: now })).toEqual({
      text: "Classroom: joined 10.0.0.2:8090 as Ada · progress sent",
      ok: true,
    });
    expect(line({ state: "joining", at: now })).toEqual({
      text: "Classroom: joining 10.0.0.2:8090 as Ada...",
      ok: true,
    });
    const refused = line({
      state: "refused",
      at: now,
      message: "the host refused to let you join: wrong code",
    });
    expect(refused.ok).toBe(false);
    expect(refused.text).toBe(
      "Classroom: not joined, the host refused to let you join: wrong code",
    );
    const offline = line({ state: "offline", at: now, message: "ECONNREFUSED" });
    expect(offline.ok).toBe(false);
    expect(offline.text).toMatch(/^Classroom: host out of reach since \d\d:\d\d$/);
  });

  test("a host that answers but does not take events is not called out of reach", () => {
    const busy = line({
      state: "offline",
      at: Date.now(),
      message: "the host is busy: the room is full (500 learners)",
    });
    expect(busy.text).toMatch(
      /^Classroom: the host is busy: the room is full \(500 learners\) \(since \d\d:\d\d\)$/,
    );
  });

  test("names the day when the trouble began on another one", () => {
    const old = line({ state: "offline", at: Date.UTC(2026, 10, 20, 9, 30), message: "ETIMEDOUT" });
    expect(old.text).toMatch(/since \d{1,2} Nov \d\d:\d\d$/);
  });
});
