import { afterEach, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import { ProgressStore } from "../../src/progress/store.js";
import { closeApps, fixtureCourse, openApp } from "./helpers.js";

afterEach(closeApps);

describe("reader", () => {
  test("Enter opens the selected lesson at its first page", async () => {
    const { screen } = await openApp();
    await screen.waitFor("Fixture course");
    await screen.press("enter");
    const frame = await screen.waitFor("Alpha, page one");
    expect(frame).toContain("page 1 of 3");
    expect(frame).toContain("A short first page.");
  });

  test("turns pages with →/n and ←/p, marks them read and saves the position", async () => {
    const { screen, progress } = await openApp({ start: { lessonId: "alpha", screen: "reader" } });
    await screen.waitFor("Alpha, page one");
    await screen.press("right");
    let frame = await screen.waitFor("Alpha, page two");
    expect(frame).toContain("page 2 of 3");
    expect(frame).toContain("this dashed line is inside a code block");
    await screen.press("n");
    frame = await screen.waitFor("Alpha, page three");
    expect(frame).toContain("page 3 of 3");
    await screen.press("n");
    expect(screen.frame()).toContain("page 3 of 3");

    await screen.press("p");
    await screen.waitFor("page 2 of 3");
    await screen.press("left");
    await screen.waitFor("page 1 of 3");

    expect(progress.lesson("alpha")?.pagesRead).toEqual([0, 1, 2]);
    expect(progress.data.last).toEqual({ lessonId: "alpha", screen: "reader", page: 0 });
  });

  test("keys that arrive together in one chunk are each handled", async () => {
    const { screen } = await openApp({ start: { lessonId: "alpha", screen: "reader" } });
    await screen.waitFor("Alpha, page one");
    await screen.press("nn");
    await screen.waitFor("page 3 of 3");
    await screen.press("\u001b[D\u001b[D");
    await screen.waitFor("page 1 of 3");
    await screen.press("n\u001b[Cp");
    await screen.waitFor("page 2 of 3");
  });

  test("opens at the first unread page", async () => {
    const { screen } = await openApp({
      progress: (home) => {
        const store = ProgressStore.open({ home });
        store.markPageRead("alpha", 0, 3);
        return store;
      },
    });
    await screen.waitFor("Fixture course");
    await screen.press("enter");
    await screen.waitFor("Alpha, page two");
  });

  test("on the last page, says Enter opens the lab", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "reader" } });
    const frame = await screen.waitFor("Only one page.");
    expect(frame).toContain("page 1 of 1");
    expect(frame).toContain("Enter: open the lab");
    expect(frame.split("\n").at(-1)).toContain("Enter open the lab");
  });

  test("c shows the lesson's Python files, one page each", async () => {
    const { screen, course } = await openApp({ start: { lessonId: "alpha", screen: "reader" } });
    await screen.waitFor("Alpha, page one");
    const files = course.lessons[0]?.python ?? [];
    expect(files.length).toBeGreaterThan(1);
    await screen.press("c");
    const firstLine = files[0]?.code.split("\n").find((l) => l.trim() !== "") ?? "";
    let frame = await screen.waitFor(firstLine.trim());
    expect(frame).toContain(`python/${files[0]?.name}`);
    expect(frame).toContain(`file 1 of ${files.length}`);
    expect(frame).toContain("←→: other files");
    await screen.press("n");
    frame = await screen.waitFor(`python/${files[1]?.name}`);
    expect(frame).toContain(`file 2 of ${files.length}`);
    await screen.press("c");
    await screen.waitFor("Alpha, page one");
  });

  test("with one Python file, the code view does not offer other files", async () => {
    const fixture = await fixtureCourse();
    const alpha = fixture.lessons[0];
    if (!alpha?.python[0]) throw new Error("the fixture's first lesson has Python files");
    const course = { ...fixture, lessons: [{ ...alpha, python: [alpha.python[0]] }] };
    const { screen } = await openApp({ course, start: { lessonId: "alpha", screen: "reader" } });
    await screen.waitFor("Alpha, page one");
    await screen.press("c");
    const frame = await screen.waitFor("file 1 of 1");
    expect(frame).toContain("c: back to the lesson pages");
    expect(frame).not.toContain("other files");
  });

  test("at 80 columns a Python file gets the whole width: a 78-column line is not wrapped", async () => {
    const course = await loadCourse("lessons");
    const lesson = course.lessons.find((l) =>
      l.python.some((f) => f.name === "single_threaded.py"),
    );
    if (!lesson) throw new Error("no lesson with single_threaded.py");
    const index = lesson.python.findIndex((f) => f.name === "single_threaded.py");
    const longest = (lesson.python[index]?.code.split("\n") ?? []).reduce((a, b) =>
      b.length > a.length ? b : a,
    );
    expect(longest.length).toBe(78);
    const { screen } = await openApp({ course, start: { lessonId: lesson.id, screen: "reader" } });
    await screen.waitFor("page 1 of");
    await screen.press("c");
    for (let i = 0; i < index; i++) await screen.press("n");
    let frame = await screen.waitFor("python/single_threaded.py");
    for (let i = 0; i < 10 && !frame.includes(longest.trim()); i++) {
      await screen.press("pageDown");
      frame = screen.frame();
    }
    expect(frame).toContain(`  ${longest}`);
  });

  test("scrolls a page longer than the screen, then Space turns to the next page", async () => {
    const fixture = await fixtureCourse();
    const alpha = fixture.lessons[0];
    if (!alpha) throw new Error("the fixture pack has no lessons");
    const paragraphs = Array.from({ length: 30 }, (_, i) => `Paragraph ${i + 1}.`).join("\n\n");
    const course = {
      ...fixture,
      lessons: [{ ...alpha, pages: [`# Long\n\n${paragraphs}`, "# Short"] }],
    };
    const { screen } = await openApp({ course, start: { lessonId: "alpha", screen: "reader" } });
    let frame = await screen.waitFor("Paragraph 1.");
    expect(frame).toMatch(/lines 1-20 of 61 ↓/);
    expect(frame).not.toContain("Paragraph 12.");

    await screen.press("j");
    expect(screen.frame()).toMatch(/lines 2-21 of 61/);
    await screen.press("pageDown");
    expect(screen.frame()).toMatch(/lines 21-40 of 61/);
    await screen.press("space");
    await screen.press("space");
    frame = screen.frame();
    expect(frame).toMatch(/lines 42-61 of 61$/m);
    expect(frame).toContain("Paragraph 30.");
    await screen.press("k");
    expect(screen.frame()).toMatch(/lines 41-60 of 61/);
    await screen.press("space");
    await screen.press("space");
    await screen.waitFor((f) => /^ {2}Short$/m.test(f));
    expect(screen.frame()).toContain("page 2 of 2");
  });

  test("Esc goes back to the course map", async () => {
    const { screen } = await openApp({ start: { lessonId: "alpha", screen: "reader" } });
    await screen.waitFor("Alpha, page one");
    await screen.press("escape");
    await screen.waitFor("Fixture course");
    expect(screen.frame()).toContain("Continue: Alpha — reading, page 1 of 3");
  });
});
