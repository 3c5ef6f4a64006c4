/**
 * The two reloaders: `stat` polls modification times every interval (Werkzeug's and Django's
 * StatReloader); `events` listens to file-system events (node:fs.watch, as watchdog or
 * Watchman) and falls back to polling where events do not work.
 */

import { type FSWatcher, readdirSync, statfsSync, statSync, watch } from "node:fs";
import { join, relative, sep } from "node:path";
import type { ReloaderKind } from "./options.js";

/** Files whose change restarts the app: the app's code and data modules. */
const WATCHED = /\.(mjs|js|cjs|json)$/;
const SKIPPED_DIRS = new Set(["node_modules", "__pycache__", "python"]);
const MAX_DEPTH = 4;
const MAX_FILES = 2000;
/** Editors save in several steps (truncate, write, rename): wait for them to settle. */
const SETTLE_MS = 15;

export interface Change {
  /** Absolute path. */
  file: string;
  /** Relative to the app's folder, with forward slashes. */
  rel: string;
  /** The file's modification time, ms since the epoch. */
  savedAt: number;
}

export interface Watcher {
  /** The reloader actually at work: "stat" after a fallback. */
  readonly kind: ReloaderKind;
  /** Why events are not used, when the events reloader fell back to polling. */
  readonly fallback?: string;
  close(): void;
}

type Snapshot = Map<string, number>;

function walk(dir: string, depth: number, files: Snapshot, dirs: string[]): void {
  if (files.size >= MAX_FILES) return;
  dirs.push(dir);
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth < MAX_DEPTH && !SKIPPED_DIRS.has(entry.name)) walk(path, depth + 1, files, dirs);
    } else if (entry.isFile() && WATCHED.test(entry.name)) {
      try {
        files.set(path, statSync(path).mtimeMs);
      } catch {}
      if (files.size >= MAX_FILES) return;
    }
  }
}

/** The watched files and their modification times, and the folders holding them. */
export function scan(root: string): { files: Snapshot; dirs: string[] } {
  const files: Snapshot = new Map();
  const dirs: string[] = [];
  walk(root, 0, files, dirs);
  return { files, dirs };
}

function firstChange(root: string, before: Snapshot, after: Snapshot): Change | undefined {
  for (const [file, mtime] of after) {
    const old = before.get(file);
    if (old === undefined || old !== mtime) {
      return { file, rel: relative(root, file).split(sep).join("/"), savedAt: mtime };
    }
  }
  return undefined;
}

/** Polls every `intervalMs`, like StatReloader: a tick stats every watched file. */
function statWatcher(root: string, intervalMs: number, onChange: (c: Change) => void): () => void {
  let snapshot = scan(root).files;
  const timer = setInterval(() => {
    const next = scan(root).files;
    const change = firstChange(root, snapshot, next);
    snapshot = next;
    if (change) onChange(change);
  }, intervalMs);
  return () => clearInterval(timer);
}

// statfs f_type of file systems where inotify misses changes made by other machines.
const NETWORK_FS: Record<number, string> = {
  26985: "NFS",
  20859: "SMB",
  4283649346: "CIFS",
  4266872130: "SMB2",
  1702057286: "FUSE",
  16914839: "9P",
  22092: "NCP",
  1196443219: "GPFS",
};

/** Why file-system events cannot be trusted here, or undefined when they can. */
export function eventsUnavailable(root: string): string | undefined {
  const forced = (process.env.LEARN_WEBSERVERS_FS_EVENTS ?? "").toLowerCase();
  if (["off", "0", "no", "false"].includes(forced)) return `LEARN_WEBSERVERS_FS_EVENTS=${forced}`;
  if (process.platform === "linux") {
    try {
      const type = Number(statfsSync(root).type) >>> 0;
      const name = NETWORK_FS[type];
      if (name) return `the folder is on a ${name} network file system`;
    } catch {}
  }
  return undefined;
}

/** fs.watch on every watched folder; a settled burst of events triggers one comparison. */
function eventsWatcher(
  root: string,
  onChange: (c: Change) => void,
  onFailure: (reason: string) => void,
): () => void {
  const first = scan(root);
  let snapshot = first.files;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = () => {
    timer = undefined;
    if (closed) return;
    const next = scan(root);
    const change = firstChange(root, snapshot, next.files);
    snapshot = next.files;
    for (const dir of next.dirs) if (!watchers.has(dir)) add(dir);
    if (change) onChange(change);
  };
  const add = (dir: string) => {
    const w = watch(dir, { persistent: true }, (_event, name) => {
      if (name !== null && !WATCHED.test(String(name)) && String(name).includes(".")) return;
      timer ??= setTimeout(check, SETTLE_MS);
    });
    w.on("error", (err: NodeJS.ErrnoException) => {
      w.close();
      watchers.delete(dir);
      if (dir === root && !closed) onFailure(err.code ?? err.message);
    });
    watchers.set(dir, w);
  };
  for (const dir of first.dirs) add(dir);
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}

export interface WatchOptions {
  root: string;
  kind: ReloaderKind;
  intervalMs: number;
  onChange(change: Change): void;
  /** Called once when the events reloader falls back to polling (with the reason). */
  onFallback(reason: string): void;
}

export function startWatcher(options: WatchOptions): Watcher {
  const { root, intervalMs, onChange } = options;
  if (options.kind === "stat") {
    const stop = statWatcher(root, intervalMs, onChange);
    return { kind: "stat", close: stop };
  }
  const state: { kind: ReloaderKind; fallback?: string; stop: () => void } = {
    kind: "events",
    stop: () => {},
  };
  const fallBack = (reason: string) => {
    state.stop();
    state.kind = "stat";
    state.fallback = reason;
    options.onFallback(reason);
    state.stop = statWatcher(root, intervalMs, onChange);
  };
  const unavailable = eventsUnavailable(root);
  if (unavailable) fallBack(unavailable);
  else {
    try {
      state.stop = eventsWatcher(root, onChange, fallBack);
    } catch (err) {
      fallBack((err as NodeJS.ErrnoException).code ?? String(err));
    }
  }
  return {
    get kind() {
      return state.kind;
    },
    get fallback() {
      return state.fallback;
    },
    close: () => state.stop(),
  };
}
