import { describe, expect, it } from "vitest";
import { countPageLines, PAGE_MAX_LINES, PAGE_WIDTH, splitLesson } from "../../src/course/pages.js";

describe("splitLesson", () => {
  it("separates front matter and pages, with each page's first line", () => {
    const split = splitLesson("---\nid: a\n---\n\n# One\n\ntext\n\n---\n# Two\n");
    expect(split.frontMatter).toEqual({ text: "id: a", line: 2 });
    expect(split.pages).toEqual([
      { text: "# One\n\ntext", line: 5 },
      { text: "# Two", line: 10 },
    ]);
    expect(split.bodyLine).toBe(4);
  });

  it("does not split on --- inside backtick or tilde fences", () => {
    const md = "---\nid: a\n---\nA\n```yaml\n---\n```\n~~~~\n---\n~~~\n---\n~~~~\n---\nB\n";
    const split = splitLesson(md);
    expect(split.pages.map((p) => p.text)).toEqual([
      "A\n```yaml\n---\n```\n~~~~\n---\n~~~\n---\n~~~~",
      "B",
    ]);
    expect(split.unclosedFence).toBeUndefined();
  });

  it("points an empty page at the --- beside it and reports an unclosed fence", () => {
    const split = splitLesson("---\nid: a\n---\nA\n---\n---\nB\n```\ncode\n---\n");
    expect(split.pages.map((p) => [p.text, p.line])).toEqual([
      ["A", 4],
      ["", 6],
      ["B\n```\ncode\n---", 7],
    ]);
    expect(split.unclosedFence).toBe(8);
  });

  it("treats a trailing --- as an empty last page", () => {
    const split = splitLesson("---\nid: a\n---\nA\n---\n");
    expect(split.pages).toEqual([
      { text: "A", line: 4 },
      { text: "", line: 5 },
    ]);
  });

  it("tells a file without front matter from one whose front matter is not closed", () => {
    expect(splitLesson("# Title\n").frontMatter).toBeNull();
    const open = splitLesson("---\nid: a\n# Title\n");
    expect(open.frontMatterClosed).toBe(false);
    expect(open.pages).toEqual([]);
  });

  it("accepts CRLF line endings and a byte order mark", () => {
    const split = splitLesson("\uFEFF---\r\nid: a\r\n---\r\nA\r\n---\r\nB\r\n");
    expect(split.frontMatter?.text).toBe("id: a");
    expect(split.pages.map((p) => p.text)).toEqual(["A", "B"]);
  });
});

describe("countPageLines", () => {
  it("uses the 80x24 budget", () => {
    expect(PAGE_WIDTH).toBe(76);
    expect(PAGE_MAX_LINES).toBe(18);
  });

  it("counts a short line and a blank line as one each", () => {
    expect(countPageLines("# Title\n\nshort")).toBe(3);
  });

  it("wraps prose at word boundaries within 76 columns", () => {
    const exactly76 = `${"a".repeat(37)} ${"b".repeat(38)}`;
    expect(exactly76).toHaveLength(76);
    expect(countPageLines(exactly76)).toBe(1);
    expect(countPageLines(`${exactly76} c`)).toBe(2);
    expect(countPageLines("word ".repeat(40).trim())).toBe(3);
  });

  it("breaks a word longer than the width", () => {
    expect(countPageLines("x".repeat(153))).toBe(3);
  });

  it("counts code lines, fences included, without wrapping them", () => {
    const code = `\`\`\`\n${"y".repeat(200)}\nz\n\`\`\``;
    expect(countPageLines(code)).toBe(4);
  });

  it("is zero for an empty page", () => {
    expect(countPageLines("")).toBe(0);
  });
});
