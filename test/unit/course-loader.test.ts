import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  CoursePackError,
  formatProblem,
  loadCourse,
  type Problem,
  validatePack,
} from "../../src/course/loader.js";
import { copyValid, edit, PACKS, problems, removeTemps, tempFolder } from "./packs.js";

async function lines(pack: string): Promise<string[]> {
  return (await validatePack(join(PACKS, pack))).map(formatProblem);
}

describe("loadCourse on the valid fixture pack", () => {
  it("loads both lessons in course order with their parsed files", async () => {
    const loaded = await loadCourse(join(PACKS, "valid"));
    expect(loaded.dir).toBe(join(PACKS, "valid"));
    expect(loaded.course).toEqual({
      format: 1,
      title: "Fixture course",
      lessons: ["alpha", "beta"],
    });
    expect(loaded.lessons.map((l) => l.id)).toEqual(["alpha", "beta"]);

    const [alpha, beta] = loaded.lessons;
    expect(alpha?.dir).toBe(join(PACKS, "valid", "alpha"));
    expect(alpha?.meta.title).toBe("Alpha");
    expect(alpha?.pages).toHaveLength(3);
    expect(alpha?.pages[0]).toBe("# Alpha, page one\n\nA short first page.");
    expect(alpha?.pages[1]).toContain("---\nthis dashed line is inside a code block");
    expect(alpha?.lab.experiments.map((e) => e.key)).toEqual([1, 2]);
    expect(alpha?.lab.missions[0]?.when.count).toBe(1);
    expect(alpha?.quiz.passMark).toBe(0.7);
    expect(alpha?.python.map((f) => f.name)).toEqual(["app.py", "serve.py", "static/helper.py"]);
    expect(alpha?.python[0]?.code).toBe('print("app")\n');

    expect(beta?.pages).toEqual(["# Beta\n\nOnly one page."]);
    expect(beta?.quiz.passMark).toBe(1);
    expect(beta?.python).toEqual([]);
  });

  it("validatePack finds nothing", async () => {
    expect(await validatePack(join(PACKS, "valid"))).toEqual([]);
  });
});

describe("failing fixture packs report file:line: message", () => {
  it("bad YAML syntax, with the line of the error", async () => {
    expect(await lines("bad-yaml")).toEqual([
      "bad-yaml/one/lab.yaml:24: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }",
      "bad-yaml/one/quiz.yaml:6: YAML syntax error: Nested mappings are not allowed in compact mappings",
    ]);
  });

  it("wrong field types, in every file", async () => {
    expect(await lines("wrong-type")).toEqual([
      'wrong-type/one/lesson.md:6: minutes: expected a number, got "five"',
      'wrong-type/one/lab.yaml:1: sandbox: "nginx" is not one of: static, dev-reload, prefork, async, proxy',
      'wrong-type/one/quiz.yaml:1: passMark: expected a number, got "0.7" (quotes make it text; write 0.7 without them)',
    ]);
  });

  it("unknown fields, with a suggestion for a near miss", async () => {
    expect(await lines("unknown-field")).toEqual([
      'unknown-field/one/lab.yaml:3: unknown field "colour" (expected one of: sandbox, flavour, options, workspace, edit, intro, experiments, missions)',
      'unknown-field/one/lab.yaml:12: experiments[1]: missing field "title" (expected text)',
      'unknown-field/one/lab.yaml:14: experiments[1]: unknown field "titel" (did you mean "title"?)',
    ]);
  });

  it("a missing quiz.yaml", async () => {
    expect(await lines("missing-quiz")).toEqual([
      "missing-quiz/one/quiz.yaml:1: missing quiz.yaml: every lesson needs one (passMark, questions)",
    ]);
  });

  it("a duplicate experiment key and id", async () => {
    expect(await lines("duplicate-key")).toEqual([
      "duplicate-key/one/lab.yaml:18: experiments[2].key: 2 is used twice (keys must be unique digits 1-9)",
      'duplicate-key/one/lab.yaml:19: experiments[2].id: "get-root" is used twice (experiment ids must be unique)',
    ]);
  });

  it("an answer out of range", async () => {
    expect(await lines("answer-range")).toEqual([
      "answer-range/one/quiz.yaml:6: questions[0].answer: 3 is out of range (3 choices, so 0-2; answers count from 0)",
    ]);
  });

  it("a page too long for 80x24, at the page's first line", async () => {
    expect(await lines("page-too-long")).toEqual([
      'page-too-long/one/lesson.md:16: page 2 is 23 lines once wrapped at 76 columns (at most 18 fit an 80x24 terminal); shorten it or split it with a "---" line',
    ]);
  });

  it("a front matter id that is not the directory name", async () => {
    expect(await lines("id-mismatch")).toEqual([
      'id-mismatch/one/lesson.md:2: id: "uno" does not match the lesson\'s directory name "one" (they must be the same)',
    ]);
  });

  it("a pack format this app does not read, and nothing else", async () => {
    expect(await lines("format-2")).toEqual([
      "format-2/course.yaml:1: format: 2 is not a pack format this app reads (it reads format 1); a newer learn-webservers may read it",
    ]);
  });

  it("a course listing a missing lesson, a lesson twice, and leaving one out", async () => {
    expect(await lines("missing-lesson")).toEqual([
      'missing-lesson/course.yaml:3: lessons: the directory "three" holds a lesson but is not listed (add it, or move it out of the pack)',
      'missing-lesson/course.yaml:5: lessons[1]: there is no lesson directory "two" next to course.yaml',
      'missing-lesson/course.yaml:6: lessons[2]: "one" is listed twice (list each lesson once)',
    ]);
  });

  it("loadCourse throws a CoursePackError carrying every problem", async () => {
    const error = await loadCourse(join(PACKS, "wrong-type")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoursePackError);
    const problems = (error as CoursePackError).problems;
    expect(problems.map((p) => p.file)).toEqual([
      "wrong-type/one/lesson.md",
      "wrong-type/one/lab.yaml",
      "wrong-type/one/quiz.yaml",
    ]);
    expect((error as Error).message).toMatch(/has 3 problems:\nwrong-type\/one\/lesson\.md:6: /);
  });
});

describe("formatProblem", () => {
  it("joins file, line and message with colons", () => {
    const p: Problem = { file: "pack/a/lab.yaml", line: 14, message: "x: wrong" };
    expect(formatProblem(p)).toBe("pack/a/lab.yaml:14: x: wrong");
  });
});

describe("packs written in a temp dir", () => {
  afterEach(removeTemps);

  it("reports a missing directory as a missing course.yaml", async () => {
    const result = await problems(join(tempFolder(), "nowhere"));
    expect(result).toHaveLength(1);
    expect(result[0]).toMatch(
      /^nowhere\/course\.yaml:1: missing course\.yaml: there is no directory /,
    );
  });

  it("reports a write-file action that leaves the workspace", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "file: site/index.html", "file: ../../etc/passwd");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:21: experiments[1].action.file: "../../etc/passwd" must be a path inside the workspace (relative, without "..")',
    ]);
  });

  it("reports an absolute write-file path", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "file: site/index.html", "file: /tmp/x");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:21: experiments[1].action.file: "/tmp/x" must be a path inside the workspace (relative, without "..")',
    ]);
  });

  it("reports an unknown action kind with the kinds there are", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "kind: write-file", "kind: write");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:20: experiments[1].action.kind: "write" is not one of: request, raw, burst, slow-client, write-file, restart, signal, kill-worker, websocket, ws-load, poll-vs-ws',
    ]);
  });

  it("reports a WebSocket action in a lab whose sandbox has no WebSockets", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "kind: write-file",
      "kind: ws-load\n      connections: 10",
    );
    const found = await problems(dir);
    expect(found).toContainEqual(
      'pack/alpha/lab.yaml:20: experiments[1].action.kind: "ws-load" needs a sandbox with WebSockets (async), not static',
    );
  });

  it("reports a wrong type inside the chosen action and inside a matcher", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "path: /", "path: index.html");
    edit(join(dir, "alpha", "lab.yaml"), "{ present: true }", "{ present: yes, gte: x }");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:14: experiments[0].action.path: "index.html" must start with "/"',
      'pack/alpha/lab.yaml:30: missions[0].when.match["requestHeaders.if-modified-since"].gte: expected a number, got "x"',
      'pack/alpha/lab.yaml:30: missions[0].when.match["requestHeaders.if-modified-since"].present: expected true/false, got "yes"',
    ]);
  });

  it("reports duplicate mission and question ids", async () => {
    const dir = copyValid();
    const lab = join(dir, "alpha", "lab.yaml");
    writeFileSync(
      lab,
      readFileSync(lab, "utf8") +
        "  - id: conditional-get\n    title: Again\n    hint: Same id\n    when: { event: listening }\n",
    );
    edit(join(dir, "alpha", "quiz.yaml"), "  - id: bind", "  - id: port");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:31: missions[1].id: "conditional-get" is used twice (mission ids must be unique)',
      'pack/alpha/quiz.yaml:10: questions[1].id: "port" is used twice (question ids must be unique)',
    ]);
  });

  it("reports too many characters, too few choices and a bad URL", async () => {
    const dir = copyValid();
    const quiz = join(dir, "alpha", "quiz.yaml");
    edit(quiz, "choices: [all interfaces, 127.0.0.1 only]", "choices: [all interfaces]");
    edit(quiz, "url: https://docs.python.org/3/library/http.server.html", "url: docs.python.org");
    edit(join(dir, "beta", "lesson.md"), "title: Beta", `title: ${"B".repeat(61)}`);
    edit(join(dir, "beta", "lesson.md"), "minutes: 3", "minutes: 0");
    expect(await problems(dir)).toEqual([
      'pack/alpha/quiz.yaml:9: questions[0].source.url: "docs.python.org" is not a URL (expected e.g. https://docs.python.org/3/)',
      "pack/alpha/quiz.yaml:12: questions[1].choices: needs at least 2 items, has 1",
      "pack/beta/lesson.md:3: title: 61 characters is too long (at most 60)",
      "pack/beta/lesson.md:6: minutes: 0 is too small (must be more than 0)",
    ]);
  });

  it("reports an empty page, an unclosed code fence and a YAML error in front matter", async () => {
    const dir = copyValid();
    const md = join(dir, "alpha", "lesson.md");
    edit(md, "# Alpha, page three", "---\n\n# Alpha, page three\n\n```python\nprint(1)");
    edit(join(dir, "beta", "lesson.md"), "minutes: 3", "minutes: [3");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lesson.md:27: page 3 is empty: remove the extra "---" line',
      "pack/alpha/lesson.md:31: this code block is never closed: add a closing fence (``` or ~~~) after the code",
      "pack/beta/lesson.md:7: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  it("reports a lesson.md without front matter and one without pages", async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "alpha", "lesson.md"), "# Just text\n");
    writeFileSync(
      join(dir, "beta", "lesson.md"),
      readFileSync(join(dir, "beta", "lesson.md"), "utf8").replace(/---\n# Beta[\s\S]*$/, "---\n"),
    );
    expect(await problems(dir)).toEqual([
      'pack/alpha/lesson.md:1: lesson.md must start with front matter: a line "---", then id, title, server, summary, minutes and objectives, then a line "---"',
      "pack/beta/lesson.md:8: the lesson has no pages: write its text after the front matter",
    ]);
  });

  it("reports a value of the wrong type once, not also its length", async () => {
    const dir = copyValid();
    edit(
      join(dir, "beta", "quiz.yaml"),
      "choices: [Serve requests, Manage the worker processes]",
      "choices: a",
    );
    expect(await problems(dir)).toEqual([
      'pack/beta/quiz.yaml:5: questions[0].choices: expected a list, got "a"',
    ]);
  });

  it("reports empty front matter at its line and names the fields it needs", async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "beta", "lesson.md"), "---\n---\n# Beta\n");
    expect(await problems(dir)).toEqual([
      "pack/beta/lesson.md:2: the front matter is empty (it needs id, title, server, summary, minutes, objectives)",
    ]);
  });

  it("reports front matter that is never closed", async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "beta", "lesson.md"), "---\nid: beta\n# Beta\n");
    expect(await problems(dir)).toEqual([
      'pack/beta/lesson.md:1: the front matter is never closed: add a line "---" after it',
    ]);
  });

  it("reports an empty lab.yaml and names the fields it needs", async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "beta", "lab.yaml"), "");
    expect(await problems(dir)).toEqual([
      "pack/beta/lab.yaml:1: the file is empty (it needs sandbox, intro, experiments, missions)",
    ]);
  });

  it("lists the missing files of a lesson in a fixed order", async () => {
    const dir = copyValid();
    for (const name of ["quiz.yaml", "lab.yaml", "lesson.md"]) rmSync(join(dir, "beta", name));
    expect(await problems(dir)).toEqual([
      'pack/beta/lesson.md:1: missing lesson.md: every lesson needs one (front matter between "---" lines, then its pages)',
      "pack/beta/lab.yaml:1: missing lab.yaml: every lesson needs one (sandbox, intro, experiments, missions)",
      "pack/beta/quiz.yaml:1: missing quiz.yaml: every lesson needs one (passMark, questions)",
    ]);
  });

  it("reports a python entry that is not a directory", async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "beta", "python"), "print(1)\n");
    expect(await problems(dir)).toEqual([
      "pack/beta/python:1: python must be a directory holding the lesson's Python files",
    ]);
  });

  it("skips __pycache__ and hidden files in python/", async () => {
    const dir = copyValid();
    mkdirSync(join(dir, "alpha", "python", "__pycache__"));
    writeFileSync(join(dir, "alpha", "python", "__pycache__", "serve.cpython-312.pyc"), "\0");
    writeFileSync(join(dir, "alpha", "python", ".notes"), "x");
    const loaded = await loadCourse(dir);
    expect(loaded.lessons[0]?.python.map((f) => f.name)).toEqual([
      "app.py",
      "serve.py",
      "static/helper.py",
    ]);
  });

  it("reads files with CRLF line endings and keeps line numbers", async () => {
    const dir = copyValid();
    for (const name of ["lesson.md", "lab.yaml", "quiz.yaml"]) {
      const file = join(dir, "alpha", name);
      writeFileSync(file, readFileSync(file, "utf8").replace(/\n/g, "\r\n"));
    }
    const loaded = await loadCourse(dir);
    expect(loaded.lessons[0]?.pages).toHaveLength(3);
    expect(loaded.lessons[0]?.pages[0]).toBe("# Alpha, page one\n\nA short first page.");

    edit(join(dir, "alpha", "quiz.yaml"), "answer: 0", "answer: 2");
    expect(await problems(dir)).toEqual([
      "pack/alpha/quiz.yaml:13: questions[1].answer: 2 is out of range (2 choices, so 0-1; answers count from 0)",
    ]);
  });
});
