import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import type { LoadedCourse } from "../../src/course/schema.js";
import { sandboxEntry } from "../../src/paths.js";
import { closeApps, fixtureCourse, openApp } from "./helpers.js";

afterEach(closeApps);

beforeAll(() => {
  if (!existsSync(sandboxEntry("static"))) {
    throw new Error("The static sandbox is not built: run node scripts/build.mjs first.");
  }
});

/** The fixture course with a flavour the sandbox quotes back on stderr when it refuses it. */
async function courseWithHostileFlavour(): Promise<LoadedCourse> {
  const course = await fixtureCourse();
  return {
    ...course,
    lessons: course.lessons.map((lesson) =>
      lesson.id === "alpha"
        ? { ...lesson, lab: { ...lesson.lab, flavour: "x\x1b]52;c;aGVsbG8=\x07" } }
        : lesson,
    ),
  };
}

describe("the lab shows a sandbox's stderr with its control characters escaped (S3)", () => {
  test("the hint of a failed start quotes the sequence visibly", async () => {
    const { screen } = await openApp({
      course: await courseWithHostileFlavour(),
      start: { lessonId: "alpha", screen: "lab" },
      columns: 200,
      rows: 40,
    });
    const frame = await screen.waitFor("The sandbox said:", 15_000);
    expect(frame).toContain("unknown flavour 'x\\x1b]52;c;aGVsbG8=\\x07'");
  });
});
