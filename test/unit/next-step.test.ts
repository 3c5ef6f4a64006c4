import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { Lesson, LoadedCourse } from "../../src/course/schema.js";
import { nextStep } from "../../src/progress/next-step.js";
import { ProgressStore } from "../../src/progress/store.js";

const VALID_PACK = fileURLToPath(new URL("../fixtures/packs/valid/", import.meta.url));

let course: LoadedCourse;
let alpha: Lesson;
let beta: Lesson;
let home: string;
let store: ProgressStore;

beforeAll(async () => {
  course = await loadCourse(VALID_PACK);
  const [a, b] = course.lessons;
  if (!a || !b) throw new Error("the fixture pack has two lessons");
  alpha = a;
  beta = b;
});
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "lw-next-"));
  store = ProgressStore.open({ home });
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

/** Every page read, every mission met and the quiz passed. */
function finish(lesson: Lesson): void {
  for (let page = 0; page < lesson.pages.length; page++)
    store.markPageRead(lesson.id, page, lesson.pages.length);
  for (const m of lesson.lab.missions) store.markMissionMet(lesson.id, m.id);
  store.recordQuiz(lesson.id, 1, true);
}

function readAll(lesson: Lesson): void {
  for (let page = 0; page < lesson.pages.length; page++)
    store.markPageRead(lesson.id, page, lesson.pages.length);
}

const step = () => {
  const s = nextStep(course.lessons, store);
  return s && { lessonId: s.lesson.id, screen: s.screen, page: s.page, resumed: s.resumed };
};

describe("nextStep", () => {
  it("with nothing saved: the first lesson's first page", () => {
    expect(step()).toEqual({ lessonId: "alpha", screen: "reader", page: 0, resumed: false });
  });

  it("resumes the saved position while its lesson is not done", () => {
    store.setPosition({ lessonId: "alpha", screen: "reader", page: 2 });
    expect(step()).toEqual({ lessonId: "alpha", screen: "reader", page: 2, resumed: true });
    store.setPosition({ lessonId: "beta", screen: "lab", page: 0 });
    expect(step()).toEqual({ lessonId: "beta", screen: "lab", page: 0, resumed: true });
    store.setPosition({ lessonId: "alpha", screen: "quiz", page: 0 });
    expect(step()).toEqual({ lessonId: "alpha", screen: "quiz", page: 0, resumed: true });
  });

  it("keeps a saved page within the lesson's pages", () => {
    store.setPosition({ lessonId: "alpha", screen: "reader", page: 9 });
    expect(step()).toMatchObject({ lessonId: "alpha", page: alpha.pages.length - 1 });
  });

  it("after the quiz just passed, goes on to the first lesson not done, at its first unread page", () => {
    finish(beta);
    store.markPageRead("alpha", 0, alpha.pages.length);
    store.setPosition({ lessonId: "beta", screen: "quiz", page: 0 });
    expect(step()).toEqual({ lessonId: "alpha", screen: "reader", page: 1, resumed: false });
  });

  it("a lab whose missions are all met leads on to that lesson's quiz", () => {
    readAll(alpha);
    for (const m of alpha.lab.missions) store.markMissionMet("alpha", m.id);
    store.setPosition({ lessonId: "alpha", screen: "lab", page: 0 });
    expect(step()).toEqual({ lessonId: "alpha", screen: "quiz", page: 0, resumed: false });
  });

  it("a finished lab in a later lesson goes on in that lesson, not back to the first one", () => {
    for (const m of beta.lab.missions) store.markMissionMet("beta", m.id);
    store.setPosition({ lessonId: "beta", screen: "lab", page: 0 });
    expect(step()).toEqual({ lessonId: "beta", screen: "reader", page: 0, resumed: false });
    readAll(beta);
    expect(step()).toEqual({ lessonId: "beta", screen: "quiz", page: 0, resumed: false });
  });

  it("a passed quiz with missions left leads to that lesson's lab once its pages are read", () => {
    readAll(alpha);
    store.recordQuiz("alpha", 1, true);
    store.setPosition({ lessonId: "alpha", screen: "quiz", page: 0 });
    expect(step()).toEqual({ lessonId: "alpha", screen: "lab", page: 0, resumed: false });
  });

  it("leads to the quiz when only the quiz remains", () => {
    readAll(alpha);
    for (const m of alpha.lab.missions) store.markMissionMet("alpha", m.id);
    expect(step()).toEqual({ lessonId: "alpha", screen: "quiz", page: 0, resumed: false });
  });

  it("skips a saved position in a lesson that is done", () => {
    finish(alpha);
    store.setPosition({ lessonId: "alpha", screen: "reader", page: 1 });
    expect(step()).toEqual({ lessonId: "beta", screen: "reader", page: 0, resumed: false });
  });

  it("ignores a position in a lesson the course no longer has", () => {
    store.setPosition({ lessonId: "gone", screen: "lab", page: 0 });
    expect(step()).toMatchObject({ lessonId: "alpha", screen: "reader", resumed: false });
  });

  it("is undefined when every lesson is done", () => {
    finish(alpha);
    finish(beta);
    store.setPosition({ lessonId: "beta", screen: "quiz", page: 0 });
    expect(step()).toBeUndefined();
  });
});
