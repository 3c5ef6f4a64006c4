import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvField, roomCsv } from "../../src/classroom/csv.js";
import {
  applyEvents,
  type LearnerRecord,
  outlineOf,
  type RoomData,
} from "../../src/classroom/room.js";
import { newRoom, writeRoomSync } from "../../src/classroom/room-file.js";
import { loadCourse } from "../../src/course/loader.js";
import { assertBuilt, cliEnv, removeTemps, runCli, tempDir } from "../cli/helpers.js";
import { PACK } from "./helpers.js";

let room: RoomData;

function learner(id: string, name: string): LearnerRecord {
  return {
    id,
    name,
    tokenHash: "0".repeat(64),
    joinedAt: Date.UTC(2026, 10, 26, 9, 0, 0),
    lastSeen: 0,
    lastActive: 0,
    lastSeq: 0,
    lessons: {},
  };
}

beforeAll(async () => {
  assertBuilt();
  // The example pack has no exam; the room is given one, as the built-in course has.
  const outline = { ...outlineOf(await loadCourse(PACK)), exam: { title: "Final exam" } };
  room = newRoom(outline, Date.UTC(2026, 10, 26, 9, 0, 0));
  const at = Date.UTC(2026, 10, 26, 9, 30, 0);
  const a = learner("a1", 'Smith, "Jo"');
  applyEvents(
    a,
    [
      { seq: 1, at, type: "mission", lesson: "share-a-folder", mission: "own-404" },
      { seq: 2, at, type: "mission", lesson: "share-a-folder", mission: "not-in-the-pack" },
      { seq: 3, at, type: "quiz", lesson: "share-a-folder", score: 0.5, passed: true },
      {
        seq: 4,
        at,
        type: "position",
        position: { lesson: "not-modified", screen: "reader", page: 1 },
      },
      { seq: 5, at, type: "exam", score: 0.6, passed: false },
      { seq: 6, at, type: "exam", score: 0.85, passed: true },
      { seq: 7, at, type: "exam", score: 0.4, passed: false },
    ],
    0,
    at,
  );
  room.learners.push(a, learner("b2", '=HYPERLINK("http://evil")'), learner("c3", "Zoë\nline"));
  for (const name of ["+1", "-2", "@SUM(A1)", "\tTab"])
    room.learners.push(learner(name.length.toString(), name));
});
afterAll(removeTemps);

describe("room CSV", () => {
  it("quotes as RFC 4180 says and defuses formulas", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('a "b", c')).toBe('"a ""b"", c"');
    expect(csvField("two\r\nlines")).toBe('"two\r\nlines"');
    expect(csvField("=1+1")).toBe("'=1+1");
    expect(csvField("+1")).toBe("'+1");
    expect(csvField("-1")).toBe("'-1");
    expect(csvField("@x")).toBe("'@x");
    expect(csvField('=A1,"x"')).toBe(`"'=A1,""x"""`);
    expect(csvField(42)).toBe("42");
    expect(csvField(undefined)).toBe("");
  });

  it("one row per learner with each lesson's missions and quiz, then the exam; CRLF line ends and a BOM", () => {
    const csv = roomCsv(room);
    expect(
      csv.startsWith("\ufeffname,joined,last active,lesson,step,missions met,missions in course,"),
    ).toBe(true);
    const lines = csv.slice(1).split("\r\n");
    expect(lines.at(-1)).toBe("");
    expect(lines[0]).toBe(
      "name,joined,last active,lesson,step,missions met,missions in course," +
        "share-a-folder missions,share-a-folder quiz best %,share-a-folder quiz passed," +
        "not-modified missions,not-modified quiz best %,not-modified quiz passed," +
        "exam best %,exam attempts,exam passed",
    );
    expect(csv).toContain(
      '"Smith, ""Jo""",2026-11-26T09:00:00.000Z,2026-11-26T09:30:00.000Z,not-modified,reading 2/2,1,4,1,50,yes,0,,,85,3,yes\r\n',
    );
    expect(csv).toContain(
      `"'=HYPERLINK(""http://evil"")",2026-11-26T09:00:00.000Z,,,not started,0,4,0,,,0,,,,0,\r\n`,
    );
    expect(csv).toContain('"Zoë\nline",');
    for (const name of ["'+1", "'-2", "'@SUM(A1)", "'\tTab"]) expect(csv).toContain(`\r\n${name},`);
    // No field anywhere starts a formula.
    for (const line of lines.slice(1)) expect(line).not.toMatch(/(^|,)[=+\-@]/);
  });

  it("leaves the exam columns out for a course without an exam", () => {
    const { exam: _, ...withoutExam } = room.course;
    const csv = roomCsv({ ...room, course: withoutExam });
    const [header, first] = csv.slice(1).split("\r\n");
    expect(header?.endsWith(",not-modified quiz passed")).toBe(true);
    expect(header).not.toContain("exam");
    expect(first?.split(",").length).toBe(header?.split(",").length);
  });

  it("classroom export writes the same CSV from the room file, to a file or stdout", async () => {
    const home = tempDir("lw-export-");
    const data = join(home, "room.json");
    writeRoomSync(data, room);
    const out = join(home, "room.csv");
    const r = await runCli(["classroom", "export", "--data", data, "--out", out], {
      env: cliEnv(home),
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`Wrote ${room.learners.length} learners to ${out}\n`);
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(roomCsv(room));
    const toStdout = await runCli(["classroom", "export", "--data", data], { env: cliEnv(home) });
    expect(toStdout.stdout).toBe(roomCsv(room));

    const missing = await runCli(["classroom", "export"], { env: cliEnv(home) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^learn-webservers: there is no room in .*classroom-room\.json; start one with: learn-webservers classroom host\n$/,
    );
  });
});
