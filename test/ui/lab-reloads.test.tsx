import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { sandboxEntry } from "../../src/paths.js";
import { closeApps, frameLines, openApp } from "./helpers.js";

afterEach(closeApps);

let lessons: LoadedCourse;
let scratch: string;
const editorBefore = process.env.VISUAL;

beforeAll(async () => {
  if (!existsSync(sandboxEntry("dev-reload"))) {
    throw new Error("The dev-reload sandbox is not built: run node scripts/build.mjs first.");
  }
  lessons = await loadCourse("lessons");
  scratch = mkdtempSync(join(tmpdir(), "lw-editor-"));
});

afterAll(() => {
  if (editorBefore === undefined) delete process.env.VISUAL;
  else process.env.VISUAL = editorBefore;
  rmSync(scratch, { recursive: true, force: true });
});

/** An "editor" that saves a new app.mjs with a /hello route and records the file it was given. */
function fakeEditor(): { command: string; opened: string } {
  const opened = join(scratch, "opened.txt");
  const script = join(scratch, "fake-editor");
  writeFileSync(
    script,
    `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\nprintf 'export const routes = { "/": () => "edited", "/hello": () => "hi" };\\n' > "$1"\n`,
  );
  chmodSync(script, 0o755);
  return { command: script, opened };
}

describe("the dev-reload lab", () => {
  test("shows the reloads pane, opens the app in the editor with e, and draws the reload", async () => {
    if (process.platform === "win32") return;
    const { screen, home } = await openApp({
      course: lessons,
      start: { lessonId: "flask-dev-server", screen: "lab" },
      columns: 100,
      rows: 40,
    });
    let frame = await screen.waitFor((f) => f.includes("● listening"), 15_000);
    expect(frame).toMatch(/^- > Reloads -+ stat reloader, every 1 s -$/m);
    expect(frame).toContain("No reload yet: save the app file");

    const editor = fakeEditor();
    process.env.VISUAL = editor.command;
    await screen.press("e");
    const app = join(home, "workspaces", "flask-dev-server", "app.mjs");
    expect(readFileSync(editor.opened, "utf8")).toBe(app);
    expect(screen.frame()).toContain(`[x] Back from ${editor.command}.`);
    frame = await screen.waitFor((f) => /#1 stat .* live \+\d+\.\d\d s/.test(f), 8_000);
    expect(frame).toContain("Detected change in");
    expect(frameLines(frame).length).toBeLessThanOrEqual(40);
  });

  test("an editor that cannot start says what to do instead", async () => {
    const { screen } = await openApp({
      course: lessons,
      start: { lessonId: "flask-dev-server", screen: "lab" },
      columns: 100,
      rows: 40,
    });
    await screen.waitFor((f) => f.includes("● listening"), 15_000);
    process.env.VISUAL = join(scratch, "no-such-editor");
    await screen.press("e");
    expect(screen.frame()).toMatch(
      /\[!\] Editor: \/\S+\/no-such-editor was not found \(it is your \$VISUAL\)\. Set \$VISUAL to/,
    );
  });
});
