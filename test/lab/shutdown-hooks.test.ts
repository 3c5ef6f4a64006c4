import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, bundleFixture } from "./helpers.js";

/** How long the supervisor gives each shutdown hook. */
const SHUTDOWN_HOOK_MS = 1_000;

const _here = dirname(fileURLToPath(import.meta.url));

let dir: string;
let script: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lw-shutdown-"));
  script = join(dir, "parent.mjs");
  await bundleFixture("stuck-hook-parent.ts", script);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("shutdown hooks (P4)", () => {
  it("a hook that never settles delays the exit by about a second, no more", async () => {
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const started = Date.now();
    const timedOut = new Promise<"timed out">((r) =>
      setTimeout(() => r("timed out"), SHUTDOWN_HOOK_MS + 5_000).unref(),
    );
    const code = await Promise.race([exited, timedOut]);
    expect(code).toBe(7);
    expect(Date.now() - started).toBeLessThan(SHUTDOWN_HOOK_MS + 4_000);
    expect(out).toContain('"secondHook":true');
    const line = out.split("\n").find((l) => l.includes('"pid"'));
    expect(line).toBeDefined();
    const { pid } = JSON.parse(line as string) as { pid: number };
    expect(alive(pid)).toBe(false);
  });
});
