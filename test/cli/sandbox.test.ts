import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  CLI,
  childPids,
  cliEnv,
  isAlive,
  lines,
  ROOT,
  removeTemps,
  runCli,
  tempDir,
  waitFor,
  waitGone,
} from "./helpers.js";

interface Foreground {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];

/** `learn-webservers sandbox ...` in its own process group, as a shell runs a foreground job. */
function foreground(args: string[]): Foreground {
  const child = spawn(process.execPath, [CLI, "sandbox", ...args], {
    cwd: ROOT,
    env: cliEnv(tempDir()),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started.push(child);
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, out: () => out, exit };
}

async function urlOf(fg: Foreground): Promise<string> {
  return waitFor(() => /http:\/\/127\.0\.0\.1:(\d+)\//.exec(fg.out())?.[0], "the sandbox's URL");
}

beforeAll(assertBuilt);
afterEach(() => {
  for (const child of started.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
});
afterAll(removeTemps);

describe("sandbox <name>", () => {
  it("the sandbox exits by itself when the CLI that ran it is killed with SIGKILL", async () => {
    const fg = foreground(["static", "--port", "0"]);
    await urlOf(fg);
    const cli = fg.child.pid as number;
    const [sandbox] = await waitFor(() => {
      const kids = childPids(cli);
      return kids.length > 0 && kids;
    }, "the sandbox process");
    process.kill(cli, "SIGKILL");
    expect(await waitGone(sandbox as number, 3000)).toBe(true);
  });

  it("static --port 0 answers a request and exits 0 on Ctrl+C with the server's goodbye", async () => {
    const fg = foreground(["static", "--port", "0"]);
    const url = await urlOf(fg);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    await res.text();
    const cli = fg.child.pid as number;
    const [sandbox] = await waitFor(() => {
      const kids = childPids(cli);
      return kids.length > 0 && kids;
    }, "the sandbox process");

    // The terminal sends Ctrl+C to the whole foreground process group.
    process.kill(-cli, "SIGINT");
    const { code, signal } = await fg.exit;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(fg.out()).toContain("Keyboard interrupt received, exiting.");
    expect(fg.out().match(/Keyboard interrupt received/g)).toHaveLength(1);
    expect(await waitGone(sandbox as number)).toBe(true);
  });

  it("passes every argument through (--directory serves that folder)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "note.txt"), "from the test\n");
    const fg = foreground(["static", "--port", "0", "--directory", dir]);
    const url = await urlOf(fg);
    const res = await fetch(`${url}note.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("from the test\n");
    await waitFor(() => /"GET \/note\.txt HTTP\/1\.1" 200 -/.test(fg.out()), "the log line");
    process.kill(-(fg.child.pid as number), "SIGINT");
    expect((await fg.exit).code).toBe(0);
  });

  it("forwards SIGTERM to the sandbox and leaves nothing behind", async () => {
    const fg = foreground(["static", "--port", "0"]);
    await urlOf(fg);
    const cli = fg.child.pid as number;
    const [sandbox] = await waitFor(() => {
      const kids = childPids(cli);
      return kids.length > 0 && kids;
    }, "the sandbox process");
    process.kill(cli, "SIGTERM");
    const { code, signal } = await fg.exit;
    expect(signal).toBeNull();
    expect(code).not.toBeNull();
    expect(await waitGone(sandbox as number)).toBe(true);
    expect(isAlive(cli)).toBe(false);
  });

  it("static --help is the sandbox's own help", async () => {
    const r = await runCli(["sandbox", "static", "--help"], { env: cliEnv(tempDir()) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--port");
    expect(r.stdout).toContain("--directory");
    expect(r.stdout).not.toContain("learn-webservers sandbox <name>");
  });

  it("an unknown sandbox: one line naming the available ones, exit 2", async () => {
    for (const name of ["gunicorn", "../cli"]) {
      const r = await runCli(["sandbox", name, "--port", "0"], { env: cliEnv(tempDir()) });
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toContain(`unknown sandbox '${name}'`);
      expect(r.stderr).toMatch(/available sandboxes are: .*static/);
    }
  });

  it("no name: its usage on --help, an error naming the sandboxes without", async () => {
    const help = await runCli(["sandbox", "--help"], { env: cliEnv(tempDir()) });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: learn-webservers sandbox <name>");
    const none = await runCli(["sandbox"], { env: cliEnv(tempDir()) });
    expect(none.code).toBe(2);
    expect(lines(none.stderr)).toHaveLength(1);
    expect(none.stderr).toContain("static");
  });
});
