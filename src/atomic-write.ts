import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes `text` to `path` so that a reader (or a crash) sees the old file or the new one, never a
 * part: a temporary file beside it, flushed to disk, then renamed over it. Creates the folder.
 * `mode` applies to a new file (0o600 for files that hold secrets). Throws what the file system
 * threw, after removing the temporary file.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o666): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, "w", mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The temporary file may not exist, or its folder may be unwritable: nothing to undo.
    }
    throw error;
  }
}
