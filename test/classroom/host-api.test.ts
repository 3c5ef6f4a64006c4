import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cliEnv, removeTemps, runCli, tempDir } from "../cli/helpers.js";
import { call, type Host, joinAs, PACK, postEvents, readRoom, startHost } from "./helpers.js";

let host: Host;
let home: string;
let data: string;

beforeAll(async () => {
  assertBuilt();
  home = tempDir("lw-classroom-");
  data = join(home, "room.json");
  host = await startHost({ home, data });
});
afterAll(async () => {
  await host?.stop();
  removeTemps();
});

const position = (seq: number, lesson: string, screen: string, page = 0) => ({
  seq,
  at: Date.now(),
  type: "position",
  position: { lesson, screen, page },
});

describe("classroom host API", () => {
  it("prints its port, code and instructor link; serves the dashboard page with a strict CSP", async () => {
    expect(host.port).toBeGreaterThan(0);
    expect(host.code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/);
    expect(host.key.length).toBeGreaterThanOrEqual(24);
    expect(host.instructorUrl).toBe(`http://127.0.0.1:${host.port}/#key=${host.key}`);
    const page = await call(host.port, "GET", "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toMatch(
      /default-src 'none'; script-src 'nonce-/,
    );
    expect(page.text).not.toContain(host.key);
    expect(page.text).not.toContain(host.code);
    expect(page.text).not.toMatch(/<(script|link|img)[^>]+src=/);
  });

  it("join, post, read: the room shows where the learner is, missions and quiz scores", async () => {
    const ada = await joinAs(host.port, host.code.toLowerCase(), "  Ada Lovelace ");
    expect(ada.learner).toMatch(/^[a-f0-9]{16}$/);
    const events = [
      { seq: 1, at: Date.now(), type: "page", lesson: "share-a-folder", page: 0, pageCount: 3 },
      position(2, "share-a-folder", "reader", 0),
      { seq: 3, at: Date.now(), type: "lab", lesson: "share-a-folder" },
      { seq: 4, at: Date.now(), type: "mission", lesson: "share-a-folder", mission: "see-listing" },
      { seq: 5, at: Date.now(), type: "quiz", lesson: "share-a-folder", score: 0.5, passed: true },
      position(6, "not-modified", "lab"),
    ];
    const r = await postEvents(host.port, ada, host.code, events);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ acked: 6 });
    // The same batch again (an answer lost on the way) changes nothing.
    expect((await postEvents(host.port, ada, host.code, events)).json).toEqual({ acked: 6 });

    const me = (await readRoom(host)).find((l) => l.id === ada.learner);
    expect(me?.name).toBe("Ada Lovelace");
    expect(me?.position).toEqual({ lesson: "not-modified", screen: "lab", page: 0 });
    expect(me?.lessons["share-a-folder"]).toMatchObject({
      pagesRead: 1,
      missions: 1,
      labOpened: true,
      quiz: { best: 0.5, passed: true, attempts: 1 },
    });
  });

  it("an exam event shows in the learner's state read with the instructor key and in the CSV", async () => {
    const erin = await joinAs(host.port, host.code, "Erin");
    const r = await postEvents(host.port, erin, host.code, [
      { seq: 1, at: Date.now(), type: "exam", score: 0.6, passed: false },
      { seq: 2, at: Date.now(), type: "exam", score: 0.9, passed: true },
      { seq: 3, at: Date.now(), type: "exam", score: 0.7, passed: false },
    ]);
    expect(r.json).toEqual({ acked: 3 });
    const me = (await readRoom(host)).find((l) => l.id === erin.learner);
    expect(me?.exam).toEqual({ best: 0.9, last: 0.7, attempts: 3, passed: true });
    expect(me?.lessons).toEqual({});

    const csv = await call(host.port, "GET", "/api/export.csv", {
      headers: { Authorization: `Bearer ${host.key}` },
    });
    expect(csv.status).toBe(200);
    const lines = csv.text.replace(/^\ufeff/, "").split("\r\n");
    expect(lines[0]).toMatch(
      /,not-modified quiz best %,not-modified quiz passed,exam best %,exam attempts,exam passed$/,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^Erin,.*,not started,0,4,0,,,0,,,90,3,yes$/),
    );
  });

  it("a sync carries the exam of a learner who took it before joining; a sync without one (an older client) is taken; a reset of everything forgets it", async () => {
    const fay = await joinAs(host.port, host.code, "Fay");
    const exam = { best: 0.8, last: 0.55, attempts: 2, passed: true };
    const synced = await postEvents(host.port, fay, host.code, [
      { seq: 1, at: Date.now(), type: "sync", lessons: {}, exam },
    ]);
    expect(synced.json).toEqual({ acked: 1 });
    const fayNow = async () => (await readRoom(host)).find((l) => l.id === fay.learner);
    expect((await fayNow())?.exam).toEqual(exam);
    await postEvents(host.port, fay, host.code, [
      { seq: 2, at: Date.now(), type: "reset", lesson: "share-a-folder" },
    ]);
    expect((await fayNow())?.exam).toEqual(exam);
    await postEvents(host.port, fay, host.code, [{ seq: 3, at: Date.now(), type: "reset" }]);
    expect((await fayNow())?.exam).toBeNull();

    const gus = await joinAs(host.port, host.code, "Gus");
    const older = await postEvents(host.port, gus, host.code, [
      {
        seq: 1,
        at: Date.now(),
        type: "sync",
        lessons: {
          "share-a-folder": { pagesRead: [0, 1], pageCount: 3, missions: [], labOpened: false },
        },
        position: { lesson: "share-a-folder", screen: "reader", page: 1 },
      },
    ]);
    expect(older.json).toEqual({ acked: 1 });
    const gusNow = (await readRoom(host)).find((l) => l.id === gus.learner);
    expect(gusNow?.exam).toBeNull();
    expect(gusNow?.lessons["share-a-folder"]?.pagesRead).toBe(2);
  });

  it("refuses a wrong join code (403), a bad name (400) and a missing or wrong instructor key (401, 403)", async () => {
    const wrong = await call(host.port, "POST", "/api/join", {
      body: { code: "AAAAAA", name: "Eve" },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.json).toEqual({ error: expect.stringMatching(/wrong join code/) });
    for (const name of ["", " ", "x".repeat(41), "a\u001b[31mred", "left\u202eright"]) {
      const bad = await call(host.port, "POST", "/api/join", { body: { code: host.code, name } });
      expect(bad.status, JSON.stringify(name)).toBe(400);
    }
    for (const path of ["/api/room", "/api/stream", "/api/export.csv"]) {
      expect((await call(host.port, "GET", path)).status).toBe(401);
      expect((await call(host.port, "GET", `${path}?key=not-the-key`)).status).toBe(403);
      const other = await call(host.port, "GET", path, {
        headers: { Authorization: `Bearer ${host.key}x` },
      });
      expect(other.status).toBe(403);
      expect(other.text).not.toContain("learners");
    }
    const names = (await readRoom(host)).map((l) => l.name);
    expect(names).not.toContain("Eve");
  });

  it("refuses a learner posting as another (403) and with the wrong code (403); nothing changes", async () => {
    const mallory = await joinAs(host.port, host.code, "Mallory");
    const bob = await joinAs(host.port, host.code, "Bob");
    await postEvents(host.port, bob, host.code, [position(1, "share-a-folder", "reader", 2)]);

    const asBob = await postEvents(
      host.port,
      { learner: bob.learner, token: mallory.token },
      host.code,
      [position(2, "not-modified", "quiz")],
    );
    expect(asBob.status).toBe(403);
    const noToken = await call(host.port, "POST", `/api/learners/${bob.learner}/events`, {
      body: { code: host.code, sentAt: Date.now(), events: [] },
    });
    expect(noToken.status).toBe(401);
    const unknown = await postEvents(
      host.port,
      { learner: "0123456789abcdef", token: mallory.token },
      host.code,
      [],
    );
    expect(unknown.status).toBe(404);
    const wrongCode = await postEvents(host.port, bob, "ZZZZZZ", [
      position(2, "not-modified", "quiz"),
    ]);
    expect(wrongCode.status).toBe(403);

    const room = await readRoom(host);
    expect(room.find((l) => l.id === bob.learner)?.position).toEqual({
      lesson: "share-a-folder",
      screen: "reader",
      page: 2,
    });
    // No endpoint gives a learner the room: a learner's token is not the instructor's key.
    const peek = await call(host.port, "GET", "/api/room", {
      headers: { Authorization: `Bearer ${mallory.token}` },
    });
    expect(peek.status).toBe(403);
  });

  it("refuses oversized (413) and malformed (400) bodies, and events out of bounds (400)", async () => {
    const carol = await joinAs(host.port, host.code, "Carol");
    const auth = { Authorization: `Bearer ${carol.token}` };
    const path = `/api/learners/${carol.learner}/events`;
    const big = await call(host.port, "POST", path, { body: "x".repeat(70_000), headers: auth });
    expect(big.status).toBe(413);
    // The same without a Content-Length: a chunked body is cut off at the limit too.
    const chunked = await new Promise<number>((resolve, reject) => {
      const socket = connect(host.port, "127.0.0.1");
      let answer = "";
      socket.on("data", (d) => {
        answer += d.toString("latin1");
        if (answer.includes("\r\n\r\n")) resolve(Number(answer.split(" ")[1]));
      });
      socket.on("error", reject);
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${carol.token}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      const chunk = "y".repeat(16_000);
      for (let i = 0; i < 6; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    });
    expect(chunked).toBe(413);

    const malformed = await call(host.port, "POST", path, { body: "{not json", headers: auth });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toEqual({ error: "the body is not valid JSON" });

    const invalid: unknown[] = [
      [{ seq: 1, at: 1, type: "explode" }],
      [{ seq: 1, at: 1, type: "lab", lesson: "../../etc" }],
      [{ seq: 1, at: 1, type: "lab", lesson: "a".repeat(65) }],
      [{ seq: 1, at: 1, type: "quiz", lesson: "x", score: 7, passed: true }],
      [{ seq: 1, at: 1, type: "lab", lesson: "x", extra: true }],
      [{ seq: 1, at: 1, type: "exam", score: 2, passed: true }],
      [{ seq: 1, at: 1, type: "exam", score: -0.1, passed: false }],
      [{ seq: 1, at: 1, type: "exam", score: 0.5 }],
      [{ seq: 1, at: 1, type: "exam", score: 0.5, passed: "yes" }],
      [{ seq: 1, at: 1, type: "exam", score: 0.5, passed: true, lesson: "x" }],
      [
        {
          seq: 1,
          at: 1,
          type: "sync",
          lessons: {},
          exam: { best: 1.5, last: 0.5, attempts: 1, passed: true },
        },
      ],
      [{ seq: 1, at: 1, type: "sync", lessons: {}, exam: { best: 1, last: 1, passed: true } }],
      [{ seq: -1, at: 1, type: "lab", lesson: "x" }],
      Array.from({ length: 51 }, (_, i) => ({ seq: i + 1, at: 1, type: "lab", lesson: "x" })),
      "not a list",
    ];
    for (const events of invalid) {
      const r = await call(host.port, "POST", path, {
        body: { code: host.code, sentAt: Date.now(), events },
        headers: auth,
      });
      expect(r.status, JSON.stringify(events).slice(0, 80)).toBe(400);
    }
    const me = (await readRoom(host)).find((l) => l.id === carol.learner);
    expect(me?.lessons).toEqual({});
    expect(me?.exam).toBeNull();
    expect((await call(host.port, "GET", "/api/health")).status).toBe(200);
  });

  it("rate-limits a flooding learner (429 with Retry-After) and keeps serving everyone else", async () => {
    const flood = await joinAs(host.port, host.code, "Flood");
    const calm = await joinAs(host.port, host.code, "Calm");
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        postEvents(host.port, flood, host.code, [
          position(i + 1, "share-a-folder", "reader", i % 3),
        ]),
      ),
    );
    const limited = replies.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(20);
    expect(replies.filter((r) => r.status !== 429 && r.status !== 200)).toEqual([]);
    expect(Number(limited[0]?.headers["retry-after"])).toBeGreaterThanOrEqual(1);

    const other = await postEvents(host.port, calm, host.code, [
      position(1, "not-modified", "quiz"),
    ]);
    expect(other.status).toBe(200);
    expect((await readRoom(host)).find((l) => l.id === calm.learner)?.position?.screen).toBe(
      "quiz",
    );
  });

  it("keeps running whatever a client sends: junk bytes, wrong methods, unknown paths", async () => {
    const junk = await new Promise<string>((resolve) => {
      const socket = connect(host.port, "127.0.0.1");
      let answer = "";
      socket.on("data", (d) => {
        answer += d.toString("latin1");
      });
      socket.on("close", () => resolve(answer));
      socket.on("error", () => resolve(answer));
      socket.end(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]));
    });
    expect(junk).toMatch(/^HTTP\/1\.1 400/);
    expect((await call(host.port, "DELETE", "/api/join")).status).toBe(405);
    expect((await call(host.port, "GET", "/api/learners/x/events")).status).toBe(405);
    expect((await call(host.port, "GET", "/../../etc/passwd")).status).toBe(404);
    const badUtf8 = await call(host.port, "POST", "/api/join", {
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(badUtf8.status).toBe(400);
    expect((await call(host.port, "GET", "/api/health")).status).toBe(200);
    expect(host.child.exitCode).toBeNull();
  });
});

describe("classroom host restart", () => {
  it("keeps the room, the code, the key and every learner's token across a restart", async () => {
    const h = tempDir("lw-classroom-restart-");
    const file = join(h, "room.json");
    const first = await startHost({ home: h, data: file });
    const dora = await joinAs(first.port, first.code, "Dora");
    await postEvents(first.port, dora, first.code, [
      position(1, "not-modified", "reader", 1),
      { seq: 2, at: Date.now(), type: "exam", score: 0.75, passed: true },
    ]);
    const stopped = await first.stop();
    expect(stopped.code).toBe(0);

    const second = await startHost({ home: h, data: file });
    try {
      expect(second.code).toBe(first.code);
      expect(second.key).toBe(first.key);
      const room = await readRoom(second);
      expect(room.map((l) => [l.name, l.position?.lesson, l.exam])).toEqual([
        ["Dora", "not-modified", { best: 0.75, last: 0.75, attempts: 1, passed: true }],
      ]);
      const again = await postEvents(second.port, dora, second.code, [
        position(3, "share-a-folder", "quiz"),
        { seq: 4, at: Date.now(), type: "exam", score: 0.5, passed: false },
      ]);
      expect(again.json).toEqual({ acked: 4 });
      expect((await readRoom(second))[0]?.exam).toEqual({
        best: 0.75,
        last: 0.5,
        attempts: 2,
        passed: true,
      });
    } finally {
      await second.stop();
    }
  });

  it("loads a room file written before the exam was kept, and keeps the exam from then on", async () => {
    const h = tempDir("lw-classroom-older-");
    const file = join(h, "room.json");
    const token = "a-learner-token-from-before-the-exam-column";
    const olga = { learner: "0123456789abcdef", token };
    const joinedAt = Date.now() - 60_000;
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        code: "K7PX3M",
        key: "an-instructor-key-from-before",
        createdAt: joinedAt,
        course: { title: "Workshop", lessons: [] },
        learners: [
          {
            id: olga.learner,
            name: "Olga",
            tokenHash: createHash("sha256").update(token).digest("hex"),
            joinedAt,
            lastSeen: joinedAt,
            lastActive: joinedAt,
            lastSeq: 3,
            position: { lesson: "share-a-folder", screen: "quiz", page: 0 },
            lessons: {
              "share-a-folder": {
                pagesRead: [0, 1, 2],
                pageCount: 3,
                missions: ["own-404"],
                labOpened: true,
                quiz: { best: 1, last: 1, attempts: 1, passed: true },
              },
            },
          },
        ],
      }),
    );
    const older = await startHost({ home: h, data: file });
    try {
      expect(older.code).toBe("K7PX3M");
      const [before] = await readRoom(older);
      expect(before).toMatchObject({
        name: "Olga",
        exam: null,
        lessons: { "share-a-folder": { pagesRead: 3, missions: 1, quiz: { passed: true } } },
      });
      const r = await postEvents(older.port, olga, older.code, [
        { seq: 4, at: Date.now(), type: "exam", score: 1, passed: true },
      ]);
      expect(r.json).toEqual({ acked: 4 });
    } finally {
      expect((await older.stop()).code).toBe(0);
    }
    const saved = JSON.parse(readFileSync(file, "utf8")) as {
      learners: { exam?: unknown; lessons: Record<string, unknown> }[];
    };
    expect(saved.learners[0]?.exam).toEqual({ best: 1, last: 1, attempts: 1, passed: true });
    expect(Object.keys(saved.learners[0]?.lessons ?? {})).toEqual(["share-a-folder"]);
  });
});

describe("--join on the command line", () => {
  it("is a usage mistake without its partners, with a bad URL, or with a command that is not the course", async () => {
    const env = cliEnv(tempDir("lw-join-flags-"));
    const cases: [string[], RegExp][] = [
      [
        ["--join", "http://127.0.0.1:1", "lab", "share-a-folder"],
        /--join, --code and --name go together/,
      ],
      [
        ["--join", "ftp://x", "--code", "ABCDEF", "--name", "A"],
        /must start with http:\/\/ or https:\/\//,
      ],
      [
        ["--join", "http://127.0.0.1:1", "--code", "ABCDEF", "--name", "\u0007"],
        /control character/,
      ],
      [
        ["--join", "http://127.0.0.1:1", "--code", "ABCDEF", "--name", "A", "list"],
        /use them without a command, or with lesson, lab or exam/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(["--lessons", PACK, ...args], { env, input: "q\n" });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it("an unreachable host never stops the course; progress says so; leave forgets the room", async () => {
    const home = tempDir("lw-join-away-");
    const env = cliEnv(home);
    const started = Date.now();
    const r = await runCli(
      [
        "--lessons",
        PACK,
        "--join",
        "http://127.0.0.1:1",
        "--code",
        "abcdef",
        "--name",
        "Ann",
        "--plain",
      ],
      { env, input: "1\n1\n\n\n\nb\nq\n" },
    );
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.stdout).toContain("page 3 of 3");
    expect(r.stderr).toMatch(/^Classroom: joining http:\/\/127\.0\.0\.1:1 as Ann;/);
    expect(r.stderr).toMatch(
      /the host cannot be reached \(ECONNREFUSED, since \d\d:\d\d:\d\d\); \d+ events wait, sent when it is back\.\n$/,
    );

    const progress = await runCli(["--lessons", PACK, "progress", "--json"], { env });
    const classroom = (JSON.parse(progress.stdout) as { classroom: Record<string, unknown> })
      .classroom;
    expect(classroom).toMatchObject({
      url: "http://127.0.0.1:1",
      name: "Ann",
      joined: false,
      state: "offline",
    });
    expect(classroom.waiting).toBeGreaterThan(3);

    const leave = await runCli(["classroom", "leave"], { env });
    expect(leave.stdout).toMatch(
      /^Left the classroom at http:\/\/127\.0\.0\.1:1 \(\d+ unsent events dropped\)\. Your own progress is kept\.\n$/,
    );
    const after = await runCli(["--lessons", PACK, "progress"], { env });
    expect(after.stdout).not.toContain("Classroom:");
    expect(after.stdout).toContain("share-a-folder  3/3");
  });
});

/** An IPv4 address of this machine other than loopback, as a laptop in the room would have. */
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

describe.skipIf(!lanAddress)("joins from the room's network", () => {
  it("one laptop joining in a loop gets 429 after a few; the room is not filled and others still join", async () => {
    const lanHome = tempDir("lw-classroom-lan-");
    const lan = await startHost({
      home: lanHome,
      data: join(lanHome, "room.json"),
      extra: ["--host", "0.0.0.0"],
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await call(lan.port, "POST", "/api/join", {
          host: lanAddress,
          body: { code: lan.code, name: `bot${i}` },
        });
        statuses.push(r.status);
        if (r.status === 429) {
          expect(r.json).toEqual({
            error: "too many joins from this machine just now; try again shortly",
          });
          expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
        }
      }
      expect(statuses.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      await joinAs(lan.port, lan.code, "Ada");
      expect((await readRoom(lan)).map((l) => l.name)).toHaveLength(6);
    } finally {
      await lan.stop();
    }
  });
});
