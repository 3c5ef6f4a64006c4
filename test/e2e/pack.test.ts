import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  childPids,
  cliEnv,
  ROOT,
  removeTemps,
  runNode,
  tempDir,
  VERSION,
  waitFor,
  waitGone,
} from "../cli/helpers.js";

const run = promisify(execFile);
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
/** The tarball carries the bundled app, lessons and sandboxes; anything near this is a leak. */
const MAX_UNPACKED_BYTES = 8 * 1024 * 1024;

interface PackResult {
  filename: string;
  unpackedSize: number;
  size: number;
  files: { path: string }[];
}

let pack: PackResult;
let tarball: string;
let bin: string;
let npmEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  assertBuilt();
  const dest = tempDir("lw-pack-");
  npmEnv = {
    ...process.env,
    npm_config_cache: join(dest, ".npm-cache"),
    // A registry nobody listens on: the install must not need the network at all.
    npm_config_registry: "http://127.0.0.1:9/",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  };
  // --ignore-scripts: prepack would rebuild dist/ under the other tests' feet.
  const { stdout } = await run(
    NPM,
    ["pack", "--json", "--ignore-scripts", "--pack-destination", dest],
    { cwd: ROOT, env: npmEnv, maxBuffer: 64 * 1024 * 1024 },
  );
  const parsed = JSON.parse(stdout) as PackResult[];
  if (!parsed[0]) throw new Error(`npm pack printed no result: ${stdout}`);
  pack = parsed[0];
  tarball = join(dest, pack.filename);

  const app = tempDir("lw-install-");
  writeFileSync(join(app, "package.json"), '{ "name": "empty", "private": true }\n');
  await run(NPM, ["install", "--no-audit", "--no-fund", tarball], {
    cwd: app,
    env: npmEnv,
  });
  bin = join(app, "node_modules", ".bin", "learn-webservers");
}, 120_000);
afterAll(removeTemps);

describe("the packed tarball", () => {
  it("holds dist/ and lessons/, and no sources, tests or node_modules; it is small", () => {
    const paths = pack.files.map((f) => f.path);
    console.log(
      `learn-webservers ${VERSION}: ${paths.length} files, ${(pack.size / 1024).toFixed(0)} kB packed, ${(pack.unpackedSize / 1024).toFixed(0)} kB unpacked`,
    );
    expect(paths).toContain("dist/cli.js");
    expect(paths).toContain("dist/sandboxes/static.js");
    expect(paths).toContain("lessons/course.yaml");
    expect(paths).toContain("package.json");
    for (const p of paths) {
      expect(p).not.toMatch(/^(src|test|sandboxes|scripts|bench|node_modules)\//);
      expect(p).not.toMatch(/(^|\/)(__pycache__|\.DS_Store)(\/|$)/);
      expect(p).not.toMatch(/\.tsx?$/);
    }
    expect(pack.unpackedSize).toBeLessThan(MAX_UNPACKED_BYTES);
  });

  it("has no runtime dependencies, so it installed with no registry at all", () => {
    const pkg = JSON.parse(
      readFileSync(join(bin, "..", "..", "learn-webservers", "package.json"), "utf8"),
    ) as { dependencies?: Record<string, string>; scripts?: Record<string, string> };
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(existsSync(bin)).toBe(true);
    // npm asks users to approve packages with install scripts; this one needs none.
    const installScripts = ["preinstall", "install", "postinstall", "prepare"];
    expect(Object.keys(pkg.scripts ?? {}).filter((s) => installScripts.includes(s))).toEqual([]);
  });

  it("its bin answers --version", async () => {
    const r = await runNode([bin, "--version"], { env: cliEnv(tempDir()), cwd: tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it("its bin lists the packed lessons", async () => {
    const r = await runNode([bin, "list", "--json"], { env: cliEnv(tempDir()), cwd: tempDir() });
    expect(r.code).toBe(0);
    const ids = (JSON.parse(r.stdout) as { id: string; state: string }[]).map((x) => x.id);
    const course = readFileSync(join(ROOT, "lessons", "course.yaml"), "utf8");
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(course).toContain(id);
    const text = await runNode([bin, "list"], { env: cliEnv(tempDir()), cwd: tempDir() });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(ids[0] as string);
  });

  it("its bin runs sandbox static --port 0, which answers a real HTTP request", async () => {
    const child = spawn(process.execPath, [bin, "sandbox", "static", "--port", "0"], {
      cwd: tempDir(),
      env: cliEnv(tempDir()),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const exit = new Promise<number | null>((resolve) => child.once("close", resolve));
    try {
      const url = await waitFor(
        () => /http:\/\/127\.0\.0\.1:\d+\//.exec(out)?.[0],
        "the sandbox's URL",
      );
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get("server")).toMatch(/^SimpleHTTP\/[\d.]+ Python\/[\d.]+$/);
      await res.text();
      const [sandbox] = childPids(child.pid as number);
      process.kill(-(child.pid as number), "SIGINT");
      expect(await exit).toBe(0);
      if (sandbox !== undefined) expect(await waitGone(sandbox)).toBe(true);
    } finally {
      if (child.exitCode === null) process.kill(-(child.pid as number), "SIGKILL");
    }
  });
});
