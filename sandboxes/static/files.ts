/** The filesystem side of the sandbox, confined to the served directory. */

import {
  close,
  constants,
  type Dirent,
  lstat,
  lstatSync,
  open,
  read,
  realpath,
  realpathSync,
  type Stats,
  stat,
  statSync,
} from "node:fs";
import { opendir } from "node:fs/promises";
import { sep } from "node:path";

export type FsPath = string | Buffer;

/** A lookup slower than this, SLOW_LOOKUPS times, means the disk is not local (NFS, FUSE...). */
export const SLOW_LOOKUP_MS = 20;
const SLOW_LOOKUPS = 3;

// Never follow a symlink put in place after the check, never block on a FIFO.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

export type Target =
  | { kind: "file"; real: FsPath; stats: Stats }
  | { kind: "dir"; real: FsPath }
  | { kind: "other" };

export class Root {
  readonly #real: string;
  readonly #prefix: string;
  readonly #realBuf: Buffer;
  readonly #prefixBuf: Buffer;
  readonly #batch = new Map<string, Promise<Target | null>>();
  #slow = 0;

  readonly #base: string;
  readonly #basePrefix: string;

  /**
   * `real` is the served directory's real path; `base` the same directory as the paths handed
   * to `lookup` spell it (default `real`). `inline: false` starts on the thread pool, as after
   * slow lookups.
   */
  constructor(real: string, options: { base?: string; inline?: boolean } = {}) {
    if (options.inline === false) this.#slow = SLOW_LOOKUPS;
    this.#base = options.base ?? real;
    this.#basePrefix = this.#base.endsWith("/") ? this.#base : `${this.#base}/`;
    this.#real = real;
    this.#prefix = real.endsWith(sep) ? real : real + sep;
    this.#realBuf = Buffer.from(real);
    this.#prefixBuf = Buffer.from(this.#prefix);
  }

  contains(real: FsPath): boolean {
    if (typeof real === "string") return real === this.#real || real.startsWith(this.#prefix);
    return (
      real.equals(this.#realBuf) ||
      (real.length > this.#prefixBuf.length &&
        real.subarray(0, this.#prefixBuf.length).equals(this.#prefixBuf))
    );
  }

  /** The real path of `path` when it exists and lies inside the root, else null. */
  resolve(path: FsPath): Promise<FsPath | null> {
    return new Promise((done) => {
      const callback = (err: NodeJS.ErrnoException | null, real: FsPath) => {
        done(err || !this.contains(real) ? null : real);
      };
      if (typeof path === "string") realpath.native(path, callback);
      else realpath.native(path, { encoding: "buffer" }, callback);
    });
  }

  /**
   * What `path` is, once resolved inside the root; null when missing or outside.
   *
   * lstat, realpath and stat are answered from the kernel's caches in microseconds on a local
   * disk, where a trip through the thread pool costs far more than the calls, so they run inline;
   * lookups slower than SLOW_LOOKUP_MS (a network or FUSE mount) move them to the thread pool
   * for good. There, lookups asked for in the same turn of the event loop share one look at
   * the disk, taken after all of them arrived, so no answer is older than its request.
   */
  lookup(path: FsPath): Target | null | Promise<Target | null> {
    if (this.#slow < SLOW_LOOKUPS) {
      const started = performance.now();
      const target = this.#lookupSync(path);
      if (performance.now() - started > SLOW_LOOKUP_MS) this.#slow++;
      return target;
    }
    if (typeof path !== "string") return this.#lookupNow(path);
    let pending = this.#batch.get(path);
    if (!pending) {
      if (this.#batch.size === 0) setImmediate(() => this.#batch.clear());
      pending = new Promise<void>((go) => setImmediate(go)).then(() => this.#lookupNow(path));
      this.#batch.set(path, pending);
    }
    return pending;
  }

  /**
   * A path under `base` made only of plain names is inside the root when none of its parts is a
   * symlink: one lstat per part answers that, and the last one is the file's stat. Undefined
   * when a part is a symlink (or the path is not under `base`): resolve it then.
   */
  #walk(path: string): Target | null | undefined {
    let rest: string;
    if (path === this.#base) rest = "";
    else if (path.startsWith(this.#basePrefix)) rest = path.slice(this.#basePrefix.length);
    else return undefined;
    const names = rest.split("/").filter((name) => name !== "");
    let current = this.#real;
    let stats = names.length === 0 ? statSync(current, { throwIfNoEntry: false }) : undefined;
    for (let i = 0; i < names.length; i++) {
      current = current.endsWith(sep) ? current + names[i] : `${current}${sep}${names[i]}`;
      stats = lstatSync(current, { throwIfNoEntry: false });
      if (!stats) return null;
      if (stats.isSymbolicLink()) return undefined;
      if (i < names.length - 1 && !stats.isDirectory()) return null;
    }
    if (!stats) return null;
    if (stats.isDirectory()) return { kind: "dir", real: current };
    if (rest.endsWith("/")) return null;
    if (stats.isFile()) return { kind: "file", real: current, stats };
    return { kind: "other" };
  }

  #lookupSync(path: FsPath): Target | null {
    try {
      if (typeof path === "string") {
        const walked = this.#walk(path);
        if (walked !== undefined) return walked;
      }
      const real =
        typeof path === "string"
          ? realpathSync.native(path)
          : realpathSync.native(path, { encoding: "buffer" });
      if (!this.contains(real)) return null;
      const stats = statSync(real, { throwIfNoEntry: false });
      if (!stats) return null;
      if (stats.isFile()) return { kind: "file", real, stats };
      if (stats.isDirectory()) return { kind: "dir", real };
      return { kind: "other" };
    } catch {
      return null;
    }
  }

  async #lookupNow(path: FsPath): Promise<Target | null> {
    const real = await this.resolve(path);
    if (real === null) return null;
    const stats = await statPath(real);
    if (!stats) return null;
    if (stats.isFile()) return { kind: "file", real, stats };
    if (stats.isDirectory()) return { kind: "dir", real };
    return { kind: "other" };
  }
}

function statPath(path: FsPath): Promise<Stats | null> {
  return new Promise((done) => stat(path, (err, st) => done(err ? null : st)));
}

export function closeQuietly(fd: number): void {
  close(fd, () => {});
}

/** Opens a regular file found by `Root.lookup`; null if it changed into something else since. */
export function openFile(real: FsPath): Promise<number | null> {
  return new Promise((done) => open(real, OPEN_FLAGS, (err, fd) => done(err ? null : fd)));
}

/** One read at `position` into the start of `target`; 0 at the end of the file or on an error. */
export function readAt(
  fd: number,
  target: Buffer,
  position: number,
  length = target.length,
): Promise<number> {
  return new Promise((done) => {
    read(fd, target, 0, length, position, (err, n) => done(err ? 0 : n));
  });
}

interface Cached {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  body: Buffer;
}

/** Files up to this size are kept in memory while their stat (inode, size, mtime, ctime) holds. */
export const CACHEABLE = 64 * 1024;
const CACHE_BUDGET = 8 * 1024 * 1024;
const cache = new Map<string, Cached>();
let cached = 0;

function sameFile(entry: Cached, stats: Stats): boolean {
  return (
    entry.ino === stats.ino &&
    entry.dev === stats.dev &&
    entry.size === stats.size &&
    entry.mtimeMs === stats.mtimeMs &&
    entry.ctimeMs === stats.ctimeMs
  );
}

// A file changed this recently may change again within its timestamps' granularity (whole
// seconds on some filesystems) without a visible change in its stat: read it again next time.
const SETTLE_MS = 2_000;

function settled(stats: Stats, now: number): boolean {
  return now - stats.mtimeMs > SETTLE_MS && now - stats.ctimeMs > SETTLE_MS;
}

function remember(key: string, stats: Stats, body: Buffer): void {
  const old = cache.get(key);
  if (old) {
    cache.delete(key);
    cached -= old.body.length;
  }
  const { dev, ino, size, mtimeMs, ctimeMs } = stats;
  cache.set(key, { dev, ino, size, mtimeMs, ctimeMs, body });
  cached += body.length;
  for (const [oldest, entry] of cache) {
    if (cached <= CACHE_BUDGET) break;
    cache.delete(oldest);
    cached -= entry.body.length;
  }
}

/**
 * The whole content of a small file found by `Root.lookup`, from memory when the file is
 * unchanged; null when it cannot be opened any more.
 */
export function smallFileBody(
  real: FsPath,
  stats: Stats,
  now = Date.now(),
): Buffer | Promise<Buffer | null> {
  const hit = typeof real === "string" ? cache.get(real) : undefined;
  if (hit && sameFile(hit, stats)) return hit.body;
  return readSmallFile(real, stats, now);
}

async function readSmallFile(real: FsPath, stats: Stats, now: number): Promise<Buffer | null> {
  const key = typeof real === "string" ? real : undefined;
  const fd = await openFile(real);
  if (fd === null) return null;
  const body = Buffer.allocUnsafe(stats.size);
  let got = 0;
  while (got < stats.size) {
    const n = await readAt(fd, body.subarray(got), got);
    if (n === 0) break;
    got += n;
  }
  closeQuietly(fd);
  const out = got === stats.size ? body : body.subarray(0, got);
  if (key !== undefined && got === stats.size && settled(stats, now)) remember(key, stats, out);
  return out;
}

export interface ListedEntry {
  /** The name as bytes (decode with surrogateescape for Python's str). */
  raw: Buffer;
  isDir: boolean;
  isLink: boolean;
}

function lstatPath(path: Buffer): Promise<Stats | null> {
  return new Promise((done) => lstat(path, (err, st) => done(err ? null : st)));
}

async function describe(dir: Buffer, dirent: Dirent<Buffer>): Promise<ListedEntry> {
  const raw = dirent.name;
  const full = Buffer.concat([dir, raw]);
  let isLink = dirent.isSymbolicLink();
  let isDir = dirent.isDirectory();
  const known =
    isLink ||
    isDir ||
    dirent.isFile() ||
    dirent.isFIFO() ||
    dirent.isSocket() ||
    dirent.isCharacterDevice() ||
    dirent.isBlockDevice();
  if (!known) {
    const l = await lstatPath(full);
    isLink = l?.isSymbolicLink() ?? false;
    isDir = l?.isDirectory() ?? false;
  }
  if (isLink) isDir = (await statPath(full))?.isDirectory() ?? false;
  return { raw, isDir, isLink };
}

/** os.listdir order (the directory's own, unsorted), with isdir (follows links) and islink. */
export async function listDirectory(dir: FsPath): Promise<ListedEntry[]> {
  const base = typeof dir === "string" ? Buffer.from(dir) : dir;
  const withSlash = base[base.length - 1] === 0x2f ? base : Buffer.concat([base, Buffer.from("/")]);
  const handle = await opendir(dir as string, { encoding: "buffer" as BufferEncoding });
  const dirents: Dirent<Buffer>[] = [];
  for await (const dirent of handle) dirents.push(dirent as unknown as Dirent<Buffer>);
  return Promise.all(dirents.map((d) => describe(withSlash, d)));
}
