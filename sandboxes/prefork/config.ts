import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type FlagSpec,
  MAX_UNIX_PATH,
  parseFlags,
  parseOnOff,
  parsePort,
  usageError,
} from "../shared/args.js";
import { WORKER_FLAGS } from "./worker-flags.js";

export const PROG = "prefork";
export const FLAVOURS = ["gunicorn", "uwsgi"] as const;
export type Flavour = (typeof FLAVOURS)[number];
export const APPS = ["demo", "broken"] as const;
export type AppName = (typeof APPS)[number];

/** The ms parameter of /slow and /cpu is capped here. */
export const MAX_MS = 60000;

/**
 * One listening socket: the TCP address (host and port) or a Unix socket, `path` as given
 * (relative to the current folder when it is relative) and `absolute` for reports.
 */
export type Bind = { kind: "tcp" } | { kind: "unix"; path: string; absolute: string };

export interface Config {
  flavour: Flavour;
  host: string;
  hostText: string;
  port: number;
  /** Every listening socket, in the order Gunicorn's "Listening at" names them. */
  binds: Bind[];
  directory?: string;
  /** Gunicorn --workers / uWSGI --processes. */
  workers: number;
  /** Gunicorn --timeout (s, 0 = off) / uWSGI --harakiri (s, 0 = off). */
  timeout: number;
  gracefulTimeout: number;
  preload: boolean;
  maxRequests: number;
  accessLog: boolean;
  /** uWSGI --master (without it nothing respawns). */
  master: boolean;
  /** uWSGI --cache2, e.g. "name=mycache,items=100". */
  cache2?: string;
  app: AppName;
}

export const HELP = `usage: ${PROG} [-h] [--flavour gunicorn|uwsgi] [-b ADDRESS] [--port N]
               [-d DIRECTORY] [-w N] [-t S] [--preload] [--max-requests N]
               [--access-log] [--processes N] [--harakiri S] [--master]
               [--cache2 SPEC] [--app demo|broken]

A pre-fork server: a master process and N worker processes sharing one
listening socket, imitating Gunicorn 20.1.0 (sync workers) or uWSGI 2.0.21
(master/processes). The kernel picks the worker that accepts each connection;
each worker handles one request at a time. The app is a WSGI-shaped demo
(app(environ, start_response)).

options:
  -h, --help            show this help message and exit
  --flavour gunicorn|uwsgi
                        the server to imitate (default: gunicorn)
  -b, --bind ADDRESS    bind to this address: HOST, or HOST:PORT as Gunicorn
                        takes it, :PORT meaning 127.0.0.1 here (default:
                        127.0.0.1); --host is the same.
                        gunicorn: -b unix:PATH listens on a Unix socket at PATH
                        (relative to the current folder); -b may be given more
                        than once (one TCP address at most), e.g.
                        -b unix:/tmp/g.sock -b 127.0.0.1. With only unix:
                        addresses there is no TCP port unless --port is given.
                        A socket file left at PATH is replaced; the file is
                        removed when the server stops
  --port N              bind to this port (default: 8000 for gunicorn, 9090 for
                        uwsgi; 0 takes a free port)
  -d, --directory DIRECTORY
                        the app's folder: greeting.txt there is the greeting
  -w, --workers N       gunicorn: worker processes (default: 1)
  -t, --timeout S       gunicorn: kill a worker silent for S seconds
                        (default: 30; 0 disables)
  --graceful-timeout S  gunicorn: how long TERM and HUP wait for a request in
                        flight before killing the worker (default: 30)
  --preload             gunicorn: import the app in the master before forking
  --max-requests N      gunicorn: restart a worker after N requests
                        (default: 0, off)
  --access-log          gunicorn: print the access log on stdout (like
                        --access-logfile -)
  --processes N         uwsgi: worker processes (default: 1)
  --harakiri S          uwsgi: kill a worker stuck on a request for S seconds
                        (default: 0, off)
  --master              uwsgi: run a master that respawns workers (without it a
                        dead worker stays dead)
  --cache2 SPEC         uwsgi: a cache shared by the workers, e.g.
                        name=mycache,items=100
  --app demo|broken     the app to load: broken fails at import (default: demo)

Switches also take a value: --preload on|off (true|false, yes|no, 1|0).

App routes: / (greeting and pid), /slow?ms=N (sleeps, blocking the worker),
/cpu?ms=N (burns CPU), /hang (never answers), /crash (the worker dies),
/environ (the environ the app received), /whoami (the client and scheme it
sees, as the production lesson's app.py), and with --cache2
/cache/set?key=value and /cache/get?k=key.

Signals to the master pid (POSIX): gunicorn TTIN (add a worker), TTOU (remove
the oldest), HUP (replace every worker), TERM (graceful stop), INT and QUIT
(quick stop), USR1 (logged). uwsgi HUP (graceful reload), TERM (brutal
reload), INT and QUIT (stop).
`;

const BOOLEAN_FLAGS = ["preload", "access-log", "master", "help"];
const SWITCH_WORDS = new Set(["on", "off", "true", "false", "yes", "no", "1", "0"]);

/** `--preload on` and `--preload off` (as a lab passes them) become `--preload` or nothing. */
function normaliseSwitches(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : "";
    if (!BOOLEAN_FLAGS.includes(name)) {
      out.push(arg);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (SWITCH_WORDS.has((argv[i + 1] ?? "").toLowerCase())) value = argv[++i];
    if (value === undefined || parseOnOff(PROG, `--${name}`, value)) out.push(`--${name}`);
  }
  return out;
}

const UNIX_PREFIX = /^unix:(\/\/)?/;

/** The Unix socket path of `-b unix:PATH` (as Gunicorn's parse_address reads it), checked. */
function unixBind(text: string, flavour: Flavour): Bind {
  if (flavour !== "gunicorn") {
    usageError(PROG, `'-b ${text}' is a Unix socket: that is for --flavour gunicorn here`);
  }
  if (process.platform === "win32") {
    usageError(PROG, `'-b ${text}': Unix sockets are not supported on Windows; bind a TCP port`);
  }
  const path = text.replace(UNIX_PREFIX, "");
  if (path === "") usageError(PROG, `'-b ${text}' needs a path, e.g. -b unix:/tmp/gunicorn.sock`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH) {
    usageError(
      PROG,
      `the Unix socket path '${path}' is ${bytes} bytes long and the OS takes at most ${MAX_UNIX_PATH}: choose a shorter one`,
    );
  }
  return { kind: "unix", path, absolute: resolve(path) };
}

/** Every -b/--bind value in the order given (parseFlags keeps only the last). */
function bindValues(argv: string[], spec: Record<string, FlagSpec>): string[] {
  const { tokens } = parseArgs({
    args: argv,
    options: spec,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  return tokens.flatMap((t) =>
    t.kind === "option" && t.name === "bind" && t.value !== undefined ? [t.value] : [],
  );
}

/**
 * The listening sockets: each -b in order; TCP where a -b names a host, or last when only
 * --host or --port asks for it, or alone when no -b is a Unix socket (as Gunicorn binds).
 */
function parseBinds(
  values: string[],
  flavour: Flavour,
  tcpAsked: boolean,
): { binds: Bind[]; tcpHost?: string } {
  const binds: Bind[] = [];
  const tcpHosts = values.filter((v) => !UNIX_PREFIX.test(v));
  if (tcpHosts.length > 1) {
    usageError(
      PROG,
      `one TCP address at a time here (-b ${tcpHosts.join(", -b ")}): give one -b HOST with --port N, and add -b unix:PATH for a Unix socket`,
    );
  }
  for (const value of values) {
    if (UNIX_PREFIX.test(value)) binds.push(unixBind(value, flavour));
    else binds.push({ kind: "tcp" });
  }
  if (tcpHosts.length === 0 && (tcpAsked || binds.length === 0)) binds.push({ kind: "tcp" });
  return { binds, tcpHost: tcpHosts[0] };
}

function parseCount(flag: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < min || Number(trimmed) > max) {
    usageError(PROG, `option '${flag}' takes a whole number from ${min} to ${max}, not '${text}'`);
  }
  return Number(trimmed);
}

/** The configuration from the command line; usage mistakes exit 2 in one line. */
export function parseConfig(argv: string[]): Config | "help" {
  const args = normaliseSwitches(argv);
  const spec: Record<string, FlagSpec> = {
    help: { type: "boolean", short: "h" },
    flavour: { type: "string" },
    port: { type: "string" },
    bind: { type: "string", short: "b" },
    host: { type: "string" },
    directory: { type: "string", short: "d" },
    ...WORKER_FLAGS,
    processes: { type: "string" },
    harakiri: { type: "string" },
    master: { type: "boolean" },
    cache2: { type: "string" },
    app: { type: "string" },
  };
  const flags = parseFlags(PROG, args, spec, 0);
  if (flags.values.help) return "help";
  const flavourText = flags.string("flavour") ?? "gunicorn";
  const flavour = FLAVOURS.find((f) => f === flavourText);
  if (!flavour) {
    usageError(PROG, `unknown flavour '${flavourText}': choose gunicorn or uwsgi`);
  }
  const only = (names: string[], owner: Flavour) => {
    if (flavour === owner) return;
    for (const name of names) {
      if (flags.values[name] !== undefined) {
        usageError(PROG, `option '--${name}' belongs to --flavour ${owner}`);
      }
    }
  };
  only(
    ["workers", "timeout", "graceful-timeout", "preload", "max-requests", "access-log"],
    "gunicorn",
  );
  only(["processes", "harakiri", "master", "cache2"], "uwsgi");
  const appText = flags.string("app") ?? "demo";
  const app = APPS.find((a) => a === appText);
  if (!app) usageError(PROG, `unknown app '${appText}': choose demo or broken`);
  const workersText = flavour === "gunicorn" ? flags.string("workers") : flags.string("processes");
  const workersFlag = flavour === "gunicorn" ? "--workers" : "--processes";
  const timeoutText = flavour === "gunicorn" ? flags.string("timeout") : flags.string("harakiri");
  const cache2 = flags.string("cache2");
  if (cache2 !== undefined && !/(^|,)name=[^,]+/.test(cache2)) {
    usageError(PROG, `option '--cache2' needs name=..., e.g. name=mycache,items=100`);
  }
  const directory = flags.string("directory");
  const portText = flags.string("port");
  const hostFlag = flags.string("host");
  const { binds, tcpHost: tcpBind } = parseBinds(
    bindValues(args, spec),
    flavour,
    portText !== undefined || hostFlag !== undefined,
  );
  // Gunicorn's HOST:PORT ([HOST]:PORT for IPv6); --port, when given too, must agree.
  const hostPort = tcpBind === undefined ? null : /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(tcpBind);
  const tcpHost = hostPort ? (hostPort[1] ?? "").replace(/^\[|\]$/g, "") || "127.0.0.1" : tcpBind;
  const bindPort = hostPort?.[2];
  if (bindPort !== undefined && portText !== undefined && Number(bindPort) !== Number(portText)) {
    usageError(PROG, `'-b ${tcpBind}' and '--port ${portText}' name two ports: give the port once`);
  }
  return {
    flavour,
    hostText: hostFlag ?? tcpHost ?? "127.0.0.1",
    host: "",
    port: parsePort(PROG, portText ?? bindPort ?? (flavour === "gunicorn" ? "8000" : "9090")),
    binds,
    directory: directory === undefined ? undefined : resolve(directory),
    workers: workersText === undefined ? 1 : parseCount(workersFlag, workersText, 1, 32),
    timeout:
      timeoutText === undefined
        ? flavour === "gunicorn"
          ? 30
          : 0
        : parseCount(flavour === "gunicorn" ? "--timeout" : "--harakiri", timeoutText, 0, 3600),
    gracefulTimeout: parseCount(
      "--graceful-timeout",
      flags.string("graceful-timeout") ?? "30",
      0,
      3600,
    ),
    preload: flags.values.preload === true,
    maxRequests: parseCount("--max-requests", flags.string("max-requests") ?? "0", 0, 1000000),
    accessLog: flags.values["access-log"] === true,
    master: flags.values.master === true,
    cache2,
    app,
  };
}
