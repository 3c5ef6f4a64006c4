import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findControl } from "../../src/course/control.js";
import { assertBuilt, cliEnv, PACKS, removeTemps, runCli, tempDir } from "./helpers.js";

beforeAll(assertBuilt);
afterAll(removeTemps);

/** The valid fixture pack with an OSC clipboard write in the title of its first lesson. */
function hostilePack(): string {
  const dir = join(tempDir(), "pack");
  cpSync(join(PACKS, "valid"), dir, { recursive: true });
  const md = join(dir, "alpha", "lesson.md");
  writeFileSync(
    md,
    readFileSync(md, "utf8").replace("title: Alpha", 'title: "Alpha\\e]52;c;aGVsbG8=\\a"'),
  );
  return dir;
}

describe("a pack with terminal escape sequences in its text (S3)", () => {
  it("validate reports it, and its output holds no control character", async () => {
    const pack = hostilePack();
    const run = await runCli(["validate", pack], { env: cliEnv(tempDir()) });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      "pack/alpha/lesson.md:3: title: contains the control character U+001B (escape): lesson packs may hold no control characters other than newline and tab\n",
    );
    expect(findControl(run.stdout + run.stderr)).toBeUndefined();
  });

  it("list refuses the pack instead of printing the sequence", async () => {
    const pack = hostilePack();
    const run = await runCli(["list", "--lessons", pack], { env: cliEnv(tempDir()) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("cannot be loaded");
    expect(findControl(run.stdout + run.stderr)).toBeUndefined();
  });
});
