import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  CLI,
  cliEnv,
  lines,
  PACKS,
  ROOT,
  type Run,
  removeTemps,
  runCli,
  runNode,
  tempDir,
  VERSION,
} from "./helpers.js";

const STACK = /^\s+at .+:\d+/m;

beforeAll(assertBuilt);
afterAll(removeTemps);

describe("--version", () => {
  it.each([["--version"], ["-V"]])("%s prints the package version alone", async (flag) => {
    const r = await runCli([flag], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
    expect(r.stderr).toBe("");
  });

  it("is answered by the entry without loading any chunk", async () => {
    const { run, loaded } = await traceLoads(["--version"]);
    expect(run.stdout).toBe(`${VERSION}\n`);
    expect(loaded.filter((u) => u.includes("/dist/"))).toEqual([pathToFileURL(CLI).href]);
  });
});

describe("--help", () => {
  it("lists every command and flag, examples, the progress file and the keys pointer", async () => {
    const home = tempDir();
    const r = await runCli(["--help"], { env: cliEnv(home) });
    expect(r.code).toBe(0);
    const out = r.stdout;
    for (const command of [
      "list [--json]",
      "lesson <id>",
      "lab <id> [--port N]",
      "sandbox <name>",
      "progress [--json]",
      "progress reset [id] [--yes]",
      "validate [DIR]",
    ]) {
      expect(out).toContain(command);
    }
    for (const flag of [
      "--lessons <dir>",
      "--plain",
      "--version",
      "--help",
      "--host H",
      "--flavour F",
    ]) {
      expect(out).toContain(flag);
    }
    expect(out).toContain("Examples:");
    expect(out).toContain(`Progress is stored in ${join(home, "progress.json")}`);
    expect(out).toMatch(/press \? in the app/);
    for (const line of out.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });

  it("each command has its own help", async () => {
    const r = await runCli(["lab", "--help"], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: learn-webservers lab <id> [--port N]");
    expect(r.stdout).toContain("--host <host>");
    const s = await runCli(["help", "sandbox"], { env: cliEnv(tempDir()) });
    expect(s.code).toBe(0);
    expect(s.stdout).toContain("Every argument after <name> goes to the sandbox");
    const reset = await runCli(["help", "progress", "reset"], { env: cliEnv(tempDir()) });
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain("Usage: learn-webservers progress reset [id] [--yes]");
  });
});

describe("mistakes on the command line", () => {
  it.each([
    [["frobnicate"], /unknown command 'frobnicate'.*see 'learn-webservers --help'/],
    [["--frobnicate"], /unknown option '--frobnicate'.*see 'learn-webservers --help'/],
    [["list", "--frobnicate"], /unknown option '--frobnicate'.*see 'learn-webservers list --help'/],
    [["list", "extra"], /too many arguments.*see 'learn-webservers list --help'/],
    [["lesson"], /missing required argument 'id'/],
    [["lab", "alpha", "--port", "http"], /'http' is invalid.*port number/],
    [["progress", "frobnicate"], /unknown command 'frobnicate' \(commands: reset\)/],
    [["help", "frobnicate"], /unknown command 'frobnicate' \(commands: list, lesson, lab/],
  ])("%j: one line, exit 2, no stack trace", async (args, message) => {
    const r = await runCli(args, { env: cliEnv(tempDir()) });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^learn-webservers: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
  });

  it.each([["lesson"], ["lab"]])(
    "%s with an unknown id names the valid ids, exit 2",
    async (cmd) => {
      const pack = join(PACKS, "valid");
      const r = await runCli(["--lessons", pack, cmd, "gamma"], { env: cliEnv(tempDir()) });
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toEqual([
        "learn-webservers: unknown lesson 'gamma'; the lessons are: alpha, beta",
      ]);
    },
  );

  it("an unknown built-in lesson lists the built-in ids", async () => {
    const course = readFileSync(join(ROOT, "lessons", "course.yaml"), "utf8");
    const r = await runCli(["lesson", "no-such-lesson"], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("unknown lesson 'no-such-lesson'");
    for (const id of course.match(/http-[a-z-]+/g) ?? []) expect(r.stderr).toContain(id);
  });
});

describe("validate", () => {
  it("a good pack: DIR: N lessons, OK and exit 0", async () => {
    const pack = join(PACKS, "valid");
    const r = await runCli(["validate", pack], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pack}: 2 lessons, OK\n`);
  });

  it("the built-in lessons are valid", async () => {
    const r = await runCli(["validate"], { env: cliEnv(tempDir()) });
    expect(r.stdout).toMatch(/lessons: \d+ lessons, OK\n$/);
    expect(r.code).toBe(0);
  });

  it.each([["bad-yaml"], ["missing-quiz"], ["wrong-type"], ["unknown-field"], ["answer-range"]])(
    "%s: file:line: message lines and exit 1",
    async (name) => {
      const r = await runCli(["validate", join(PACKS, name)], { env: cliEnv(tempDir()) });
      expect(r.code).toBe(1);
      const problems = lines(r.stdout);
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) expect(p).toMatch(new RegExp(`^${name}/[^:]+:\\d+: \\S`));
      expect(r.stderr).toMatch(/: \d+ problems?\n$/);
      expect(r.stderr).not.toMatch(STACK);
    },
  );

  it("a folder that is not a pack, or a file: one line saying so, exit 1", async () => {
    const empty = tempDir();
    let r = await runCli(["validate", empty], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `learn-webservers: ${empty} is not a lesson pack: it has no course.yaml (docs/AUTHORING.md shows the layout)`,
    ]);
    const file = join(ROOT, "package.json");
    r = await runCli(["validate", file], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `learn-webservers: ${file} is not a folder; give the folder that holds course.yaml`,
    ]);
  });

  it("--lessons is what validate checks when no DIR is given", async () => {
    const r = await runCli(["--lessons", join(PACKS, "missing-quiz"), "validate"], {
      env: cliEnv(tempDir()),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^missing-quiz\//);
  });
});

describe("--lessons DIR", () => {
  it("is honoured by list, before or after the command", async () => {
    const pack = join(PACKS, "valid");
    for (const args of [
      ["--lessons", pack, "list", "--json"],
      ["list", "--json", "--lessons", pack],
    ]) {
      const r = await runCli(args, { env: cliEnv(tempDir()) });
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout) as { id: string }[];
      expect(rows.map((row) => row.id)).toEqual(["alpha", "beta"]);
    }
  });

  it("a pack that fails to load: its first problems and the validate command, exit 1", async () => {
    const pack = join(PACKS, "wrong-type");
    for (const args of [
      ["--lessons", pack, "list"],
      ["--lessons", pack, "lesson", "one"],
    ]) {
      const r = await runCli(args, { env: cliEnv(tempDir()) });
      expect(r.code).toBe(1);
      const out = lines(r.stderr);
      expect(out[0]).toMatch(/^learn-webservers: the lesson pack in .* cannot be loaded/);
      expect(out.slice(1, -1).length).toBeGreaterThan(0);
      for (const l of out.slice(1, -1))
        expect(l).toMatch(/^(wrong-type\/\S+:\d+: |\.\.\. and \d+ more)/);
      expect(out.at(-1)).toBe(`Run: learn-webservers validate ${pack}`);
      expect(r.stderr).not.toMatch(STACK);
    }
  });
});

describe("start-up", () => {
  it("list loads neither React nor Ink", async () => {
    const { run, loaded } = await traceLoads(["list"]);
    expect(run.code).toBe(0);
    const chunks = loaded.filter((u) => u.includes("/dist/"));
    expect(chunks.some((u) => /\/chunks\/list-/.test(u))).toBe(true);
    for (const url of chunks) {
      const code = readFileSync(new URL(url), "utf8");
      expect(code, url).not.toContain('Symbol.for("react.');
    }
  });
});

/** Runs the CLI with a module hook that records every module URL it loads. */
async function traceLoads(args: string[]): Promise<{ run: Run; loaded: string[] }> {
  const dir = tempDir();
  const log = join(dir, "loaded.txt");
  const hooks = join(dir, "hooks.mjs");
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(log)}, url + "\\n");
  return next(url, context);
}`,
  );
  const register = join(dir, "register.mjs");
  writeFileSync(
    register,
    `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});`,
  );
  const run = await runNode(["--import", register, CLI, ...args], { env: cliEnv(tempDir()) });
  const loaded = readFileSync(log, "utf8").trim().split("\n");
  return { run, loaded };
}
