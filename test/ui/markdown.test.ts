import { stripVTControlCharacters } from "node:util";
import { describe, expect, test } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import { colorFromEnv, renderMarkdown, wrapAnsi } from "../../src/course/markdown.js";

const ESC = "\u001B";

describe("renderMarkdown", () => {
  const md = [
    "# Serving files",
    "",
    "A paragraph long enough to be wrapped more than once at forty columns, with **bold**, `code: span` and [the docs](https://docs.python.org/3/library/http.server.html).",
    "",
    "* **Request line**: method `GET`, target and version, a list item that wraps too",
    "* a second item",
    "",
    "```python",
    "import http.server",
    "",
    "class Handler(http.server.SimpleHTTPRequestHandler):",
    "    pass",
    "```",
  ].join("\n");

  test("without colour, writes no escape sequence at all", async () => {
    const out = await renderMarkdown(md, 40, { color: false });
    expect(out).not.toContain(ESC);
    // A heading is its text alone, followed by the page.
    expect(out.split("\n").slice(0, 2)).toEqual(["Serving files", ""]);
    expect(out).not.toContain("#");
    expect(out).toContain("bold");
    expect(out).not.toContain("**");
  });

  test("in colour, a heading is bold in the accent colour, with no # before it", async () => {
    const md = "# See [the docs](https://example.org/) here\n\n## Details\n\nText.";
    const out = await renderMarkdown(md, 60, { color: true });
    const [title, , second] = out.split("\n");
    expect(stripVTControlCharacters(title ?? "")).toBe("See the docs (https://example.org/) here");
    const bold = `${ESC}[1m`;
    const cyan = `${ESC}[36m`;
    expect(title?.startsWith(`${bold}${cyan}See the docs (`)).toBe(true);
    // After the link's own colour the heading's comes back, not the default.
    expect(title).toContain(`${bold}${cyan}) here`);
    expect(stripVTControlCharacters(second ?? "")).toBe("Details");
    expect(second?.startsWith(bold)).toBe(true);
    expect(second).not.toContain(cyan);
    expect(out).not.toContain("#");
  });

  test("keeps every line within the width, list items with a hanging indent", async () => {
    const out = await renderMarkdown(md, 40, { color: false });
    for (const line of out.split("\n")) expect(line.length).toBeLessThanOrEqual(40);
    const lines = out.split("\n");
    const item = lines.findIndex((l) => l.includes("* Request line: method GET"));
    expect(item).toBeGreaterThanOrEqual(0);
    expect(lines[item + 1]).toMatch(/^ {4}\S/);
  });

  test("shows a link's address, so it can be copied", async () => {
    const out = await renderMarkdown("See [the docs](https://example.org/x).", 60, {
      color: false,
    });
    expect(out).toBe("See the docs (https://example.org/x).");
  });

  test("keeps code blocks as written, indented by two spaces", async () => {
    const out = await renderMarkdown(md, 76, { color: false });
    expect(out).toContain("  class Handler(http.server.SimpleHTTPRequestHandler):\n      pass");
  });

  test("fits every page of the course at 76 columns", async () => {
    const course = await loadCourse("lessons");
    for (const lesson of course.lessons) {
      for (const page of lesson.pages) {
        const out = await renderMarkdown(page, 76, { color: false });
        for (const line of out.split("\n")) expect(line.length, line).toBeLessThanOrEqual(76);
      }
    }
  });
});

describe("wrapAnsi", () => {
  test("closes and reopens colours on every row, and counts only visible characters", () => {
    const red = `${ESC}[31m`;
    const rows = wrapAnsi(`${red}one two three four five six${ESC}[39m end`, 10);
    expect(rows.map(stripVTControlCharacters)).toEqual([
      "one two",
      "three four",
      "five six",
      "end",
    ]);
    for (const row of rows.slice(0, 3)) {
      expect(row.startsWith(red)).toBe(true);
      expect(row.endsWith(`${ESC}[0m`)).toBe(true);
    }
    expect(rows[3]).toBe("end");
  });

  test("splits a word longer than the row", () => {
    expect(wrapAnsi("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
  });
});

describe("colorFromEnv", () => {
  test("NO_COLOR and FORCE_COLOR=0 turn colour off", () => {
    expect(colorFromEnv({})).toBe(true);
    expect(colorFromEnv({ NO_COLOR: "1" })).toBe(false);
    expect(colorFromEnv({ NO_COLOR: "" })).toBe(true);
    expect(colorFromEnv({ FORCE_COLOR: "0" })).toBe(false);
    expect(colorFromEnv({ FORCE_COLOR: "1" })).toBe(true);
  });
});
