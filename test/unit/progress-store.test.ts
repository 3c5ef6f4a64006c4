import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { Lesson } from "../../src/course/schema.js";
import { progressFileForHelp } from "../../src/progress/location.js";
import {
  type Migration,
  ProgressStore,
  parseProgress,
  progressHome,
} from "../../src/progress/store.js";

const VALID_PACK = fileURLToPath(new URL("../fixtures/packs/valid/", import.meta.url));

let tmp: string;
let savedHome: string | undefined;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "lw-progress-"));
  savedHome = process.env.LEARN_WEBSERVERS_HOME;
  delete process.env.LEARN_WEBSERVERS_HOME;
});

afterEach(() => {
  if (savedHome === undefined) delete process.env.LEARN_WEBSERVERS_HOME;
  else process.env.LEARN_WEBSERVERS_HOME = savedHome;
  chmodSync(tmp, 0o700);
  rmSync(tmp, { recursive: true, force: true });
});

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

describe("ProgressStore.open", () => {
  it("starts empty when there is no file, and writes nothing until something changes", () => {
    const home = join(tmp, "home");
    const store = ProgressStore.open({ home });
    expect(store.home).toBe(home);
    expect(store.path).toBe(join(home, "progress.json"));
    expect(store.data).toEqual({ version: 1, lessons: {} });
    expect(store.notice).toBeUndefined();
    expect(store.readOnly).toBe(false);
    expect(existsSync(home)).toBe(false);
  });

  it("round-trips everything through the file", () => {
    const home = join(tmp, "home");
    const store = ProgressStore.open({ home });
    store.markPageRead("alpha", 2, 3);
    store.markPageRead("alpha", 0, 3);
    store.markLabOpened("alpha");
    store.markMissionMet("alpha", "conditional-get");
    store.recordQuiz("alpha", 0.5, false);
    store.setPosition({ lessonId: "alpha", screen: "reader", page: 2 });

    const again = ProgressStore.open({ home });
    expect(again.data).toEqual(store.data);
    expect(again.lesson("alpha")).toMatchObject({
      pagesRead: [0, 2],
      pageCount: 3,
      labOpened: true,
      missionsMet: ["conditional-get"],
      quiz: { best: 0.5, last: 0.5, attempts: 1, passed: false },
    });
    expect(again.data.last).toEqual({ lessonId: "alpha", screen: "reader", page: 2 });
    expect(readJson(store.path)).toMatchObject({ version: 1 });
  });

  it("writes through a temporary file and leaves only progress.json behind", () => {
    const home = join(tmp, "deep", "home");
    const store = ProgressStore.open({ home });
    for (let page = 0; page < 5; page++) store.markPageRead("alpha", page, 5);
    expect(readdirSync(home)).toEqual(["progress.json"]);
    expect(readJson(store.path)).toMatchObject({
      lessons: { alpha: { pagesRead: [0, 1, 2, 3, 4] } },
    });
  });

  it("keeps a file that is not JSON aside, says where, and goes on with a new one", () => {
    const home = join(tmp, "home");
    mkdirSync(home);
    writeFileSync(join(home, "progress.json"), "{ this is not json");
    const store = ProgressStore.open({ home });

    expect(store.data).toEqual({ version: 1, lessons: {} });
    expect(store.notice).toMatch(
      /^Your progress file could not be read \(it is not valid JSON\); it was kept as .*progress\.json\.corrupt-[0-9T-]+Z, and a new one was started\.$/,
    );
    const kept = readdirSync(home).filter((name) => name.startsWith("progress.json.corrupt-"));
    expect(kept).toHaveLength(1);
    expect(store.notice).toContain(join(home, kept[0] as string));
    expect(readFileSync(join(home, kept[0] as string), "utf8")).toBe("{ this is not json");

    store.markLabOpened("alpha");
    expect(readJson(store.path)).toMatchObject({ lessons: { alpha: { labOpened: true } } });
    expect(readdirSync(home).sort()).toEqual(["progress.json", kept[0]].sort());
  });

  it("keeps aside a JSON file that does not match the format", () => {
    const home = join(tmp, "home");
    mkdirSync(home);
    writeFileSync(join(home, "progress.json"), JSON.stringify({ version: 1, lessons: { a: 3 } }));
    const store = ProgressStore.open({ home });
    expect(store.notice).toMatch(
      /could not be read \(it is not in the expected format\); it was kept as /,
    );
    expect(store.data.lessons).toEqual({});
    expect(existsSync(join(home, "progress.json"))).toBe(false);
  });

  it("leaves a file from a newer version untouched and runs read-only", () => {
    const home = join(tmp, "home");
    mkdirSync(home);
    const newer = `${JSON.stringify({ version: 2, lessons: {}, shiny: true })}\n`;
    writeFileSync(join(home, "progress.json"), newer);
    const store = ProgressStore.open({ home });

    expect(store.readOnly).toBe(true);
    expect(store.notice).toMatch(
      /was written by a newer learn-webservers \(progress version 2, this one reads up to 1\); it is left untouched/,
    );
    store.markPageRead("alpha", 0, 2);
    store.reset();
    expect(store.lesson("alpha")).toBeUndefined();
    store.markLabOpened("alpha");
    expect(store.lesson("alpha")?.labOpened).toBe(true);
    expect(readFileSync(join(home, "progress.json"), "utf8")).toBe(newer);
    expect(readdirSync(home)).toEqual(["progress.json"]);
  });

  it("runs read-only when progress.json exists but cannot be read", () => {
    const home = join(tmp, "home");
    mkdirSync(join(home, "progress.json"), { recursive: true });
    const store = ProgressStore.open({ home });
    expect(store.readOnly).toBe(true);
    expect(store.notice).toMatch(
      /could not be read \(EISDIR\); progress made now will not be saved\.$/,
    );
    store.markLabOpened("alpha");
    expect(store.lesson("alpha")?.labOpened).toBe(true);
    expect(readdirSync(home)).toEqual(["progress.json"]);
    expect(readdirSync(join(home, "progress.json"))).toEqual([]);
  });

  it("honours LEARN_WEBSERVERS_HOME, and an explicit home over it", () => {
    const fromEnv = join(tmp, "from-env");
    process.env.LEARN_WEBSERVERS_HOME = fromEnv;
    const store = ProgressStore.open();
    expect(store.home).toBe(fromEnv);
    store.markLabOpened("alpha");
    expect(existsSync(join(fromEnv, "progress.json"))).toBe(true);
    expect(progressHome()).toBe(fromEnv);
    expect(progressFileForHelp()).toBe(join(fromEnv, "progress.json"));
    expect(ProgressStore.open({ home: join(tmp, "explicit") }).home).toBe(join(tmp, "explicit"));
  });

  it("falls back to the platform data directory when LEARN_WEBSERVERS_HOME is empty", () => {
    process.env.LEARN_WEBSERVERS_HOME = "";
    expect(progressHome()).toMatch(/learn-webservers/);
    expect(progressHome()).not.toBe(process.cwd());
  });

  it("does not throw when the home cannot be created, and says so once", () => {
    const file = join(tmp, "a-file");
    writeFileSync(file, "not a directory");
    const store = ProgressStore.open({ home: join(file, "home") });
    expect(() => store.markPageRead("alpha", 0, 2)).not.toThrow();
    expect(store.notice).toMatch(
      /^Your progress could not be saved in .* \(ENOTDIR\); it is kept in memory until you quit\.$/,
    );
    expect(store.lesson("alpha")?.pagesRead).toEqual([0]);

    store.notice = undefined;
    store.markPageRead("alpha", 1, 2);
    expect(store.notice).toBeUndefined();
    expect(store.lesson("alpha")?.pagesRead).toEqual([0, 1]);
  });

  it.skipIf(process.platform === "win32" || process.getuid?.() === 0)(
    "does not throw when the home is a read-only directory",
    () => {
      const home = join(tmp, "home");
      mkdirSync(home);
      chmodSync(home, 0o500);
      const store = ProgressStore.open({ home });
      expect(() => store.markLabOpened("alpha")).not.toThrow();
      expect(store.notice).toMatch(/could not be saved .*\(EACCES\)/);
      expect(readdirSync(home)).toEqual([]);
      chmodSync(home, 0o700);
    },
  );
});

describe("ProgressStore mutations", () => {
  it("keeps the best quiz score, the last one, the attempts, and passed once passed", () => {
    const store = ProgressStore.open({ home: tmp });
    store.recordQuiz("alpha", 0.5, false);
    store.recordQuiz("alpha", 0.9, true);
    store.recordQuiz("alpha", 0.6, false);
    expect(store.lesson("alpha")?.quiz).toEqual({
      best: 0.9,
      last: 0.6,
      attempts: 3,
      passed: true,
    });
    expect(ProgressStore.open({ home: tmp }).lesson("alpha")?.quiz?.attempts).toBe(3);
  });

  it("reports whether a mission is newly met", () => {
    const store = ProgressStore.open({ home: tmp });
    expect(store.markMissionMet("alpha", "m1")).toBe(true);
    expect(store.markMissionMet("alpha", "m1")).toBe(false);
    expect(store.markMissionMet("alpha", "m2")).toBe(true);
    expect(store.lesson("alpha")?.missionsMet).toEqual(["m1", "m2"]);
  });

  it("gives a new data object after a change and the same one after a no-op", () => {
    const store = ProgressStore.open({ home: tmp });
    store.markLabOpened("alpha");
    const before = store.data;
    store.markLabOpened("alpha");
    store.markPageRead("beta", 0, 1);
    store.markPageRead("beta", 0, 1);
    expect(store.data).not.toBe(before);
    const after = store.data;
    store.markPageRead("beta", 0, 1);
    store.setPosition({ lessonId: "beta", screen: "map", page: 0 });
    const positioned = store.data;
    store.setPosition({ lessonId: "beta", screen: "map", page: 0 });
    expect(positioned).not.toBe(after);
    expect(store.data).toBe(positioned);
  });

  it("resets one lesson, and its saved position with it", () => {
    const store = ProgressStore.open({ home: tmp });
    store.markLabOpened("alpha");
    store.markLabOpened("beta");
    store.setPosition({ lessonId: "alpha", screen: "lab", page: 0 });
    store.reset("alpha");
    expect(store.lesson("alpha")).toBeUndefined();
    expect(store.lesson("beta")?.labOpened).toBe(true);
    expect(store.data.last).toBeUndefined();

    store.setPosition({ lessonId: "beta", screen: "quiz", page: 0 });
    store.reset("alpha");
    expect(store.data.last).toEqual({ lessonId: "beta", screen: "quiz", page: 0 });
    const reread = ProgressStore.open({ home: tmp });
    expect(Object.keys(reread.data.lessons)).toEqual(["beta"]);
  });

  it("resets everything", () => {
    const store = ProgressStore.open({ home: tmp });
    store.markLabOpened("alpha");
    store.recordQuiz("beta", 1, true);
    store.setPosition({ lessonId: "beta", screen: "quiz", page: 0 });
    store.reset();
    expect(store.data).toEqual({ version: 1, lessons: {} });
    expect(readJson(store.path)).toEqual({ version: 1, lessons: {} });
  });

  it("names the workspaces directory beside progress.json", () => {
    expect(ProgressStore.open({ home: tmp }).workspacesDir()).toBe(join(tmp, "workspaces"));
  });
});

describe("ProgressStore.lessonState", () => {
  let alpha: Lesson;
  beforeEach(async () => {
    const course = await loadCourse(VALID_PACK);
    alpha = course.lessons[0] as Lesson;
    expect(alpha.lab.missions.map((m) => m.id)).toEqual(["conditional-get"]);
  });

  it("goes from new to in progress to done", () => {
    const store = ProgressStore.open({ home: tmp });
    expect(store.lessonState(alpha)).toBe("new");
    store.markPageRead("alpha", 0, alpha.pages.length);
    expect(store.lessonState(alpha)).toBe("in-progress");
    store.recordQuiz("alpha", 1, true);
    expect(store.lessonState(alpha)).toBe("in-progress");
    store.markMissionMet("alpha", "conditional-get");
    expect(store.lessonState(alpha)).toBe("done");
  });

  it("is not done with every mission met but the quiz failed", () => {
    const store = ProgressStore.open({ home: tmp });
    store.markMissionMet("alpha", "conditional-get");
    store.recordQuiz("alpha", 0.5, false);
    expect(store.lessonState(alpha)).toBe("in-progress");
  });
});

describe("parseProgress and migrations", () => {
  const fromV0: Migration = (old) => {
    const done = Array.isArray(old.done) ? (old.done as string[]) : [];
    return {
      lessons: Object.fromEntries(
        done.map((id) => [
          id,
          { pagesRead: [], pageCount: 0, missionsMet: [], labOpened: true, updatedAt: "" },
        ]),
      ),
    };
  };

  it("runs the migrations from an older version up to the current one", () => {
    const parsed = parseProgress(JSON.stringify({ version: 0, done: ["alpha"] }), { 0: fromV0 });
    expect(parsed).toEqual({
      kind: "ok",
      migratedFrom: 0,
      data: {
        version: 1,
        lessons: {
          alpha: { pagesRead: [], pageCount: 0, missionsMet: [], labOpened: true, updatedAt: "" },
        },
      },
    });
  });

  it("calls a version without a migration unreadable, and a failing migration too", () => {
    expect(parseProgress(JSON.stringify({ version: 0, done: [] }), {})).toEqual({
      kind: "unreadable",
      reason: "version 0 is not known",
    });
    const broken: Migration = () => {
      throw new Error("nope");
    };
    expect(parseProgress(JSON.stringify({ version: 0 }), { 0: broken })).toMatchObject({
      kind: "unreadable",
    });
  });

  it("reports newer versions and files without a version", () => {
    expect(parseProgress('{"version": 7}')).toEqual({ kind: "newer", version: 7 });
    expect(parseProgress('{"lessons": {}}')).toMatchObject({ kind: "unreadable" });
    expect(parseProgress("[]")).toMatchObject({ kind: "unreadable" });
  });

  it("keeps aside a file whose version has no migration in this app", () => {
    mkdirSync(join(tmp, "home"));
    writeFileSync(join(tmp, "home", "progress.json"), JSON.stringify({ version: 0 }));
    const store = ProgressStore.open({ home: join(tmp, "home") });
    expect(store.notice).toMatch(/\(version 0 is not known\); it was kept as /);
    expect(store.readOnly).toBe(false);
  });
});

describe("two processes writing one progress file", () => {
  it("a change is made on top of what the other wrote, not over it", () => {
    const tui = ProgressStore.open({ home: tmp });
    const other = ProgressStore.open({ home: tmp });
    tui.markPageRead("alpha", 0, 2);
    other.markMissionMet("alpha", "m1");
    tui.markPageRead("alpha", 1, 2);
    const saved = ProgressStore.open({ home: tmp }).lesson("alpha");
    expect(saved?.pagesRead).toEqual([0, 1]);
    expect(saved?.missionsMet).toEqual(["m1"]);
  });

  it("a reset made elsewhere is not undone by the next change here", () => {
    const tui = ProgressStore.open({ home: tmp });
    tui.markPageRead("alpha", 0, 2);
    tui.markMissionMet("beta", "m1");
    ProgressStore.open({ home: tmp }).reset("alpha");
    tui.markLabOpened("beta");
    const saved = ProgressStore.open({ home: tmp });
    expect(saved.lesson("alpha")).toBeUndefined();
    expect(saved.lesson("beta")).toMatchObject({ missionsMet: ["m1"], labOpened: true });
  });
});
