import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Root, smallFileBody } from "../../sandboxes/static/files.js";

let root: string;
let outside: string;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "lws-files-root-")));
  outside = realpathSync(mkdtempSync(join(tmpdir(), "lws-files-out-")));
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "a.txt"), "a");
  writeFileSync(join(outside, "secret.txt"), "secret");
  symlinkSync(join(outside, "secret.txt"), join(root, "out.txt"));
  symlinkSync(join(root, "sub", "a.txt"), join(root, "in.txt"));
  symlinkSync(outside, join(root, "outdir"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe.each([
  ["inline", true],
  ["on the thread pool", false],
])("Root.lookup %s", (_name, inline) => {
  it("finds files and directories inside and nothing outside", async () => {
    const r = new Root(root, { inline });
    expect(await r.lookup(join(root, "sub"))).toMatchObject({ kind: "dir" });
    expect(await r.lookup(join(root, "sub", "a.txt"))).toMatchObject({
      kind: "file",
      real: join(root, "sub", "a.txt"),
    });
    expect(await r.lookup(join(root, "in.txt"))).toMatchObject({
      kind: "file",
      real: join(root, "sub", "a.txt"),
    });
    expect(await r.lookup(join(root, "out.txt"))).toBeNull();
    expect(await r.lookup(join(root, "outdir", "secret.txt"))).toBeNull();
    expect(await r.lookup(join(root, "missing"))).toBeNull();
    expect(await r.lookup(`${join(root, "sub", "a.txt")}/`)).toBeNull();
    expect(await r.lookup(Buffer.from(join(root, "sub", "a.txt")))).toMatchObject({ kind: "file" });
  });
});

describe("Root.lookup through a served directory spelt with a symlink", () => {
  it("walks from the real directory and still refuses what lies outside", async () => {
    const alias = join(outside, "alias");
    symlinkSync(root, alias);
    const r = new Root(root, { base: alias });
    expect(await r.lookup(join(alias, "sub", "a.txt"))).toMatchObject({
      kind: "file",
      real: join(root, "sub", "a.txt"),
    });
    expect(await r.lookup(`${alias}/`)).toMatchObject({ kind: "dir", real: root });
    expect(await r.lookup(join(alias, "in.txt"))).toMatchObject({
      real: join(root, "sub", "a.txt"),
    });
    expect(await r.lookup(join(alias, "out.txt"))).toBeNull();
    expect(await r.lookup(join(alias, "outdir", "secret.txt"))).toBeNull();
    expect(await r.lookup(join(outside, "secret.txt"))).toBeNull();
  });
});

describe("lookups on the thread pool", () => {
  it("share one look at the disk within a turn of the event loop, and look again later", async () => {
    const r = new Root(root, { inline: false });
    const path = join(root, "sub", "a.txt");
    const [a, b] = [r.lookup(path), r.lookup(path)];
    expect(a).toBe(b);
    await a;
    const c = r.lookup(path);
    expect(c).not.toBe(a);
    writeFileSync(path, "changed");
    const later = await c;
    expect(later?.kind === "file" && later.stats.size).toBe(7);
    writeFileSync(path, "a");
  });
});

describe("smallFileBody", () => {
  it("serves from memory while the file is unchanged, settled, and rereads it after a change", async () => {
    const r = new Root(root);
    const path = join(root, "sub", "cached.txt");
    writeFileSync(path, "one");
    const first = await r.lookup(path);
    if (first?.kind !== "file") throw new Error("expected a file");
    const fresh = await smallFileBody(first.real, first.stats);
    expect(fresh?.toString()).toBe("one");
    expect(await smallFileBody(first.real, first.stats)).not.toBe(fresh);
    const later = Date.now() + 5000;
    const body1 = await smallFileBody(first.real, first.stats, later);
    expect(await smallFileBody(first.real, first.stats, later)).toBe(body1);
    writeFileSync(path, "two!");
    const second = await r.lookup(path);
    if (second?.kind !== "file") throw new Error("expected a file");
    expect((await smallFileBody(second.real, second.stats))?.toString()).toBe("two!");
  });
});
