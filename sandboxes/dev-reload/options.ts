/** The dev-reload sandbox's command line: flags, defaults, --help. */

import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { parseFlags, parseOnOff, parsePort, usageError } from "../shared/args.js";

export const PROG = "dev-reload";
export const FLAVOURS = ["flask", "django"] as const;
export type Flavour = (typeof FLAVOURS)[number];
export type ReloaderKind = "stat" | "events";

export interface DevReloadOptions {
  flavour: Flavour;
  port: number;
  hostText: string;
  /** The app's folder (the lab's workspace), absolute, real path. */
  directory: string;
  /** The app module, absolute, inside `directory`. */
  app: string;
  /** The app module relative to `directory`, with forward slashes (e.g. `app.mjs`). */
  appRel: string;
  reload: boolean;
  reloader: ReloaderKind;
  /** Seconds between two polls of the stat reloader (and of the fallback for events). */
  interval: number;
  threading: boolean;
}

export const DEFAULT_PORTS: Record<Flavour, number> = { flask: 5000, django: 8000 };

export const HELP = `usage: ${PROG} [-h] [--flavour flask|django] [--app FILE] [--reloader stat|events]
                  [--interval S] [--reload on|off | --no-reload]
                  [--threading on|off | --no-threading] [--port N] [-b ADDRESS]
                  [-d DIRECTORY]

The Flask/Werkzeug development server (flask --app app --debug run, Flask 2.2.2) or
Django's runserver (Django 3.2.25), imitated: a reloader parent process watches the
app's folder and restarts an app child process when a file changes. The app is a
small JavaScript module (ESM) in the app's folder; the debugger pages show its
tracebacks but never run code sent from a browser.

options:
  -h, --help            show this help message and exit
  --flavour flask|django
                        the server to imitate (default: flask)
  --app FILE            the app module, inside the app's folder (default: app.mjs);
                        it exports \`routes\`: an object mapping paths to handlers
  --reloader stat|events
                        stat: poll modification times every --interval seconds, like
                        Werkzeug's and Django's StatReloader (default); events: file
                        system events (fs.watch), like watchdog (Flask) or Watchman
                        (Django), polling where events do not work
  --interval S          seconds between two polls (default: 1, as the real ones)
  --reload on|off       off: no reloader, one app process (default: on)
  --no-reload, --noreload
                        the same as --reload off
  --threading on|off    on: requests are served concurrently (default); off: one
                        at a time, like --without-threads (Flask), --nothreading
                        (Django)
  --no-threading, --nothreading, --without-threads
                        the same as --threading off
  --port N              the port (default: 5000 for flask, 8000 for django; 0 takes
                        a free port)
  -b, --bind ADDRESS    the address to listen on (default: 127.0.0.1); --host is the
                        same
  -d, --directory DIRECTORY
                        the app's folder (default: current directory); an empty or
                        missing folder gets the demo app

environment:
  LEARN_WEBSERVERS_FS_EVENTS=off
                        make the events reloader fall back to polling, as it does
                        where file system events are unavailable (network drives)
`;

function parseInterval(text: string): number {
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(value) || value < 0.05 || value > 60) {
    usageError(PROG, `invalid interval '${text}': use a number of seconds from 0.05 to 60`);
  }
  return value;
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

export function parseOptions(argv: string[]): DevReloadOptions | "help" {
  const flags = parseFlags(
    PROG,
    argv,
    {
      help: { type: "boolean", short: "h" },
      flavour: { type: "string" },
      app: { type: "string" },
      reloader: { type: "string" },
      interval: { type: "string" },
      reload: { type: "string" },
      "no-reload": { type: "boolean" },
      noreload: { type: "boolean" },
      threading: { type: "string" },
      "no-threading": { type: "boolean" },
      nothreading: { type: "boolean" },
      "without-threads": { type: "boolean" },
      port: { type: "string" },
      bind: { type: "string", short: "b" },
      host: { type: "string" },
      directory: { type: "string", short: "d" },
    },
    0,
  );
  if (flags.values.help) return "help";
  const flavourText = flags.string("flavour") ?? "flask";
  const flavour = FLAVOURS.find((f) => f === flavourText);
  if (!flavour) {
    usageError(PROG, `unknown flavour '${flavourText}': use flask or django`);
  }
  const reloaderText = flags.string("reloader") ?? "stat";
  if (reloaderText !== "stat" && reloaderText !== "events") {
    usageError(PROG, `unknown reloader '${reloaderText}': use stat or events`);
  }
  const intervalText = flags.string("interval");
  const interval = intervalText === undefined ? 1 : parseInterval(intervalText);
  const reloadText = flags.string("reload");
  let reload = reloadText === undefined || parseOnOff(PROG, "--reload", reloadText);
  if (flags.values["no-reload"] || flags.values.noreload) {
    if (reloadText !== undefined && reload) {
      usageError(PROG, "--reload on and --no-reload contradict each other");
    }
    reload = false;
  }
  const threadingText = flags.string("threading");
  let threading = threadingText === undefined || parseOnOff(PROG, "--threading", threadingText);
  if (flags.values["no-threading"] || flags.values.nothreading || flags.values["without-threads"]) {
    if (threadingText !== undefined && threading) {
      usageError(PROG, "--threading on and --no-threading contradict each other");
    }
    threading = false;
  }
  const portText = flags.string("port");
  const port = portText === undefined ? DEFAULT_PORTS[flavour] : parsePort(PROG, portText);
  const hostText = flags.string("host") ?? flags.string("bind") ?? "127.0.0.1";
  if (hostText.trim() === "") usageError(PROG, "an empty address: use e.g. --host 127.0.0.1");

  const given = resolve(flags.string("directory") ?? process.cwd());
  if (existsSync(given) && !statSync(given).isDirectory()) {
    usageError(PROG, `'${given}' is not a folder: --directory names the app's folder`);
  }
  const appText = flags.string("app") ?? "app.mjs";
  if (appText === "" || isAbsolute(appText) || appText.includes("\0")) {
    usageError(PROG, `invalid app '${appText}': name a file inside the app's folder`);
  }
  if (!/\.(mjs|js)$/.test(appText)) {
    usageError(PROG, `invalid app '${appText}': the app is a JavaScript module (.mjs or .js)`);
  }
  const lexical = resolve(given, appText);
  if (!isInside(given, lexical)) {
    usageError(PROG, `invalid app '${appText}': it must be inside the app's folder`);
  }
  let directory = given;
  try {
    directory = realpathSync.native(given);
  } catch {}
  const app = resolve(directory, appText);
  return {
    flavour,
    port,
    hostText,
    directory,
    app,
    appRel: relative(directory, app).split(sep).join("/"),
    reload,
    reloader: reloaderText,
    interval,
    threading,
  };
}

/** True when `path` (after links) is inside `root`; false when it leads out or is missing. */
export function realInside(root: string, path: string): boolean {
  try {
    return isInside(realpathSync.native(root), realpathSync.native(path));
  } catch {
    return false;
  }
}
