/**
 * What Flask 2.2.2 (Werkzeug 2.2.2) and Django 3.2.25 print and send, line for line: banners,
 * reload lines, request log lines, response headers, reason phrases, the debugger PIN.
 * Transcripts: ../shared/reference/real-servers/flask-*.txt and django-*.txt.
 */

import { createHash } from "node:crypto";
import { STATUS_CODES } from "node:http";
import { networkInterfaces } from "node:os";
import { httpDateNow, logDateTimeNow } from "../shared/python.js";
import type { Flavour, ReloaderKind } from "./options.js";
import type { Frame } from "./traceback.js";

export const WERKZEUG_SERVER = "Werkzeug/2.2.2 Python/3.11.2";
export const DJANGO_SERVER = "WSGIServer/0.2 CPython/3.11.2";

const MONTHS_LONG = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `--no-color`, NO_COLOR, FORCE_COLOR=0 and pipes get no colour, as click/termcolor decide. */
export function wantsColour(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR === "0") return false;
  return stream.isTTY === true;
}

const ANSI: Record<string, number> = {
  bold: 1,
  red: 31,
  green: 32,
  yellow: 33,
  magenta: 35,
  cyan: 36,
};

/** werkzeug.serving._ansi_style: each style is prepended, then a reset. */
export function ansiStyle(text: string, ...styles: string[]): string {
  let out = text;
  for (const style of styles) out = `\x1b[${ANSI[style]}m${out}`;
  return `${out}\x1b[0m`;
}

/** The reason phrase: Werkzeug upper-cases it (`404 NOT FOUND`), Django does not. */
export function reasonPhrase(flavour: Flavour, status: number): string {
  const reason = STATUS_CODES[status] ?? "UNKNOWN";
  return flavour === "flask" ? reason.toUpperCase() : reason;
}

/** A stable, random-looking PIN per app folder, like Werkzeug's (machine, user, app path). */
export function debuggerPin(directory: string, salt = ""): string {
  const digest = createHash("sha256").update(`pin|${directory}|${salt}`).digest();
  const n = digest.readUInt32BE(0) * 1000 + (digest.readUInt16BE(4) % 1000);
  const digits = String(n % 1_000_000_000).padStart(9, "0");
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`;
}

/** The module name Flask prints: `app.mjs` -> `app`, `pkg/app.mjs` -> `pkg.app`. */
export function moduleName(appRel: string): string {
  return appRel.replace(/\.(mjs|js)$/, "").replace(/\//g, ".");
}

/** `Restarting with stat` / `watchdog (inotify)`: the name Werkzeug gives its reloader. */
export function werkzeugReloaderName(kind: ReloaderKind): string {
  if (kind === "stat") return "stat";
  const observer =
    process.platform === "darwin"
      ? "fsevents"
      : process.platform === "win32"
        ? "windowsapi"
        : process.platform === "linux"
          ? "inotify"
          : "kqueue";
  return `watchdog (${observer})`;
}

/** Django's reloader class name: StatReloader, or WatchmanReloader for file events. */
export function djangoReloaderName(kind: ReloaderKind): string {
  return kind === "stat" ? "StatReloader" : "WatchmanReloader";
}

function interfaceAddress(family: "IPv4" | "IPv6"): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === family && !a.internal) return a.address;
  }
  return undefined;
}

/** The URL host as Werkzeug and Django write it. */
export function urlHostOf(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** Flask's first lines, on stdout: ` * Serving Flask app 'app'`, ` * Debug mode: on`. */
export function flaskStdoutBanner(appRel: string): string {
  return ` * Serving Flask app '${moduleName(appRel)}'\n * Debug mode: on\n`;
}

/** Werkzeug's log_startup on stderr: the WARNING, the `Running on` lines, `Press CTRL+C`. */
export function flaskStderrBanner(host: string, port: number, colour: boolean): string {
  const warning =
    "WARNING: This is a development server. Do not use it in a production deployment. Use a production WSGI server instead.";
  const lines = [colour ? ansiStyle(warning, "bold", "red") : warning];
  if (host === "0.0.0.0" || host === "::") {
    lines.push(` * Running on all addresses (${host})`);
    const local = host === "0.0.0.0" ? "127.0.0.1" : "[::1]";
    lines.push(` * Running on http://${local}:${port}`);
    const lan = interfaceAddress(host === "0.0.0.0" ? "IPv4" : "IPv6");
    if (lan) lines.push(` * Running on http://${urlHostOf(lan)}:${port}`);
  } else {
    lines.push(` * Running on http://${urlHostOf(host)}:${port}`);
  }
  lines.push(colour ? ansiStyle("Press CTRL+C to quit", "yellow") : "Press CTRL+C to quit");
  return `${lines.join("\n")}\n`;
}

export function flaskRestarting(kind: ReloaderKind): string {
  return ` * Restarting with ${werkzeugReloaderName(kind)}\n`;
}

export function flaskDebuggerLines(pin: string): string {
  return ` * Debugger is active!\n * Debugger PIN: ${pin}\n`;
}

/** ` * Detected change in '/path/app.py', reloading` (the path as Python's repr). */
export function flaskDetected(path: string): string {
  const quoted =
    path.includes("'") && !path.includes('"') ? `"${path}"` : `'${path.replace(/\\/g, "\\\\")}'`;
  return ` * Detected change in ${quoted}, reloading\n`;
}

export function djangoWatching(kind: ReloaderKind): string {
  return `Watching for file changes with ${djangoReloaderName(kind)}\n`;
}

/** `/path/views.py changed, reloading.` */
export function djangoDetected(path: string): string {
  return `${path} changed, reloading.\n`;
}

/** `November 26, 2026 - 10:11:28`: strftime('%B %d, %Y - %X'), local time. */
export function djangoDate(d = new Date()): string {
  return `${MONTHS_LONG[d.getMonth()]} ${pad2(d.getDate())}, ${d.getFullYear()} - ${pad2(
    d.getHours(),
  )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export const DJANGO_CHECKS = "Performing system checks...\n\n";

/** The rest of runserver's banner, after the system checks, on stdout. */
export function djangoBanner(host: string, port: number): string {
  return `System check identified no issues (0 silenced).

You have 18 unapplied migration(s). Your project may not work properly until you apply the migrations for app(s): admin, auth, contenttypes, sessions.
Run 'python manage.py migrate' to apply them.
${djangoDate()}
Django version 3.2.25, using settings 'mysite.settings'
Starting development server at http://${urlHostOf(host)}:${port}/
Quit the server with CONTROL-C.
`;
}

/** Werkzeug's log_request: `127.0.0.1 - - [date] "GET / HTTP/1.1" 200 -`, coloured on a TTY. */
export function flaskLogLine(
  remote: string,
  requestLine: string,
  status: number,
  colour: boolean,
): string {
  let msg = requestLine;
  if (colour) {
    const code = String(status);
    if (code.startsWith("1")) msg = ansiStyle(msg, "bold");
    else if (code === "200") {
    } else if (code === "304") msg = ansiStyle(msg, "cyan");
    else if (code.startsWith("3")) msg = ansiStyle(msg, "green");
    else if (code === "404") msg = ansiStyle(msg, "yellow");
    else if (code.startsWith("4")) msg = ansiStyle(msg, "bold", "red");
    else msg = ansiStyle(msg, "bold", "magenta");
  }
  return `${remote} - - [${logDateTimeNow()}] "${msg}" ${status} -\n`;
}

/** Django's WSGIRequestHandler.log_message: `[date] "GET / HTTP/1.1" 200 13`. */
export function djangoLogLine(requestLine: string, status: number, bytes: number | "-"): string {
  return `[${logDateTimeNow()}] "${requestLine}" ${status} ${bytes}\n`;
}

/** BaseHTTPRequestHandler's lines for a request it cannot parse. */
export function badRequestLines(flavour: Flavour, remote: string, line: string): string {
  const prefix = flavour === "flask" ? `${remote} - - ` : "";
  return `${prefix}[${logDateTimeNow()}] code 400, message Bad request syntax (${pyReprShort(
    line,
  )})\n${prefix}[${logDateTimeNow()}] "${line}" 400 -\n`;
}

function pyReprShort(text: string): string {
  return text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replace(/'/g, "\\'")}'`;
}

/** Response headers in the flavour's order; `extra` go where the framework puts them. */
export function responseHeaders(
  flavour: Flavour,
  contentType: string,
  length: number,
  extra: [string, string][] = [],
  frameOptions = true,
): [string, string][] {
  if (flavour === "flask") {
    return [
      ["Server", WERKZEUG_SERVER],
      ["Date", httpDateNow()],
      ["Content-Type", contentType],
      ...extra,
      ["Content-Length", String(length)],
      ["Connection", "close"],
    ];
  }
  return [
    ["Date", httpDateNow()],
    ["Server", DJANGO_SERVER],
    ["Content-Type", contentType],
    ...extra.filter(([k]) => k !== "Vary"),
    // CommonMiddleware's APPEND_SLASH redirect leaves before XFrameOptionsMiddleware adds it.
    ...(extra.some(([k]) => k === "Location") || !frameOptions
      ? []
      : [["X-Frame-Options", "DENY"] as [string, string]]),
    ["Content-Length", String(length)],
    ...extra.filter(([k]) => k === "Vary"),
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", "same-origin"],
    ["Connection", "close"],
  ];
}

const P = "/usr/lib/python3/dist-packages";

/** A framework frame; `carets` is the length of Python 3.11's `^^^` mark, under the line's end. */
function fw(file: string, line: number, name: string, source: string, carets?: string): Frame {
  const mark = carets ? " ".repeat(source.length - carets.length) + carets : undefined;
  return {
    file: `${P}/${file}`,
    line,
    name,
    source,
    framework: true,
    ...(mark ? { carets: mark } : {}),
  };
}

/** The framework frames above the view in the real tracebacks (Flask 2.2.2, Django 3.2.25). */
export function frameworkFrames(flavour: Flavour): Frame[] {
  if (flavour === "flask") {
    return [
      fw(
        "flask/app.py",
        2548,
        "__call__",
        "return self.wsgi_app(environ, start_response)",
        "^".repeat(38),
      ),
      fw("flask/app.py", 2528, "wsgi_app", "response = self.handle_exception(e)", "^".repeat(24)),
      fw(
        "flask/app.py",
        2525,
        "wsgi_app",
        "response = self.full_dispatch_request()",
        "^".repeat(28),
      ),
      fw(
        "flask/app.py",
        1822,
        "full_dispatch_request",
        "rv = self.handle_user_exception(e)",
        "^".repeat(29),
      ),
      fw(
        "flask/app.py",
        1820,
        "full_dispatch_request",
        "rv = self.dispatch_request()",
        "^".repeat(23),
      ),
      fw(
        "flask/app.py",
        1796,
        "dispatch_request",
        "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)",
        "^".repeat(65),
      ),
    ];
  }
  return [
    fw(
      "django/core/handlers/exception.py",
      47,
      "inner",
      "response = get_response(request)",
      "^".repeat(21),
    ),
    fw(
      "django/core/handlers/base.py",
      181,
      "_get_response",
      "response = wrapped_callback(request, *callback_args, **callback_kwargs)",
      "^".repeat(60),
    ),
  ];
}

/** The frames above the app's module when it fails to import (flask run's loader). */
export function importFrames(flavour: Flavour): Frame[] {
  if (flavour === "flask") {
    return [
      fw("flask/cli.py", 897, "run_command", "app = info.load_app()", "^".repeat(15)),
      fw("flask/cli.py", 308, "load_app", "app = locate_app(import_name, name)", "^".repeat(29)),
      fw("flask/cli.py", 218, "locate_app", "__import__(module_name)"),
    ];
  }
  return [
    {
      file: "/usr/lib/python3.11/threading.py",
      line: 1038,
      name: "_bootstrap_inner",
      source: "self.run()",
      framework: true,
    },
    fw(
      "django/urls/resolvers.py",
      595,
      "urlconf_module",
      "return import_module(self.urlconf_name)",
      "^".repeat(32),
    ),
  ];
}

/** DEBUG = True with ALLOWED_HOSTS = []: Django 3.2 allows ['.localhost', '127.0.0.1', '[::1]']. */
export function djangoHostAllowed(hostHeader: string | undefined): boolean {
  if (hostHeader === undefined || hostHeader === "") return true;
  const host = hostHeader.toLowerCase().replace(/:\d+$/, "");
  return (
    host === "localhost" || host.endsWith(".localhost") || host === "127.0.0.1" || host === "[::1]"
  );
}
