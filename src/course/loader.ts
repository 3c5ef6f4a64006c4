import type { Dirent } from "node:fs";
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { defaultLessonsDir } from "../paths.js";
import { describeControl, findControl, safeText } from "./control.js";
import {
  checkSchema,
  describe,
  formatPath,
  type LineMessage,
  type Path,
  valueAt,
  YamlSource,
} from "./issues.js";
import { countPageLines, PAGE_MAX_LINES, PAGE_WIDTH, splitLesson } from "./pages.js";
import {
  LOOP_SANDBOXES,
  RESERVED_FLAGS,
  SANDBOX_NAMES,
  sandboxOptions,
  WORKER_SANDBOXES,
} from "./sandboxes.js";
import {
  courseSchema,
  type Exam,
  type ExamEntry,
  type ExamQuestion,
  examFileSchema,
  FORMAT_VERSION,
  type FrontMatter,
  frontMatterSchema,
  type Lesson,
  type LoadedCourse,
  labSchema,
  QUESTION_REF_PATTERN,
  type Question,
  quizSchema,
} from "./schema.js";

/**
 * One thing wrong with a lesson pack. `file` is relative to the pack directory's parent and
 * uses "/" on every platform, so it starts with the pack's own name: `lessons/http-basics/lab.yaml`.
 * `line` is 1-based.
 */
export interface Problem {
  file: string;
  line: number;
  message: string;
}

export class CoursePackError extends Error {
  readonly problems: Problem[];

  constructor(dir: string, problems: Problem[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`The lesson pack in ${dir} has ${count}:\n${problems.map(formatProblem).join("\n")}`);
    this.name = "CoursePackError";
    this.problems = problems;
  }
}

/** One line of text, safe for a terminal whatever the pack holds. */
export function formatProblem(p: Problem): string {
  return safeText(`${p.file}:${p.line}: ${p.message}`).replace(/\n/g, "\\n");
}

/** Loads and validates a lesson pack; throws CoursePackError listing every problem found. */
export async function loadCourse(dir: string = defaultLessonsDir()): Promise<LoadedCourse> {
  const { problems, course } = await inspectPack(dir);
  if (problems.length > 0 || !course) throw new CoursePackError(resolve(dir), problems);
  return course;
}

/** Every problem in the lesson pack at `dir`; empty when it is valid. */
export async function validatePack(dir: string): Promise<Problem[]> {
  return (await inspectPack(dir)).problems;
}

class Problems {
  private readonly byFile = new Map<string, Problem[]>();

  constructor(private readonly parent: string) {}

  private name(file: string): string {
    return relative(this.parent, file).split(sep).join("/");
  }

  add(file: string, line: number, message: string): void {
    const name = this.name(file);
    const list = this.byFile.get(name) ?? [];
    list.push({ file: name, line, message });
    this.byFile.set(name, list);
  }

  /** Fixes the order files are listed in, whatever order their problems are found in. */
  reserve(files: string[]): void {
    for (const file of files) {
      const name = this.name(file);
      if (!this.byFile.has(name)) this.byFile.set(name, []);
    }
  }

  addAll(file: string, items: LineMessage[]): void {
    for (const item of items) this.add(file, item.line, item.message);
  }

  merge(other: Problems): void {
    for (const list of other.byFile.values()) {
      for (const p of list) {
        const mine = this.byFile.get(p.file) ?? [];
        mine.push(p);
        this.byFile.set(p.file, mine);
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const list of this.byFile.values()) n += list.length;
    return n;
  }

  list(): Problem[] {
    return [...this.byFile.values()]
      .flatMap((list) =>
        list.map((p, i) => ({ p, i })).sort((a, b) => a.p.line - b.p.line || a.i - b.i),
      )
      .map(({ p }) => p);
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Reads a file; a missing or unreadable file becomes a problem on its line 1. */
async function readPackFile(
  file: string,
  problems: Problems,
  whenMissing: string,
): Promise<string | undefined> {
  try {
    const text = await readOptional(file);
    if (text === undefined) problems.add(file, 1, `missing ${basename(file)}: ${whenMissing}`);
    return text;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    problems.add(file, 1, `cannot read ${basename(file)} (${code})`);
    return undefined;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isId(value: unknown): value is string {
  return frontMatterSchema.shape.id.safeParse(value).success;
}

async function inspectPack(
  dirArg: string,
): Promise<{ problems: Problem[]; course?: LoadedCourse }> {
  const root = resolve(dirArg);
  const problems = new Problems(dirname(root));
  const courseFile = join(root, "course.yaml");

  if (!(await isDirectory(root))) {
    problems.add(courseFile, 1, `missing course.yaml: there is no directory ${root}`);
    return { problems: problems.list() };
  }
  const text = await readPackFile(
    courseFile,
    problems,
    `a lesson pack starts with one (format: ${FORMAT_VERSION}, title, lessons in order)`,
  );
  if (text === undefined) return { problems: problems.list() };

  const source = new YamlSource(text);
  if (source.syntaxErrors.length > 0) {
    problems.addAll(courseFile, source.syntaxErrors);
    return { problems: problems.list() };
  }
  const format = valueAt(source.data, ["format"]);
  if (typeof format === "number" && format !== FORMAT_VERSION) {
    const newer = format > FORMAT_VERSION ? "; a newer learn-webservers may read it" : "";
    problems.add(
      courseFile,
      source.lineOf(["format"]),
      `format: ${format} is not a pack format this app reads (it reads format ${FORMAT_VERSION})${newer}`,
    );
    return { problems: problems.list() };
  }
  const checked = checkSchema(courseSchema, source);
  problems.addAll(courseFile, checked.problems);
  problems.addAll(courseFile, controlProblems(source));

  const listed = valueAt(source.data, ["lessons"]);
  const entries = Array.isArray(listed) ? listed : [];
  const seen = new Set<string>();
  const toLoad: string[] = [];
  for (const [i, entry] of entries.entries()) {
    if (!isId(entry)) continue;
    const line = source.lineOf(["lessons", i]);
    if (seen.has(entry)) {
      problems.add(
        courseFile,
        line,
        `lessons[${i}]: "${entry}" is listed twice (list each lesson once)`,
      );
      continue;
    }
    seen.add(entry);
    if (!(await isDirectory(join(root, entry)))) {
      problems.add(
        courseFile,
        line,
        `lessons[${i}]: there is no lesson directory "${entry}" next to course.yaml`,
      );
      continue;
    }
    toLoad.push(entry);
  }

  for (const name of await lessonDirs(root)) {
    if (!seen.has(name)) {
      problems.add(
        courseFile,
        source.keyLineOf([], "lessons"),
        `lessons: the directory "${name}" holds a lesson but is not listed (add it, or move it out of the pack)`,
      );
    }
  }

  const results = await Promise.all(
    toLoad.map(async (id) => {
      const own = new Problems(dirname(root));
      const lesson = await inspectLesson(join(root, id), id, own);
      return { own, lesson };
    }),
  );
  for (const { own } of results) problems.merge(own);
  const loaded = results.map(({ lesson }) => lesson).filter((l): l is Lesson => l !== undefined);
  const exam = await inspectExam(root, source, seen, loaded, problems);

  if (problems.size > 0 || !checked.value) return { problems: problems.list() };
  const course: LoadedCourse = { dir: root, course: checked.value, lessons: loaded };
  if (exam) course.exam = exam;
  return { problems: [], course };
}

const EXAM_FIELDS = ["id", "prompt", "choices", "answer", "explanation", "source"] as const;

/**
 * The exam course.yaml names, with every `from` resolved against the lessons' quizzes. `listed`
 * holds the lesson ids course.yaml lists; `loaded` the lessons that loaded without a problem (a
 * reference into a lesson that did not is left to that lesson's own problems).
 */
async function inspectExam(
  root: string,
  courseSource: YamlSource,
  listed: ReadonlySet<string>,
  loaded: readonly Lesson[],
  problems: Problems,
): Promise<Exam | undefined> {
  const courseFile = join(root, "course.yaml");
  const name = valueAt(courseSource.data, ["exam"]);
  if (name === undefined) {
    if (await isFile(join(root, "exam.yaml"))) {
      problems.add(
        courseFile,
        courseSource.keyLineOf([], "lessons"),
        'the pack holds exam.yaml, but course.yaml has no line "exam: exam.yaml" (add it, or move the file out of the pack)',
      );
    }
    return undefined;
  }
  // A name that breaks the schema is reported with course.yaml's other problems.
  if (typeof name !== "string" || !courseSchema.shape.exam.safeParse(name).success)
    return undefined;
  const file = join(root, name);
  if (!(await isFile(file))) {
    problems.add(
      courseFile,
      courseSource.lineOf(["exam"]),
      `exam: there is no file "${name}" next to course.yaml (write it, or remove the exam line)`,
    );
    return undefined;
  }
  const text = await readPackFile(file, problems, "course.yaml names it as the exam");
  if (text === undefined) return undefined;
  const lessons = new Map(loaded.map((lesson) => [lesson.id, lesson]));
  return inspectYaml(text, file, problems, (source) => {
    const { value, problems: found } = checkSchema(examFileSchema, source);
    const all = [
      ...found,
      ...crossCheckExam(source, listed, lessons),
      ...duplicates(source, "questions", "from", "pick each question once"),
      ...crossCheckQuiz(source),
      ...controlProblems(source),
    ];
    return {
      value: all.length === 0 && value ? resolveExam(value, lessons) : undefined,
      problems: all,
    };
  });
}

/** Each question is either `from` alone or a whole question, and each `from` names one that exists. */
function crossCheckExam(
  source: YamlSource,
  listed: ReadonlySet<string>,
  lessons: ReadonlyMap<string, Lesson>,
): LineMessage[] {
  const questions = valueAt(source.data, ["questions"]);
  if (!Array.isArray(questions)) return [];
  const found: LineMessage[] = [];
  for (const [i, entry] of questions.entries()) {
    if (!isRecord(entry)) continue;
    const path: Path = ["questions", i];
    const at = (line: number, message: string) => found.push({ line, message });
    if (!Object.hasOwn(entry, "from")) {
      const missing = EXAM_FIELDS.filter((field) => !Object.hasOwn(entry, field));
      if (missing.length === EXAM_FIELDS.length) {
        at(
          source.lineOf(path),
          `${formatPath(path)}: write a whole question (${EXAM_FIELDS.join(", ")}) or pick one with from: lesson-id/question-id`,
        );
        continue;
      }
      if (missing.length > 0) {
        const fields = missing.map((field) => `"${field}"`).join(", ");
        at(
          source.lineOf(path),
          `${formatPath(path)}: missing ${missing.length === 1 ? "field" : "fields"} ${fields} (a question written in the exam needs ${EXAM_FIELDS.join(", ")}; or pick one with from: lesson-id/question-id)`,
        );
      }
      continue;
    }
    const extra = Object.keys(entry).filter((key) => key !== "from");
    if (extra.length > 0) {
      at(
        source.keyLineOf(path, extra[0] ?? "from"),
        `${formatPath(path)}: a picked question holds only "from"; remove ${extra.map((k) => `"${k}"`).join(", ")} (or remove "from" to write the whole question here)`,
      );
    }
    const ref = entry.from;
    if (typeof ref !== "string" || !QUESTION_REF_PATTERN.test(ref)) continue;
    const [lessonId = "", questionId = ""] = ref.split("/");
    const fromPath: Path = [...path, "from"];
    if (!listed.has(lessonId)) {
      at(
        source.lineOf(fromPath),
        `${formatPath(fromPath)}: there is no lesson "${lessonId}" in course.yaml (lessons: ${[...listed].join(", ")})`,
      );
      continue;
    }
    const lesson = lessons.get(lessonId);
    if (lesson && !lesson.quiz.questions.some((q) => q.id === questionId)) {
      at(
        source.lineOf(fromPath),
        `${formatPath(fromPath)}: ${lessonId}/quiz.yaml has no question "${questionId}" (its questions: ${lesson.quiz.questions.map((q) => q.id).join(", ")})`,
      );
    }
  }
  return found;
}

function isWholeQuestion(entry: ExamEntry): entry is ExamEntry & Question {
  return EXAM_FIELDS.every((field) => entry[field] !== undefined);
}

/** The exam with each `from` replaced by the question it names; undefined if one does not resolve. */
function resolveExam(
  file: ReturnType<typeof examFileSchema.parse>,
  lessons: ReadonlyMap<string, Lesson>,
): Exam | undefined {
  const questions: ExamQuestion[] = [];
  for (const entry of file.questions) {
    if (entry.from === undefined) {
      if (!isWholeQuestion(entry)) return undefined;
      const { id, prompt, choices, answer, explanation, source } = entry;
      questions.push({ id, prompt, choices, answer, explanation, source });
      continue;
    }
    const [lessonId = "", questionId = ""] = entry.from.split("/");
    const question = lessons.get(lessonId)?.quiz.questions.find((q) => q.id === questionId);
    if (!question) return undefined;
    questions.push({ ...question, id: entry.from, lessonId });
  }
  return { title: file.title, passMark: file.passMark, questions };
}

/** Subdirectories of the pack that hold a lesson.md. */
async function lessonDirs(root: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const dir = join(root, entry.name);
    if ((await isDirectory(dir)) && (await isFile(join(dir, "lesson.md")))) names.push(entry.name);
  }
  return names.sort();
}

async function inspectLesson(
  dir: string,
  id: string,
  problems: Problems,
): Promise<Lesson | undefined> {
  const mdFile = join(dir, "lesson.md");
  const labFile = join(dir, "lab.yaml");
  const quizFile = join(dir, "quiz.yaml");
  const pythonDir = join(dir, "python");
  problems.reserve([mdFile, labFile, quizFile, pythonDir]);
  const [md, labText, quizText, python] = await Promise.all([
    readPackFile(
      mdFile,
      problems,
      'every lesson needs one (front matter between "---" lines, then its pages)',
    ),
    readPackFile(
      labFile,
      problems,
      "every lesson needs one (sandbox, intro, experiments, missions)",
    ),
    readPackFile(quizFile, problems, "every lesson needs one (passMark, questions)"),
    readPython(pythonDir, problems),
  ]);

  const lesson = md === undefined ? undefined : inspectLessonText(md, id, mdFile, problems);
  const lab =
    labText === undefined
      ? undefined
      : inspectYaml(labText, labFile, problems, (source) => {
          const { value, problems: found } = checkSchema(labSchema, source);
          return {
            value,
            problems: [
              ...found,
              ...crossCheckLab(source),
              ...controlProblems(source, isWirePayload),
            ],
          };
        });
  const quiz =
    quizText === undefined
      ? undefined
      : inspectYaml(quizText, quizFile, problems, (source) => {
          const { value, problems: found } = checkSchema(quizSchema, source);
          return {
            value,
            problems: [...found, ...crossCheckQuiz(source), ...controlProblems(source)],
          };
        });

  if (problems.size > 0 || !lesson || !lab || !quiz || !python) return undefined;
  return { id, dir, meta: lesson.meta, pages: lesson.pages, lab, quiz, python };
}

function inspectYaml<T>(
  text: string,
  file: string,
  problems: Problems,
  check: (source: YamlSource) => { value?: T; problems: LineMessage[] },
): T | undefined {
  const source = new YamlSource(text);
  if (source.syntaxErrors.length > 0) {
    problems.addAll(file, source.syntaxErrors);
    return undefined;
  }
  const result = check(source);
  problems.addAll(file, result.problems);
  return result.problems.length === 0 ? result.value : undefined;
}

function inspectLessonText(
  text: string,
  id: string,
  file: string,
  problems: Problems,
): { meta: FrontMatter; pages: string[] } | undefined {
  const split = splitLesson(text);
  let meta: FrontMatter | undefined;
  const before = problems.size;

  if (!split.frontMatter) {
    problems.add(
      file,
      1,
      'lesson.md must start with front matter: a line "---", then id, title, server, summary, minutes and objectives, then a line "---"',
    );
  } else if (!split.frontMatterClosed) {
    problems.add(file, 1, 'the front matter is never closed: add a line "---" after it');
    return undefined;
  } else {
    const source = new YamlSource(split.frontMatter.text, split.frontMatter.line - 1);
    if (source.syntaxErrors.length > 0) {
      problems.addAll(file, source.syntaxErrors);
    } else {
      const checked = checkSchema(frontMatterSchema, source, "the front matter");
      problems.addAll(file, checked.problems);
      problems.addAll(file, controlProblems(source));
      meta = checked.value;
      const declared = valueAt(source.data, ["id"]);
      if (isId(declared) && declared !== id) {
        problems.add(
          file,
          source.lineOf(["id"]),
          `id: "${declared}" does not match the lesson's directory name "${id}" (they must be the same)`,
        );
      }
    }
  }

  const body = text
    .split(/\r?\n/)
    .slice(split.bodyLine - 1)
    .join("\n");
  problems.addAll(file, textControlProblems(body, split.bodyLine));

  if (split.pages.length === 0) {
    problems.add(
      file,
      Math.max(split.bodyLine - 1, 1),
      "the lesson has no pages: write its text after the front matter",
    );
  }
  for (const [i, page] of split.pages.entries()) {
    if (page.text === "") {
      problems.add(file, page.line, `page ${i + 1} is empty: remove the extra "---" line`);
      continue;
    }
    const lines = countPageLines(page.text);
    if (lines > PAGE_MAX_LINES) {
      problems.add(
        file,
        page.line,
        `page ${i + 1} is ${lines} lines once wrapped at ${PAGE_WIDTH} columns (at most ${PAGE_MAX_LINES} fit an 80x24 terminal); shorten it or split it with a "---" line`,
      );
    }
  }
  if (split.unclosedFence !== undefined) {
    problems.add(
      file,
      split.unclosedFence,
      "this code block is never closed: add a closing fence (``` or ~~~) after the code",
    );
  }

  if (problems.size > before || !meta) return undefined;
  return { meta, pages: split.pages.map((page) => page.text) };
}

function duplicates(source: YamlSource, list: string, field: string, rule: string): LineMessage[] {
  const items = valueAt(source.data, [list]);
  if (!Array.isArray(items)) return [];
  const seen = new Set<unknown>();
  const found: LineMessage[] = [];
  for (const [i, item] of items.entries()) {
    const value = isRecord(item) ? item[field] : undefined;
    if (typeof value !== "string" && typeof value !== "number") continue;
    const path: Path = [list, i, field];
    if (seen.has(value)) {
      found.push({
        line: source.lineOf(path),
        message: `${formatPath(path)}: ${describe(value)} is used twice (${rule})`,
      });
    }
    seen.add(value);
  }
  return found;
}

function escapesWorkspace(file: string): boolean {
  return /^([/\\]|[A-Za-z]:)/.test(file) || file.split(/[/\\]/).includes("..");
}

function crossCheckLab(source: YamlSource): LineMessage[] {
  const found = [
    ...duplicates(source, "experiments", "key", "keys must be unique digits 1-9"),
    ...duplicates(source, "experiments", "id", "experiment ids must be unique"),
    ...duplicates(source, "missions", "id", "mission ids must be unique"),
  ];
  const edit = valueAt(source.data, ["edit"]);
  if (typeof edit === "string" && escapesWorkspace(edit)) {
    found.push({
      line: source.lineOf(["edit"]),
      message: `edit: ${describe(edit)} must be a path inside the workspace (relative, without "..")`,
    });
  }
  const experiments = valueAt(source.data, ["experiments"]);
  const restarts: Path[] = [];
  if (Array.isArray(experiments)) {
    for (const [i, experiment] of experiments.entries()) {
      found.push(...predictProblems(source, experiment, i));
      const action = isRecord(experiment) ? experiment.action : undefined;
      if (!isRecord(action)) continue;
      found.push(...workerActionProblems(source, action, i));
      found.push(...loopActionProblems(source, action, i));
      if (action.kind === "restart") restarts.push(["experiments", i, "action", "options"]);
      if (action.kind !== "write-file" || typeof action.file !== "string") continue;
      if (escapesWorkspace(action.file)) {
        const path: Path = ["experiments", i, "action", "file"];
        found.push({
          line: source.lineOf(path),
          message: `${formatPath(path)}: ${describe(action.file)} must be a path inside the workspace (relative, without "..")`,
        });
      }
    }
  }
  const sandbox = valueAt(source.data, ["sandbox"]);
  if (typeof sandbox === "string" && (SANDBOX_NAMES as string[]).includes(sandbox)) {
    for (const path of [["options"], ...restarts]) {
      found.push(...optionProblems(source, path, sandbox));
    }
  }
  found.push(...regexProblems(source));
  return found;
}

function predictProblems(source: YamlSource, experiment: unknown, i: number): LineMessage[] {
  const predict = isRecord(experiment) ? experiment.predict : undefined;
  if (!isRecord(predict) || !Array.isArray(predict.choices)) return [];
  const { answer, choices } = predict;
  if (typeof answer !== "number" || !Number.isInteger(answer) || answer < 0) return [];
  if (answer < choices.length) return [];
  const path: Path = ["experiments", i, "predict", "answer"];
  return [
    {
      line: source.lineOf(path),
      message: `${formatPath(path)}: ${answer} is out of range (${choices.length} choices, so 0-${choices.length - 1}; answers count from 0)`,
    },
  ];
}

const LOOP_KINDS = ["websocket", "ws-load", "poll-vs-ws"];

/**
 * WebSockets and long polls only mean something to a sandbox with an event loop that has them,
 * and a slow client aimed past the proxy only to a proxy.
 */
function loopActionProblems(
  source: YamlSource,
  action: Record<string, unknown>,
  i: number,
): LineMessage[] {
  const sandbox = valueAt(source.data, ["sandbox"]);
  if (typeof sandbox !== "string") return [];
  if (action.kind === "slow-client" && action.target === "upstream" && sandbox !== "proxy") {
    const path: Path = ["experiments", i, "action", "target"];
    return [
      {
        line: source.lineOf(path),
        message: `${formatPath(path)}: "upstream" needs a proxy in front of an app server (proxy), not ${sandbox}`,
      },
    ];
  }
  if ((LOOP_SANDBOXES as readonly string[]).includes(sandbox)) return [];
  if (typeof action.kind !== "string" || !LOOP_KINDS.includes(action.kind)) return [];
  const path: Path = ["experiments", i, "action", "kind"];
  return [
    {
      line: source.lineOf(path),
      message: `${formatPath(path)}: "${action.kind}" needs a sandbox with WebSockets (${LOOP_SANDBOXES.join(", ")}), not ${sandbox}`,
    },
  ];
}

/** Signals, killed workers and worker counts only mean something to a sandbox with workers. */
function workerActionProblems(
  source: YamlSource,
  action: Record<string, unknown>,
  i: number,
): LineMessage[] {
  const sandbox = valueAt(source.data, ["sandbox"]);
  if (typeof sandbox !== "string" || (WORKER_SANDBOXES as readonly string[]).includes(sandbox))
    return [];
  const takers = WORKER_SANDBOXES.join(", ");
  const at = (path: Path, message: string): LineMessage => ({
    line: source.lineOf(path),
    message: `${formatPath(path)}: ${message}`,
  });
  if (action.kind === "signal" || action.kind === "kill-worker") {
    return [
      at(
        ["experiments", i, "action", "kind"],
        `"${action.kind}" needs a sandbox with a master and workers (${takers}), not ${sandbox}`,
      ),
    ];
  }
  if (action.kind === "burst" && action.workers !== undefined) {
    return [
      at(
        ["experiments", i, "action", "workers"],
        `worker counts need a sandbox with workers (${takers}), not ${sandbox}`,
      ),
    ];
  }
  return [];
}

/** Option names the lab's sandbox does not take; the app's own flags above all. */
function optionProblems(source: YamlSource, path: Path, sandbox: string): LineMessage[] {
  const options = valueAt(source.data, path);
  if (!isRecord(options)) return [];
  const allowed = sandboxOptions(sandbox);
  const takes =
    allowed.length > 0
      ? `the ${sandbox} sandbox takes: ${allowed.join(", ")}`
      : `the ${sandbox} sandbox takes none`;
  const found: LineMessage[] = [];
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const what = RESERVED_FLAGS.includes(key)
      ? `"${key}" is set by the app, never by a lesson pack`
      : `"${key}" is not an option a lab may set`;
    found.push({
      line: source.keyLineOf(path, key),
      message: `${formatPath(path)}: ${what} (${takes})`,
    });
  }
  return found;
}

/** Mission regexes that do not compile, or that repeat a repetition (catastrophic backtracking). */
function regexProblems(source: YamlSource): LineMessage[] {
  const missions = valueAt(source.data, ["missions"]);
  if (!Array.isArray(missions)) return [];
  const found: LineMessage[] = [];
  for (const [i, mission] of missions.entries()) {
    const match = valueAt(mission, ["when", "match"]);
    if (!isRecord(match)) continue;
    for (const [key, matcher] of Object.entries(match)) {
      if (!isRecord(matcher) || typeof matcher.regex !== "string") continue;
      const path: Path = ["missions", i, "when", "match", key, "regex"];
      const pattern = matcher.regex;
      const at = (message: string) =>
        found.push({ line: source.lineOf(path), message: `${formatPath(path)}: ${message}` });
      try {
        new RegExp(pattern);
      } catch (error) {
        const reason = (error instanceof Error ? error.message : String(error)).split(": ").at(-1);
        at(`${describe(pattern)} is not a valid regular expression (${reason})`);
        continue;
      }
      const nested = nestedRepetition(pattern);
      if (nested !== undefined) {
        at(
          `${describe(pattern)} repeats a group that repeats itself (${describe(nested)}), which can take exponential time on a long path or header; rewrite it without the nested repetition`,
        );
      }
    }
  }
  return found;
}

/**
 * The first group that holds a repetition (`*`, `+`, `{n,}`, `{n,m}`) and is repeated itself,
 * as in `(a+)+`: the shape behind catastrophic backtracking. Undefined when there is none.
 */
export function nestedRepetition(pattern: string): string | undefined {
  const open: { start: number; repeats: boolean }[] = [];
  let lastGroup: { start: number; repeats: boolean } | undefined;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === "\\") {
      i += 2;
      lastGroup = undefined;
    } else if (ch === "[") {
      i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      lastGroup = undefined;
    } else if (ch === "(") {
      open.push({ start: i, repeats: false });
      i++;
      lastGroup = undefined;
    } else if (ch === ")") {
      lastGroup = open.pop();
      const parent = open.at(-1);
      if (lastGroup?.repeats && parent) parent.repeats = true;
      i++;
    } else if (ch === "*" || ch === "+" || ch === "{") {
      let end = i + 1;
      let repeats = true;
      if (ch === "{") {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
        if (m) {
          end = i + m[0].length;
          const most = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
          repeats = most > 1;
        } else {
          repeats = false;
        }
      }
      if (repeats) {
        if (lastGroup?.repeats) return pattern.slice(lastGroup.start, end);
        const parent = open.at(-1);
        if (parent) parent.repeats = true;
      }
      lastGroup = undefined;
      i = end;
    } else {
      lastGroup = undefined;
      i++;
    }
  }
  return undefined;
}

/** Fields whose text is sent or written as it is, where a CR of a CRLF belongs. */
function isWirePayload(path: Path): boolean {
  return (
    path.length === 4 &&
    path[0] === "experiments" &&
    path[2] === "action" &&
    (path[3] === "send" || path[3] === "body" || path[3] === "content")
  );
}

const CONTROL_RULE = "lesson packs may hold no control characters other than newline and tab";

/** Strings (and keys) of a YAML document that hold terminal control characters. */
function controlProblems(
  source: YamlSource,
  allowsCr: (path: Path) => boolean = () => false,
): LineMessage[] {
  const found: LineMessage[] = [];
  const lead = (path: Path) => (path.length > 0 ? `${formatPath(path)}: ` : "");
  const visit = (value: unknown, path: Path): void => {
    if (typeof value === "string") {
      const hit = findControl(allowsCr(path) ? value.replace(/\r/g, "") : value);
      if (hit) {
        found.push({
          line: source.lineOf(path),
          message: `${lead(path)}contains the control character ${describeControl(hit.code)}: ${CONTROL_RULE}`,
        });
      }
    } else if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) visit(item, [...path, i]);
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        const hit = findControl(key);
        if (hit) {
          found.push({
            line: source.keyLineOf(path, key),
            message: `${lead(path)}the key "${safeText(key)}" contains the control character ${describeControl(hit.code)}: ${CONTROL_RULE}`,
          });
        } else {
          visit(item, [...path, key]);
        }
      }
    }
  };
  visit(source.data, []);
  return found;
}

/** The first line of plain text (Markdown, Python) that holds a control character. */
function textControlProblems(text: string, firstLine = 1): LineMessage[] {
  let first: LineMessage | undefined;
  let more = 0;
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const hit = findControl(line);
    if (!hit) continue;
    if (first) {
      more++;
      continue;
    }
    first = {
      line: firstLine + i,
      message: `contains the control character ${describeControl(hit.code)}: ${CONTROL_RULE}`,
    };
  }
  if (!first) return [];
  if (more > 0) first.message += ` (${more} more ${more === 1 ? "line holds" : "lines hold"} one)`;
  return [first];
}

function crossCheckQuiz(source: YamlSource): LineMessage[] {
  const found = duplicates(source, "questions", "id", "question ids must be unique");
  const questions = valueAt(source.data, ["questions"]);
  if (Array.isArray(questions)) {
    for (const [i, question] of questions.entries()) {
      if (!isRecord(question) || !Array.isArray(question.choices)) continue;
      const { answer, choices } = question;
      if (typeof answer !== "number" || !Number.isInteger(answer) || answer < 0) continue;
      if (answer >= choices.length) {
        const path: Path = ["questions", i, "answer"];
        found.push({
          line: source.lineOf(path),
          message: `${formatPath(path)}: ${answer} is out of range (${choices.length} choices, so 0-${choices.length - 1}; answers count from 0)`,
        });
      }
    }
  }
  return found;
}

/** What the reader shows of python/: this many files at most, each at most this many bytes. */
export const PYTHON_MAX_FILES = 20;
export const PYTHON_MAX_BYTES = 64 * 1024;

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Every file under python/, sorted by name; undefined when python/ cannot be read or breaks a
 * rule. Symbolic links are skipped: a pack shows only its own files.
 */
async function readPython(
  base: string,
  problems: Problems,
): Promise<{ name: string; code: string }[] | undefined> {
  const files: { name: string; code: string }[] = [];
  let tooMany = false;
  let broken = false;
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort(byName);
    for (const entry of entries) {
      if (tooMany) return;
      if (entry.name.startsWith(".") || entry.name === "__pycache__") continue;
      if (entry.isSymbolicLink()) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!entry.isFile()) continue;
      const name = relative(base, path).split(sep).join("/");
      if (findControl(name)) {
        problems.add(
          base,
          1,
          `the file name "${safeText(name)}" contains a control character: rename it`,
        );
        broken = true;
        continue;
      }
      if (files.length >= PYTHON_MAX_FILES) {
        tooMany = true;
        return;
      }
      const { size } = await lstat(path);
      if (size > PYTHON_MAX_BYTES) {
        problems.add(
          path,
          1,
          `${Math.ceil(size / 1024)} KB is too big to show in the reader (at most ${PYTHON_MAX_BYTES / 1024} KB): shorten it, or keep it out of python/`,
        );
        broken = true;
        continue;
      }
      const code = await readFile(path, "utf8");
      const found = textControlProblems(code);
      if (found.length > 0) {
        problems.addAll(path, found);
        broken = true;
        continue;
      }
      files.push({ name, code });
    }
  };
  let info: Awaited<ReturnType<typeof lstat>> | undefined;
  try {
    info = await lstat(base);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
  }
  if (info?.isSymbolicLink()) return [];
  if (!info?.isDirectory()) {
    problems.add(base, 1, "python must be a directory holding the lesson's Python files");
    return undefined;
  }
  try {
    await walk(base);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    problems.add(base, 1, `cannot read the python directory (${code})`);
    return undefined;
  }
  if (tooMany) {
    problems.add(
      base,
      1,
      `python holds more than ${PYTHON_MAX_FILES} files (the reader shows at most ${PYTHON_MAX_FILES}): keep the ones the lesson is about`,
    );
  }
  if (tooMany || broken) return undefined;
  return files.sort(byName);
}
