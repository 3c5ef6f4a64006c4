/**
 * The options a lab may pass to each sandbox (`options:` in lab.yaml and in a `restart`
 * action), as `--name value`. A sandbox that gains an option adds its name here.
 */
export const SANDBOX_OPTIONS = {
  static: ["threading"],
  "dev-reload": ["reloader", "interval", "reload", "threading", "app"],
  prefork: [
    "workers",
    "timeout",
    "graceful-timeout",
    "preload",
    "max-requests",
    "access-log",
    "processes",
    "harakiri",
    "master",
    "cache2",
    "app",
  ],
  async: ["max-message-size", "ping-interval", "ping-timeout", "poll-timeout", "access-log"],
  proxy: [
    "cache",
    "read-timeout",
    "connect-timeout",
    "max-fails",
    "fail-timeout",
    "client-max-body-size",
    "client-header-timeout",
    "client-body-timeout",
    "keepalive-timeout",
    "app-servers",
    "workers",
    "timeout",
    "graceful-timeout",
    "preload",
    "max-requests",
    "access-log",
    "app",
  ],
} as const satisfies Record<string, readonly string[]>;

export type SandboxName = keyof typeof SANDBOX_OPTIONS;

export const SANDBOX_NAMES = Object.keys(SANDBOX_OPTIONS) as [SandboxName, ...SandboxName[]];

/**
 * Flags only the app sets: where the sandbox listens, what it serves, which server it imitates.
 * A lab's options never name them.
 */
export const RESERVED_FLAGS: readonly string[] = [
  "port",
  "host",
  "bind",
  "b",
  "directory",
  "d",
  "flavour",
  "help",
  "h",
];

/** Sandboxes with a master that takes signals and worker processes (`signal`, `kill-worker`, `burst.workers`). */
export const WORKER_SANDBOXES: readonly SandboxName[] = ["prefork", "proxy"];

/** Sandboxes started with the open-file limit raised, to hold thousands of connections. */
export const MANY_SOCKET_SANDBOXES: readonly SandboxName[] = ["async"];

/** Sandboxes with one event loop that report connections, loop delay and WebSockets. */
export const LOOP_SANDBOXES: readonly SandboxName[] = ["async"];

/** Sandboxes in front of app servers that report each request's path through them. */
export const PROXY_SANDBOXES: readonly SandboxName[] = ["proxy"];

/** Sandboxes with a reloader that reports each reload. */
export const RELOAD_SANDBOXES: readonly SandboxName[] = ["dev-reload"];

export function sandboxOptions(sandbox: string): readonly string[] {
  return Object.hasOwn(SANDBOX_OPTIONS, sandbox) ? SANDBOX_OPTIONS[sandbox as SandboxName] : [];
}
