import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findControl } from "../../src/course/control.js";
import { assertBuilt, cliEnv, removeTemps, runCli, tempDir } from "../cli/helpers.js";

beforeAll(assertBuilt);
afterAll(removeTemps);

describe("plain mode shows what a server sent with its control characters escaped", () => {
  it("a file holding an OSC clipboard write is quoted visibly, never written raw", async () => {
    const home = tempDir();
    const workspace = join(home, "workspaces", "http-basics");
    mkdirSync(workspace, { recursive: true });
    writeFileSync(join(workspace, "hello.txt"), "hi \x1b]52;c;aGVsbG8=\x07 there\n");
    const run = await runCli(["--plain", "lab", "http-basics"], {
      env: cliEnv(home),
      input: "1\n",
      timeoutMs: 20_000,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Received:");
    expect(run.stdout).toContain("  < hi \\x1b]52;c;aGVsbG8=\\x07 there");
    expect(findControl(run.stdout.replace(/\r/g, ""))).toBeUndefined();
  });
});
