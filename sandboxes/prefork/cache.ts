import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * uWSGI's --cache2, shared by every worker and read without leaving the request: a private
 * folder (mode 0700) the master creates, one file per key. A worker writes a key to a file of
 * its own, then renames it into place, so a reader never sees half a value and two workers
 * setting different keys never lose each other's.
 */
export class FolderCache {
  constructor(
    readonly folder: string,
    readonly items: number,
  ) {}

  /** The master's side: a new, empty folder for a --cache2 spec (items=N, default 100). */
  static create(spec: string): FolderCache {
    const items = Number(/(?:^|,)items=(\d+)/.exec(spec)?.[1] ?? 100);
    const folder = mkdtempSync(join(tmpdir(), "lws-prefork-cache-"));
    return new FolderCache(folder, Math.max(1, Math.min(items, 100000)));
  }

  private file(key: string): string {
    return join(this.folder, createHash("sha256").update(key).digest("hex"));
  }

  get(key: string): string | null {
    try {
      return readFileSync(this.file(key), "utf8");
    } catch {
      return null;
    }
  }

  /** False (and nothing stored) when the cache is full and `key` is new. */
  set(key: string, value: string): boolean {
    const file = this.file(key);
    try {
      if (this.get(key) === null && this.keys().length >= this.items) return false;
      const partial = `${file}.${process.pid}.tmp`;
      writeFileSync(partial, value, { mode: 0o600 });
      renameSync(partial, file);
      return true;
    } catch {
      return false;
    }
  }

  private keys(): string[] {
    return readdirSync(this.folder).filter((name) => !name.endsWith(".tmp"));
  }

  /** Forgets every key, as a uWSGI reload does (no worker may be running). */
  clear(): void {
    for (const name of readdirSync(this.folder)) rmSync(join(this.folder, name), { force: true });
  }

  /** Removes the folder; safe to call more than once. */
  remove(): void {
    rmSync(this.folder, { recursive: true, force: true });
  }
}
