import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { describeControl, findControl, safeText } from "../../src/course/control.js";
import {
  loadCourse,
  nestedRepetition,
  PYTHON_MAX_BYTES,
  PYTHON_MAX_FILES,
  validatePack,
} from "../../src/course/loader.js";
import { SANDBOX_OPTIONS } from "../../src/course/sandboxes.js";
import { besidePack, copyValid, edit, problems, removeTemps } from "./packs.js";

const OSC_CLIPBOARD = "\x1b]52;c;aGVsbG8=\x07";

afterEach(removeTemps);

describe("safeText and findControl", () => {
  it("make every control character but tab and newline visible, C1 included", () => {
    expect(safeText(`a${OSC_CLIPBOARD}b`)).toBe("a\\x1b]52;c;aGVsbG8=\\x07b");
    expect(safeText("\x9b31m\r\x7f\x00")).toBe("\\x9b31m\\x0d\\x7f\\x00");
    expect(safeText("tab\tand\nnewline, é ü ✓")).toBe("tab\tand\nnewline, é ü ✓");
    expect(findControl("ok\tok\n")).toBeUndefined();
    expect(findControl("x\x1by")).toEqual({ index: 1, code: 0x1b });
    expect(describeControl(0x1b)).toBe("U+001B (escape)");
  });
});

describe("lab options are checked against the sandbox's allow-list", () => {
  it("names threading as the static sandbox's one option", () => {
    expect(SANDBOX_OPTIONS.static).toEqual(["threading"]);
  });

  it("reports host and directory in options and in a restart action, at their lines", async () => {
    const dir = copyValid();
    const lab = join(dir, "alpha", "lab.yaml");
    edit(lab, "  threading: false\n", "  threading: false\n  host: 0.0.0.0\n  directory: /\n");
    edit(
      lab,
      '    action:\n      kind: write-file\n      file: site/index.html\n      content: "<h1>Changed</h1>\\n"\n',
      "    action:\n      kind: restart\n      options: { threading: true, bind: 0.0.0.0, workers: 4 }\n",
    );
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:5: options: "host" is set by the app, never by a lesson pack (the static sandbox takes: threading)',
      'pack/alpha/lab.yaml:6: options: "directory" is set by the app, never by a lesson pack (the static sandbox takes: threading)',
      'pack/alpha/lab.yaml:23: experiments[1].action.options: "bind" is set by the app, never by a lesson pack (the static sandbox takes: threading)',
      'pack/alpha/lab.yaml:23: experiments[1].action.options: "workers" is not an option a lab may set (the static sandbox takes: threading)',
    ]);
  });

  it("an option of another sandbox is refused, with the options this one takes", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "sandbox: static", "sandbox: async");
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:4: options: "threading" is not an option a lab may set (the async sandbox takes: max-message-size, ping-interval, ping-timeout, poll-timeout, access-log)',
    ]);
  });
});

describe("workspace names", () => {
  it("a workspace that climbs out of the sandbox's folder is refused", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "workspace: demo-site",
      "workspace: ../../../../tmp/secret",
    );
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:5: workspace: "../../../../tmp/secret" is not valid: a workspace is named like an id: lower-case letters, digits and dashes (a folder of the sandbox\'s)',
    ]);
  });

  it("an absolute workspace is refused too", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "workspace: demo-site", "workspace: /etc");
    expect((await problems(dir))[0]).toMatch(
      /^pack\/alpha\/lab\.yaml:5: workspace: "\/etc" is not valid/,
    );
  });
});

describe("control characters in pack text", () => {
  it("an OSC clipboard write in course.yaml's title is reported, and the report is safe to print", async () => {
    const dir = copyValid();
    edit(join(dir, "course.yaml"), "title: Fixture course", 'title: "Fixture\\e]52;c;aGVsbG8=\\a"');
    const found = await problems(dir);
    expect(found).toEqual([
      "pack/course.yaml:2: title: contains the control character U+001B (escape): lesson packs may hold no control characters other than newline and tab",
    ]);
    await expect(loadCourse(dir)).rejects.toThrow(/control character/);
  });

  it("is reported in lab.yaml, quiz.yaml, the front matter, the body and python files", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "title: GET /\n", `title: "GET /\\x9b2J"\n`);
    edit(join(dir, "alpha", "quiz.yaml"), "answer: 1", 'answer: 1\n    "\\x1bkey": 1');
    edit(join(dir, "alpha", "lesson.md"), "title: Alpha", 'title: "Alpha\\x07"');
    edit(
      join(dir, "alpha", "lesson.md"),
      "A short first page.",
      `A short ${OSC_CLIPBOARD}first page.`,
    );
    writeFileSync(join(dir, "alpha", "python", "app.py"), `print("app")\nprint("\x1b[2J")\n\x1b\n`);
    const found = await problems(dir);
    expect(found).toEqual([
      "pack/alpha/lesson.md:3: title: contains the control character U+0007 (bell): lesson packs may hold no control characters other than newline and tab",
      "pack/alpha/lesson.md:13: contains the control character U+001B (escape): lesson packs may hold no control characters other than newline and tab",
      "pack/alpha/lab.yaml:10: experiments[0].title: contains the control character U+009B (CSI): lesson packs may hold no control characters other than newline and tab",
      'pack/alpha/quiz.yaml:6: questions[0]: unknown field "\\x1bkey" (expected one of: id, prompt, choices, answer, explanation, source)',
      'pack/alpha/quiz.yaml:6: questions[0]: the key "\\x1bkey" contains the control character U+001B (escape): lesson packs may hold no control characters other than newline and tab',
      "pack/alpha/python/app.py:2: contains the control character U+001B (escape): lesson packs may hold no control characters other than newline and tab (1 more line holds one)",
    ]);
    for (const line of found) expect(findControl(line)).toBeUndefined();
  });

  it("allows CR LF line ends, and CRs in the bytes a raw action sends", async () => {
    const dir = copyValid();
    const lab = join(dir, "alpha", "lab.yaml");
    edit(
      lab,
      "    action:\n      kind: request\n      path: /\n",
      '    action:\n      kind: raw\n      send: "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"\n',
    );
    for (const name of ["lesson.md", "quiz.yaml"]) {
      const file = join(dir, "alpha", name);
      writeFileSync(file, readFileSync(file, "utf8").replace(/\n/g, "\r\n"));
    }
    writeFileSync(join(dir, "alpha", "python", "app.py"), 'print("app")\r\nprint(1)\r\n');
    expect(await problems(dir)).toEqual([]);
  });

  it("a CR anywhere else is refused", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "title: GET /\n", 'title: "GET /\\rOK"\n');
    expect(await problems(dir)).toEqual([
      "pack/alpha/lab.yaml:10: experiments[0].title: contains the control character U+000D (carriage return): lesson packs may hold no control characters other than newline and tab",
    ]);
  });

  it("the built-in lessons hold none", async () => {
    expect(await validatePack(fileURLToPath(new URL("../../lessons", import.meta.url)))).toEqual(
      [],
    );
  });
});

describe("mission regexes", () => {
  it("an invalid pattern is reported at its line", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "{ present: true }",
      "{ present: true }, path: { regex: '(unclosed' }",
    );
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:30: missions[0].when.match.path.regex: "(unclosed" is not a valid regular expression (Unterminated group)',
    ]);
  });

  it("a repeated group that repeats itself is reported (catastrophic backtracking)", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "{ present: true }",
      "{ present: true }, path: { regex: '^/(a+)+$' }",
    );
    expect(await problems(dir)).toEqual([
      'pack/alpha/lab.yaml:30: missions[0].when.match.path.regex: "^/(a+)+$" repeats a group that repeats itself ("(a+)+"), which can take exponential time on a long path or header; rewrite it without the nested repetition',
    ]);
  });

  it("nestedRepetition finds (x+)+ shapes and leaves ordinary patterns alone", () => {
    expect(nestedRepetition("(a+)+")).toBe("(a+)+");
    expect(nestedRepetition("^((ab)*c)*$")).toBe("((ab)*c)*");
    expect(nestedRepetition("(?:\\d+\\.?){2,}")).toBe("(?:\\d+\\.?){2,}");
    expect(nestedRepetition("(\\.\\.|%2[eE]%2[eE])")).toBeUndefined();
    expect(nestedRepetition("^//")).toBeUndefined();
    expect(nestedRepetition("^(GET|HEAD)+ /[a-z]+$")).toBeUndefined();
    expect(nestedRepetition("([+*])+")).toBeUndefined();
    expect(nestedRepetition("(a+)?")).toBeUndefined();
    expect(nestedRepetition("\\(a+\\)+")).toBeUndefined();
  });
});

describe("python/", () => {
  it("symbolic links are skipped: a link to / or to a key file is never read", async () => {
    const dir = copyValid();
    const outside = join(besidePack(dir), "id_rsa");
    writeFileSync(outside, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    symlinkSync(outside, join(dir, "alpha", "python", "k.py"));
    symlinkSync("/", join(dir, "alpha", "python", "root"));
    const loaded = await loadCourse(dir);
    expect(loaded.lessons[0]?.python.map((f) => f.name)).toEqual([
      "app.py",
      "serve.py",
      "static/helper.py",
    ]);
  });

  it("a python folder that is itself a link shows nothing", async () => {
    const dir = copyValid();
    const elsewhere = join(besidePack(dir), "elsewhere");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "secret.py"), "KEY = 1\n");
    symlinkSync(elsewhere, join(dir, "beta", "python"));
    const loaded = await loadCourse(dir);
    expect(loaded.lessons[1]?.python).toEqual([]);
  });

  it(`more than ${PYTHON_MAX_FILES} files is a problem`, async () => {
    const dir = copyValid();
    const python = join(dir, "beta", "python");
    mkdirSync(python);
    for (let i = 0; i <= PYTHON_MAX_FILES; i++) {
      writeFileSync(join(python, `f${String(i).padStart(2, "0")}.py`), "x = 1\n");
    }
    expect(await problems(dir)).toEqual([
      `pack/beta/python:1: python holds more than ${PYTHON_MAX_FILES} files (the reader shows at most ${PYTHON_MAX_FILES}): keep the ones the lesson is about`,
    ]);
  });

  it(`a file over ${PYTHON_MAX_BYTES / 1024} KB is a problem`, async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "alpha", "python", "big.py"), "#".repeat(PYTHON_MAX_BYTES + 1));
    expect(await problems(dir)).toEqual([
      "pack/alpha/python/big.py:1: 65 KB is too big to show in the reader (at most 64 KB): shorten it, or keep it out of python/",
    ]);
  });

  it("a file name with a control character is a problem, printed safely", async () => {
    const dir = copyValid();
    writeFileSync(join(dir, "alpha", "python", `x${OSC_CLIPBOARD}.py`), "x = 1\n");
    const found = await problems(dir);
    expect(found).toEqual([
      'pack/alpha/python:1: the file name "x\\x1b]52;c;aGVsbG8=\\x07.py" contains a control character: rename it',
    ]);
  });
});
