import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCompiledCourse, packFingerprint } from "../../src/course/compiled.js";
import { loadCourse } from "../../src/course/loader.js";
import { defaultLessonsDir } from "../../src/paths.js";

const tmp = mkdtempSync(join(tmpdir(), "lws-compiled-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the course compiled at build time", () => {
  it("is the same course the loader reads from the lesson files", async () => {
    const compiled = loadCompiledCourse(defaultLessonsDir());
    expect(compiled, "run the build first: dist/course.json is missing or stale").toBeDefined();
    expect(compiled).toEqual(await loadCourse());
  });

  it("is not used for another pack", () => {
    const copy = join(tmp, "copy");
    cpSync(defaultLessonsDir(), copy, { recursive: true });
    expect(loadCompiledCourse(copy)).toBeUndefined();
  });

  it("has a fingerprint that changes when any lesson file changes", () => {
    const copy = join(tmp, "fingerprint");
    cpSync(defaultLessonsDir(), copy, { recursive: true });
    const before = packFingerprint(copy);
    expect(packFingerprint(copy)).toBe(before);
    writeFileSync(join(copy, "http-server", "quiz.yaml"), "changed\n", { flag: "a" });
    expect(packFingerprint(copy)).not.toBe(before);
  });
});
