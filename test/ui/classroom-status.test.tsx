import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { classroomLine, JoinClient, joinRoom } from "../../src/classroom/client.js";
import { ClassroomHost } from "../../src/classroom/host.js";
import { outlineOf } from "../../src/classroom/room.js";
import { newRoom } from "../../src/classroom/room-file.js";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { PACK } from "../classroom/helpers.js";
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
    const joined = await screen.waitFor(`Classroom: joined as Tess at ${url}, progress sent`);
    expect(joined.split("\n")[1]).toContain("Classroom: joined as Tess");
    await host.close();
    hosts.length = 0;
    progress.markLabOpened(course.lessons[0]?.id ?? "");
    const away = await screen.waitFor("the host is out of reach", 5000);
    expect(away).toMatch(/Classroom: the host is out of reach since \d\d:\d\d; 1 event waits, sent/);
  });

  test("a map without a classroom keeps its blank line", async () => {
    const { screen } = await openApp({ course });
    const frame = await screen.waitFor("lessons done");
    expect(frame.split("\n")[1]?.trim()).toBe("");
    expect(frame).not.toContain("Classroom");
  });
});

describe("classroomLine", () => {
  const base = {
    version: 1 as const,
    url: "http://10.0.0.2:8090",
    code: "K7PX3M",
    name: "Ada",
    nextSeq: 1,
    queue: [],
  };
  test("names the learner and the host while it goes well, and warns when it does not", () => {
    expect(classroomLine({ ...base, status: { state: "connected", at: 0 } } as never)).toEqual({
      text: "Classroom: joined as Ada at http://10.0.0.2:8090, progress sent",
      ok: true,
    });
    expect(classroomLine({ ...base, status: { state: "joining", at: 0 } } as never)).toEqual({
      text: "Classroom: joining http://10.0.0.2:8090 as Ada...",
      ok: true,
    });
    const refused = classroomLine({
      ...base,
      status: { state: "refused", at: 0, message: "the host refused to let you join: wrong code" },
    } as never);
    expect(refused.ok).toBe(false);
    expect(refused.text).toContain("wrong code; learn-webservers progress says more");
    const offline = classroomLine({ ...base, status: { state: "offline", at: 0 } } as never);
    expect(offline.ok).toBe(false);
    expect(offline.text).toMatch(/since \d\d:\d\d; your progress goes when it is back$/);
  });
});
