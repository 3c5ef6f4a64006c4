import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { formatProblem, validatePack } from "../../src/course/loader.js";

export const PACKS = fileURLToPath(new URL("../fixtures/packs/", import.meta.url));

const temps: string[] = [];

/** A fresh temporary folder, removed by `removeTemps`. */
export function tempFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-pack-"));
  temps.push(dir);
  return dir;
}

export function removeTemps(): void {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A copy of the valid fixture pack, in a folder named "pack", for one test to break. */
export function copyValid(): string {
  const dir = join(tempFolder(), "pack");
  cpSync(join(PACKS, "valid"), dir, { recursive: true });
  return dir;
}

/** The temporary folder a `copyValid` pack sits in. */
export function besidePack(pack: string): string {
  return dirname(pack);
}

/** Replaces `from` (which must be there) with `to` in `file`. */
export function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  expect(text).toContain(from);
  writeFileSync(
    file,
    text.replace(from, () => to),
  );
}

export async function problems(dir: string): Promise<string[]> {
  return (await validatePack(dir)).map(formatProblem);
}
