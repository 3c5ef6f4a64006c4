import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WORKER_FLAGS } from "../prefork/worker-flags.js";
import { MAX_UNIX_PATH, parseFlags, parseOnOff, parsePort, usageError } from "../shared/args.js";
import { parseUpstreamUrl, type Upstream } from "./upstream.js";

export const PROG = "proxy";
export const DEFAULT_PORT = 8080;

export interface ProxyConfig {
  hostText: string;
  port: number;
  /** The site folder (--directory): its static/ is served, and the app server reads it. */
  directory?: string;
  /** The folder served at /static/. */
  staticDir: string;
  /** --upstream: servers given by the user; empty means the proxy starts its own. */
  upstreams: Upstream[];
  /** Seconds a 200 answer stays in the micro-cache; 0 turns the cache off. */
  cacheSeconds: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  maxFails: number;
  failTimeoutMs: number;
  /** client_max_body_size in bytes; 0 means no limit. */
  maxBodyBytes: number;
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  keepaliveTimeoutMs: number;
  /** How many app servers to start when there is no --upstream. */
  appServers: number;
  /** Flags passed on to each app server (the prefork sandbox, Gunicorn flavour). */
  appArgs: string[];
  /** The options as the listening event reports them. */
  shown: Record<string, string | number | boolean>;
}

export const HELP = `usage: ${PROG} [-h] [--port N] [-b ADDRESS] [-d DIRECTORY]
             [--upstream URL ...] [--static DIR] [--cache SECONDS]
             [--read-timeout S] [--connect-timeout S] [--max-fails N]
             [--fail-timeout S] [--client-max-body-size SIZE]
             [--client-header-timeout S] [--client-body-timeout S]
             [--keepalive-timeout S] [--app-servers N] [-w N] [--timeout S]
             [--graceful-timeout S] [--preload] [--max-requests N]
             [--access-log] [--app demo|broken]

A front server in the manner of nginx 1.22 in front of Gunicorn. It serves
/static/ from a folder itself and passes everything else to the app servers
(round-robin), adding X-Forwarded-For, X-Forwarded-Proto, Host and
X-Request-ID. It reads each request whole before it opens a connection
upstream, and each answer whole before it sends it: a slow client holds the
proxy, never a sync worker. Without --upstream it starts the prefork sandbox
(Gunicorn flavour) behind itself and stops it with itself: the proxy passes
requests to it over a Unix socket in a private temporary folder, as nginx
passes them to Gunicorn on unix:/run/gunicorn.sock, and it also listens on a
free loopback port for reaching it directly (on Windows, that port only).

The access log (nginx's combined format) goes to stdout, the error log (level
notice) to stderr, as in nginx's Docker image; the app server's own lines go to
the same places.

options:
  -h, --help            show this help message and exit
  --port N              listen on this port (default: ${DEFAULT_PORT}; 0 takes a free
                        port)
  -b, --bind ADDRESS    listen on this address (default: 127.0.0.1); --host is
                        the same
  -d, --directory DIRECTORY
                        the site's folder: DIRECTORY/static/ is served at
                        /static/, and the app server reads its greeting.txt
  --flavour nginx       the server to imitate (only nginx)
  --upstream URL        an app server to pass requests to, e.g.
                        http://127.0.0.1:8000; give it more than once (or
                        comma-separated) for several
  --upstream unix:PATH  an app server on a Unix socket, as nginx's
                        server unix:/run/gunicorn.sock (also
                        http://unix:PATH:); a relative PATH is taken from the
                        current folder
  --static DIR          serve /static/ from DIR (default: DIRECTORY/static, or
                        the built-in demo site)
  --cache SECONDS       keep 200 answers to GET and HEAD for SECONDS per URI,
                        with X-Cache: HIT, MISS or EXPIRED (default: 0, off)
  --read-timeout S      proxy_read_timeout: 504 Gateway Time-out when an
                        upstream stays silent this long (default: 60)
  --connect-timeout S   proxy_connect_timeout (default: 60)
  --max-fails N         failures that take an upstream out (default: 1; 0 never)
  --fail-timeout S      how long it stays out (default: 10)
  --client-max-body-size SIZE
                        the largest request body, e.g. 1m, 512k, 0 for no
                        limit (default: 1m); a larger one gets 413
  --client-header-timeout S
                        a client must send its whole request head within S
                        (default: 60)
  --client-body-timeout S
                        ...and its body with at most S between reads
                        (default: 60)
  --keepalive-timeout S how long an idle client connection stays open
                        (default: 65)

the app servers it starts without --upstream (the prefork sandbox's options):
  --app-servers N       how many, each on its own socket and port (default: 1)
  -w, --workers N       worker processes of each (default: 1)
  -t, --timeout S       kill a worker silent for S seconds (default: 30)
  --graceful-timeout S  how long TERM and HUP wait for a request in flight
                        (default: 30)
  --preload             import the app in the master before forking
  --max-requests N      restart a worker after N requests (default: 0, off)
  --access-log          print Gunicorn's access log too
  --app demo|broken     the app to load (broken fails at import, so every
                        request gets 502 Bad Gateway)

Switches also take a value: --preload on|off (true|false, yes|no, 1|0).

Upstreams: nginx's round-robin with max_fails and fail_timeout. An upstream
that refuses the connection, resets it or times out counts a failure, and the
request goes to the next one (a POST only if the first one never got it).
After max-fails failures it is out for fail-timeout seconds, then one request
tries it again; a single upstream is never taken out. None answers: 502 Bad
Gateway; one stays silent past the read timeout: 504 Gateway Time-out (or the
next upstream, as with nginx's default proxy_next_upstream).

Signals (POSIX): INT and TERM stop at once, QUIT stops gracefully, HUP is
logged. Gunicorn's own signals go to its master's pid (shown in its log); the
lab's signal and kill-worker controls go to the first app server still running
(a worker's pid picks its own).
`;

const BOOLEAN_FLAGS = ["preload", "access-log", "help"];
const SWITCH_WORDS = new Set(["on", "off", "true", "false", "yes", "no", "1", "0"]);
const APP_FLAGS = [
  "workers",
  "timeout",
  "graceful-timeout",
  "preload",
  "max-requests",
  "access-log",
  "app",
];

/**
 * Takes every `--upstream URL` out of argv (the flag may repeat), and turns `--preload on|off`
 * into `--preload` or nothing.
 */
function split(argv: string[]): { rest: string[]; upstreams: string[] } {
  const rest: string[] = [];
  const upstreams: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--upstream") {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-"))
        usageError(
          PROG,
          "option '--upstream' needs a value, e.g. --upstream http://127.0.0.1:8000",
        );
      upstreams.push(value);
      i++;
      continue;
    }
    if (arg.startsWith("--upstream=")) {
      upstreams.push(arg.slice("--upstream=".length));
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : "";
    if (!BOOLEAN_FLAGS.includes(name)) {
      rest.push(arg);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (SWITCH_WORDS.has((argv[i + 1] ?? "").toLowerCase())) value = argv[++i];
    if (value === undefined || parseOnOff(PROG, `--${name}`, value)) rest.push(`--${name}`);
  }
  return { rest, upstreams };
}

function parseCount(flag: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < min || Number(trimmed) > max) {
    usageError(PROG, `option '${flag}' takes a whole number from ${min} to ${max}, not '${text}'`);
  }
  return Number(trimmed);
}

/** nginx's size syntax: `1m`, `512k`, `1024`; 0 means no limit. */
function parseSize(flag: string, text: string): number {
  const m = /^(\d{1,10})([kKmMgG]?)$/.exec(text.trim());
  if (!m) usageError(PROG, `option '${flag}' takes a size such as 1m, 512k or 0, not '${text}'`);
  const unit = (m[2] ?? "").toLowerCase();
  const factor = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  return Number(m[1]) * factor;
}

function checkSocketPath(text: string, path: string): void {
  if (process.platform === "win32") {
    usageError(
      PROG,
      `invalid upstream '${text}': this proxy has no Unix sockets on Windows; use http://HOST:PORT, e.g. --upstream http://127.0.0.1:8000`,
    );
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH) {
    usageError(
      PROG,
      `invalid upstream '${text}': the socket path ${path} is ${bytes} bytes long, and a Unix socket path holds at most ${MAX_UNIX_PATH}; put the socket in a shorter folder, e.g. /tmp or /run`,
    );
  }
}

/** The demo site built into the sandbox: dist/sandboxes/proxy/site/static. */
function builtInStatic(): string {
  return join(fileURLToPath(new URL("./proxy/site", import.meta.url)), "static");
}

/** The configuration from the command line; usage mistakes exit 2 in one line. */
export function parseConfig(argv: string[]): ProxyConfig | "help" {
  const { rest, upstreams: upstreamTexts } = split(argv);
  const flags = parseFlags(
    PROG,
    rest,
    {
      help: { type: "boolean", short: "h" },
      port: { type: "string" },
      bind: { type: "string", short: "b" },
      host: { type: "string" },
      directory: { type: "string", short: "d" },
      flavour: { type: "string" },
      static: { type: "string" },
      cache: { type: "string" },
      "read-timeout": { type: "string" },
      "connect-timeout": { type: "string" },
      "max-fails": { type: "string" },
      "fail-timeout": { type: "string" },
      "client-max-body-size": { type: "string" },
      "client-header-timeout": { type: "string" },
      "client-body-timeout": { type: "string" },
      "keepalive-timeout": { type: "string" },
      "app-servers": { type: "string" },
      ...WORKER_FLAGS,
      app: { type: "string" },
    },
    0,
  );
  if (flags.values.help) return "help";
  const flavour = flags.string("flavour") ?? "nginx";
  if (flavour !== "nginx")
    usageError(PROG, `unknown flavour '${flavour}': this sandbox imitates only nginx`);

  const upstreams: Upstream[] = [];
  for (const text of upstreamTexts.flatMap((t) => t.split(","))) {
    if (text.trim() === "") continue;
    const upstream = parseUpstreamUrl(text);
    if (!upstream) {
      usageError(
        PROG,
        `invalid upstream '${text}': use http://HOST:PORT or unix:PATH, e.g. --upstream http://127.0.0.1:8000`,
      );
    }
    if (upstream.path !== undefined) checkSocketPath(text, upstream.path);
    upstreams.push(upstream);
  }
  if (upstreams.length > 16) usageError(PROG, "at most 16 upstreams");
  if (upstreams.length > 0) {
    for (const name of [...APP_FLAGS, "app-servers"]) {
      if (flags.values[name] !== undefined) {
        usageError(
          PROG,
          `option '--${name}' is for the app server the proxy starts itself; leave out --upstream to use it`,
        );
      }
    }
  }

  const seconds = (flag: string, fallback: number, max = 86400) =>
    parseCount(`--${flag}`, flags.string(flag) ?? String(fallback), 0, max);
  const directoryText = flags.string("directory");
  const directory = directoryText === undefined ? undefined : resolve(directoryText);
  const staticText = flags.string("static");
  const staticDir =
    staticText !== undefined
      ? resolve(staticText)
      : directory !== undefined
        ? join(directory, "static")
        : builtInStatic();

  const appArgs: string[] = [];
  const shown: Record<string, string | number | boolean> = {};
  if (upstreams.length === 0) {
    const workers = parseCount("--workers", flags.string("workers") ?? "1", 1, 32);
    appArgs.push("--workers", String(workers));
    shown.workers = workers;
    for (const name of ["timeout", "graceful-timeout", "max-requests"]) {
      const value = flags.string(name);
      if (value === undefined) continue;
      const n = parseCount(`--${name}`, value, 0, name === "max-requests" ? 1000000 : 3600);
      appArgs.push(`--${name}`, String(n));
      shown[name] = n;
    }
    for (const name of ["preload", "access-log"]) {
      if (flags.values[name] === true) appArgs.push(`--${name}`);
      shown[name] = flags.values[name] === true;
    }
    const app = flags.string("app") ?? "demo";
    if (app !== "demo" && app !== "broken")
      usageError(PROG, `unknown app '${app}': choose demo or broken`);
    appArgs.push("--app", app);
    shown.app = app;
    if (directory !== undefined) appArgs.push("--directory", directory);
  }
  const appServers =
    upstreams.length === 0
      ? parseCount("--app-servers", flags.string("app-servers") ?? "1", 1, 4)
      : 0;

  const config: ProxyConfig = {
    hostText: flags.string("host") ?? flags.string("bind") ?? "127.0.0.1",
    port: parsePort(PROG, flags.string("port") ?? String(DEFAULT_PORT)),
    staticDir,
    upstreams,
    cacheSeconds: seconds("cache", 0),
    connectTimeoutMs: Math.max(1, seconds("connect-timeout", 60)) * 1000,
    readTimeoutMs: Math.max(1, seconds("read-timeout", 60)) * 1000,
    maxFails: parseCount("--max-fails", flags.string("max-fails") ?? "1", 0, 1000),
    failTimeoutMs: seconds("fail-timeout", 10) * 1000,
    maxBodyBytes: parseSize("--client-max-body-size", flags.string("client-max-body-size") ?? "1m"),
    clientHeaderTimeoutMs: Math.max(1, seconds("client-header-timeout", 60)) * 1000,
    clientBodyTimeoutMs: Math.max(1, seconds("client-body-timeout", 60)) * 1000,
    keepaliveTimeoutMs: seconds("keepalive-timeout", 65) * 1000,
    appServers,
    appArgs,
    shown,
  };
  if (directory !== undefined) config.directory = directory;
  Object.assign(config.shown, {
    static: staticDir,
    cache: config.cacheSeconds,
    "read-timeout": config.readTimeoutMs / 1000,
    "connect-timeout": config.connectTimeoutMs / 1000,
    "max-fails": config.maxFails,
    "fail-timeout": config.failTimeoutMs / 1000,
    "client-max-body-size": flags.string("client-max-body-size") ?? "1m",
    "client-header-timeout": config.clientHeaderTimeoutMs / 1000,
    "client-body-timeout": config.clientBodyTimeoutMs / 1000,
    "keepalive-timeout": config.keepaliveTimeoutMs / 1000,
    ...(appServers > 0 ? { "app-servers": appServers } : {}),
  });
  return config;
}
