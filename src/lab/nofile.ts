import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";

/** What the async labs want open at once: 10,000 WebSockets and some room. */
export const WANTED_OPEN_FILES = 65_536;

/**
 * Raises the soft open-file limit toward the hard one (at most `WANTED_OPEN_FILES`), never
 * lowering it, then replaces itself with the command: the pid stays the command's.
 */
const RAISE_AND_EXEC = [
  `want=${WANTED_OPEN_FILES}`,
  "soft=$(ulimit -n); hard=$(ulimit -Hn)",
  '[ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard',
  '[ "$soft" = unlimited ] || [ "$soft" -ge "$want" ] || ulimit -n "$want" 2>/dev/null || ulimit -n 10240 2>/dev/null',
  'exec "$0" "$@"',
].join("\n");

/**
 * Starts a Node script as `fork` would (IPC included), but on POSIX with the open-file limit
 * raised first, so that one process may hold thousands of sockets. Windows has no such limit.
 */
export function forkWithOpenFiles(
  file: string,
  args: string[],
  options: Omit<SpawnOptions, "stdio"> & { stdio: SpawnOptions["stdio"] },
): ChildProcess {
  if (process.platform === "win32") {
    return spawn(process.execPath, [file, ...args], options);
  }
  return spawn("/bin/sh", ["-c", RAISE_AND_EXEC, process.execPath, file, ...args], options);
}
