import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultPortsResult,
  nodeCheck,
  openFilesResult,
  parseProcLimits,
  parseUlimit,
  terminalCheck,
} from "../../src/doctor/checks.js";
import { formatResult } from "../../src/doctor/report.js";
import { Term } from "../e2e/pty.js";
import {
  assertBuilt,
  cliEnv,
  lines,
  ROOT,
  type Run,
  removeTemps,
  runCli,
  runNode,
  tempDir,
} from "./helpers.js";

interface Row {
  check: string;
  status: "ok" | "warn" | "fail";
  found: string;
  fix?: string;
}

const SERVERS = ["gunicorn", "uwsgi", "flask", "django", "tornado", "uvicorn"];
const CHECKS = [
  "node",
  "terminal",
  "loopback",
  "default-ports",
  "progress-folder",
  "sandboxes",
  "open-files",
  "fs-events",
  "python3",
  ...SERVERS,
];
const LINE = /^(ok {2}|warn|FAIL|info) {2}\S/;

function doctor(args: string[], env: NodeJS.ProcessEnv, cli?: string): Promise<Run> {
  return cli ? runCliAt(cli, args, env) : runCli(["doctor", ...args], { env });
}

function runCliAt(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return runNode([cli, "doctor", ...args], { env });
}

function json(r: Run): Row[] {
  return JSON.parse(r.stdout) as Row[];
}

beforeAll(assertBuilt);
afterAll(removeTemps);

describe("doctor on this machine", () => {
  let text: Run;
  let asJson: Run;
  let home: string;
  let elapsed: number;

  beforeAll(async () => {
    home = tempDir();
    const started = Date.now();
    [text, asJson] = await Promise.all([
      doctor([], cliEnv(home)),
      doctor(["--json"], cliEnv(home)),
    ]);
    elapsed = Date.now() - started;
  });

  it("exits 0 with one marked line per check and a summary, well under 3 s", () => {
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(elapsed).toBeLessThan(5000); // 0.5 s alone; slack for a test machine running other files at once
    const out = lines(text.stdout);
    const checks = out.slice(0, -1);
    expect(checks).toHaveLength(CHECKS.length);
    for (const line of checks) expect(line).toMatch(LINE);
    expect(out.at(-1)).toMatch(/^Ready for the course/);
    expect(checks[0]).toMatch(/^ok {4}Node \d+\.\d+\.\d+$/);
    expect(text.stdout).toContain("listening on 127.0.0.1 works (free port ");
    expect(text.stdout).toContain(`progress folder ${home} is writable`);
    expect(text.stdout).toMatch(/^ok {4}sandboxes built: .*static/m);
    expect(text.stdout).toMatch(/^(ok|warn) +open-file limit \d+/m);
    expect(text.stdout).toMatch(/^(ok|warn) +(file-system events arrive|no file-system event)/m);
    expect(text.stdout).toMatch(/^info {2}.*(Python 3|python3)/m);
    for (const server of SERVERS)
      expect(text.stdout).toMatch(new RegExp(`^info {2}${server}`, "m"));
    // Piped output: no terminal to measure, which is a warning, with its fix on the same line.
    expect(text.stdout).toMatch(/^warn {2}no terminal: .*; run learn-webservers doctor straight/m);
    expect(text.stdout).not.toContain("\x1b");
  });

  it("--json: an array of {check, status, found, fix?}, a fix for every warning and problem", () => {
    expect(asJson.code).toBe(0);
    const rows = json(asJson);
    expect(rows.map((r) => r.check)).toEqual(CHECKS);
    for (const row of rows) {
      expect(["ok", "warn", "fail"]).toContain(row.status);
      expect(typeof row.found).toBe("string");
      expect(Object.keys(row).sort()).toEqual(
        row.status === "ok" ? ["check", "found", "status"] : ["check", "fix", "found", "status"],
      );
    }
    // The optional servers are never a problem.
    for (const row of rows.filter((r) => SERVERS.includes(r.check) || r.check === "python3")) {
      expect(row.status).toBe("ok");
    }
    expect(asJson.stdout).not.toContain("\x1b");
  });
});

describe("doctor: problems that block the course", () => {
  it("an unusable progress folder: exit 1, the problem and LEARN_WEBSERVERS_HOME, in text and JSON", async () => {
    // A file where the folder should be, and a file above where it should be made.
    const home = join(tempDir(), "progress");
    writeFileSync(home, "not a folder");
    const file = join(tempDir(), "file");
    writeFileSync(file, "");
    const [r, j] = await Promise.all([
      doctor([], cliEnv(home)),
      doctor(["--json"], cliEnv(join(file, "progress"))),
    ]);
    expect(r.code).toBe(1);
    const line = lines(r.stdout).find((l) => l.startsWith("FAIL"));
    expect(line).toContain(`progress folder ${home} is a file, not a folder`);
    expect(line).toContain("LEARN_WEBSERVERS_HOME");
    expect(lines(r.stdout).at(-1)).toMatch(/^Not ready: 1 problem blocks the course/);

    expect(j.code).toBe(1);
    const row = json(j).find((x) => x.check === "progress-folder");
    expect(row).toMatchObject({ status: "fail" });
    expect(row?.found).toContain(`${file} is a file, not a folder`);
    expect(row?.fix).toContain("LEARN_WEBSERVERS_HOME");
  });

  it("a missing sandbox bundle: exit 1, naming the file and how to get it back", async () => {
    // A copy of the installed package, so the shared dist/ is left alone.
    const copy = tempDir();
    cpSync(join(ROOT, "dist"), join(copy, "dist"), { recursive: true });
    cpSync(join(ROOT, "lessons"), join(copy, "lessons"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
    rmSync(join(copy, "dist", "sandboxes", "prefork.js"));
    const r = await doctor(["--json"], cliEnv(tempDir()), join(copy, "dist", "cli.js"));
    expect(r.code).toBe(1);
    const row = json(r).find((x) => x.check === "sandboxes");
    expect(row?.status).toBe("fail");
    expect(row?.found).toContain(join("dist", "sandboxes", "prefork.js"));
    expect(row?.fix).toMatch(/reinstall learn-webservers/);
    // In a clone, the fix is the build.
    mkdirSync(join(copy, "scripts"));
    writeFileSync(join(copy, "scripts", "build.mjs"), "");
    const clone = await doctor([], cliEnv(tempDir()), join(copy, "dist", "cli.js"));
    expect(clone.code).toBe(1);
    expect(clone.stdout).toMatch(
      /^FAIL {2}dist\/sandboxes\/prefork\.js missing .*; run npm run build in /m,
    );
  });
});

describe("doctor: ports", () => {
  let held: Server | undefined;
  afterAll(() => held?.close());

  it("port 8000 taken is a warning that says lab <id> picks a free port anyway", async () => {
    held = await new Promise<Server | undefined>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(undefined)); // Someone else holds it: taken all the same.
      s.listen(8000, "127.0.0.1", () => resolve(s));
    });
    const r = await doctor(["--json"], cliEnv(tempDir()));
    expect(r.code).toBe(0);
    const row = json(r).find((x) => x.check === "default-ports");
    expect(row?.status).toBe("warn");
    expect(row?.found).toMatch(
      /\bports? (5000 and )?8000 (and 5000 )?(is|are) in use on 127\.0\.0\.1/,
    );
    expect(row?.fix).toContain("learn-webservers lab <id> picks a free port anyway");
  });
});

describe("doctor in a terminal", () => {
  async function inTerm(env: Record<string, string>, cols = 100, rows = 30): Promise<Term> {
    const t = new Term(["doctor"], { env, cols, rows });
    await t.exited;
    return t;
  }

  it("colours the marks, and NO_COLOR turns that off; the terminal's size is checked", async () => {
    const [coloured, plain, small] = await Promise.all([
      inTerm({}),
      inTerm({ NO_COLOR: "1" }),
      inTerm({ NO_COLOR: "1" }, 60, 20),
    ]);
    expect(coloured.raw).toContain("\x1b[32mok  \x1b[39m");
    expect(coloured.text()).toMatch(/^ok {4}terminal 100x30, /m);
    expect(plain.raw).not.toContain("\x1b");
    expect(plain.raw).toMatch(/^ok {4}terminal 100x30, colour off \(NO_COLOR is set\)/m);
    expect(small.raw).not.toContain("\x1b");
    expect(small.raw).toMatch(
      /^warn {2}terminal 60x20, .*: the full-screen course needs 80x24; .*--plain/m,
    );
  });
});

describe("doctor: usage", () => {
  it("--help describes every check, the JSON shape and the exit statuses", async () => {
    const r = await runCli(["doctor", "--help"], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(0);
    for (const text of ["--json", "{check, status: ok|warn|fail, found, fix?}", "--plain"]) {
      expect(r.stdout).toContain(text);
    }
    for (const text of ["Node >= 20", "80x24", "127.0.0.1", "LEARN_WEBSERVERS_HOME", "open-file"]) {
      expect(r.stdout).toContain(text);
    }
    expect(r.stdout).toMatch(/0 ready, 1 something blocks the course, 2 usage mistake/);
    for (const line of r.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    const main = await runCli(["--help"], { env: cliEnv(tempDir()) });
    expect(main.stdout).toContain("doctor [--json]");
  });

  it.each([[["extra"]], [["--bogus"]]])("doctor %j: exit 2, one line on stderr", async (args) => {
    const r = await runCli(["doctor", ...args], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^learn-webservers: .*; see 'learn-webservers doctor --help'$/m);
    expect(r.stdout).toBe("");
  });
});

describe("doctor's verdicts", () => {
  it("Node older than 20 blocks the course, with how to install a newer one", () => {
    const r = nodeCheck("18.19.0");
    expect(r.status).toBe("fail");
    expect(formatResult(r, false)).toBe(
      "FAIL  Node 18.19.0: the course needs Node 20 or newer; install it from https://nodejs.org or with nvm install 20",
    );
    expect(nodeCheck("20.0.0").status).toBe("ok");
  });

  it("reads the open-file limit from /proc/self/limits and from ulimit", () => {
    const proc =
      "Limit                     Soft Limit           Hard Limit           Units     \n" +
      "Max open files            1024                 524288               files     \n";
    expect(parseProcLimits(proc)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseUlimit("unlimited\nunlimited\n")).toEqual({
      soft: Number.POSITIVE_INFINITY,
      hard: Number.POSITIVE_INFINITY,
    });
    expect(parseUlimit("256\n")).toEqual({ soft: 256, hard: 256 });
  });

  it("an open-file limit under 21000 is a warning with the way to raise it", () => {
    const soft = openFilesResult({ soft: 1024, hard: 65536 }, "linux");
    expect(soft.status).toBe("warn");
    expect(soft.found).toContain("the 10,000-connection experiment needs 21000");
    expect(soft.fix).toContain("ulimit -n 21000");
    const hard = openFilesResult({ soft: 4096, hard: 4096 }, "linux");
    expect(hard.fix).toContain("/etc/security/limits.conf");
    expect(openFilesResult({ soft: 256, hard: 256 }, "darwin").fix).toContain("launchctl");
    expect(openFilesResult({ soft: Number.POSITIVE_INFINITY, hard: 1 }, "linux").status).toBe("ok");
  });

  it("the default ports and the terminal", () => {
    expect(defaultPortsResult([]).status).toBe("ok");
    const mac = defaultPortsResult([{ port: 5000, code: "EADDRINUSE" }], "darwin");
    expect(mac.status).toBe("warn");
    expect(mac.found).toBe("port 5000 is in use on 127.0.0.1");
    expect(mac.fix).toContain("AirPlay Receiver");
    expect(mac.fix).toContain("flask run");
    const dumb = terminalCheck({
      stream: "stdout",
      columns: 80,
      rows: 24,
      colorDepth: 8,
      env: { TERM: "dumb" },
    });
    expect(dumb.status).toBe("warn");
    expect(dumb.fix).toContain("TERM=xterm-256color");
  });
});
