/**
 * The pages the real servers send: Werkzeug's error pages and its debugger page, Django's
 * technical 404 and 500 pages (DEBUG = True), BaseHTTPRequestHandler's 400. The debugger pages
 * are simplified (no scripts, no external assets) but keep their recognisable parts; the
 * console never runs anything: it explains what the real one would do.
 */

import { httpDate } from "../shared/python.js";
import { type Frame, formatTraceback, lastLine, type Traceback } from "./traceback.js";

/** Python's html.escape(text, quote=True), as Jinja and Django escape. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&#34;")
    .replace(/'/g, "&#39;");
}

/** Werkzeug's HTTPException page, byte for byte. */
export function werkzeugErrorPage(status: number, name: string, description: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${name}</title>\n<h1>${name}</h1>\n<p>${description}</p>\n`;
}

export const FLASK_NOT_FOUND = werkzeugErrorPage(
  404,
  "Not Found",
  "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
);

export const FLASK_METHOD_NOT_ALLOWED = werkzeugErrorPage(
  405,
  "Method Not Allowed",
  "The method is not allowed for the requested URL.",
);

/** BaseHTTPRequestHandler.send_error(400, "Bad request syntax (...)"). */
export function badRequestPage(message: string): string {
  return `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 400</p>
        <p>Message: ${escapeHtml(message).replace(/&#34;/g, '"').replace(/&#39;/g, "'")}.</p>
        <p>Error code explanation: 400 - Bad request syntax or unsupported method.</p>
    </body>
</html>
`;
}

const SANDBOX_NOTE_CLASS = "learn-webservers-note";

const DEBUGGER_STYLE = `body { font-family: sans-serif; margin: 0; padding: 0 1em; background: #fff; color: #000; }
h1 { font-size: 1.6em; margin: .6em 0 .2em; }
.errormsg, blockquote { font-family: monospace; color: #8b0000; }
.frame { border: 1px solid #ccc; margin: .6em 0; padding: .3em .6em; }
.frame h4 { margin: .2em 0; font-weight: normal; }
pre.line { margin: 0; font-family: monospace; color: #555; }
pre.current { color: #000; background: #f3f3d2; }
textarea { width: 100%; height: 14em; }
.pin-prompt { border: 2px solid #c00; padding: .6em; margin: 1em 0; }
.${SANDBOX_NOTE_CLASS} { border-left: 4px solid #06c; background: #eef5ff; padding: .4em .8em; }
.footer { color: #777; margin: 1em 0; }`;

function werkzeugFrame(f: Frame): string {
  const lines: string[] = [];
  for (const l of f.before ?? []) lines.push(`<pre class="line before">${escapeHtml(l)}</pre>`);
  if (f.source !== undefined) lines.push(`<pre class="line current">${escapeHtml(f.source)}</pre>`);
  for (const l of f.after ?? []) lines.push(`<pre class="line after">${escapeHtml(l)}</pre>`);
  return `<li><div class="frame">
  <h4>File <cite class="filename">"${escapeHtml(f.file)}"</cite>,
      line <em class="line">${f.line}</em>,
      in <code class="function">${escapeHtml(f.name)}</code></h4>
  <div class="source">${lines.join("\n")}</div>
</div>
`;
}

/** What the sandbox says instead of what Werkzeug's console would do. */
export const CONSOLE_EXPLANATION = `The real Werkzeug debugger would now run this as Python code inside the server
process: each frame of the traceback has a console, and once the PIN printed in the
terminal is entered (cmd=pinauth), ?__debugger__=yes&cmd=<code>&frm=<frame>&s=<secret>
runs <code> with the server's rights and answers with its output.

That is remote code execution: anyone who can reach the server and knows or
guesses the PIN (it is derived from machine and user facts, and the real server
allows a few attempts) can read your files, your environment variables and
secrets, or start programs as you. This is why the debugger must never be on in
production, and why the development server listens on 127.0.0.1 by default.

This sandbox never runs code sent from a browser: nothing was executed.
`;

/** Werkzeug's debugger page (debug mode), simplified: no scripts, console locked. */
export function werkzeugDebuggerPage(tb: Traceback): string {
  const title = lastLine(tb);
  return `<!doctype html>
<html lang=en>
  <head>
    <title>${escapeHtml(title)}
 // Werkzeug Debugger</title>
    <style>${DEBUGGER_STYLE}</style>
  </head>
  <body style="background-color: #fff">
    <div class="debugger">
<h1>${escapeHtml(tb.type)}</h1>
<div class="detail">
  <p class="errormsg">${escapeHtml(title)}
</p>
</div>
<h2 class="traceback">Traceback <em>(most recent call last)</em></h2>
<div class="traceback">
  <h3></h3>
  <ul>${tb.frames.map(werkzeugFrame).join("\n")}</ul>
  <blockquote>${escapeHtml(title)}
</blockquote>
</div>

<div class="plain">
    <p>
      This is the Copy/Paste friendly version of the traceback.
    </p>
    <textarea cols="50" rows="10" name="code" readonly>${escapeHtml(formatTraceback(tb))}</textarea>
</div>
<div class="explanation">
  The debugger caught an exception in your WSGI application.  You can now
  look at the traceback which led to the error.  <span class="nojavascript">
  If you enable JavaScript you can also use additional features such as code
  execution (if the evalex feature is enabled), automatic pasting of the
  exceptions and much more.</span>
</div>
<div class="${SANDBOX_NOTE_CLASS}">
  <p><strong>learn-webservers:</strong> in the real debugger every frame above has a
  console: after the PIN, the Python you type runs inside the server process. That is
  remote code execution for anyone who can reach the server. This sandbox shows the
  page but never runs code sent from the browser.</p>
</div>
      <div class="footer">
        Brought to you by <strong class="arthur">DON'T PANIC</strong>, your
        friendly Werkzeug powered traceback interpreter.
      </div>
    </div>

    <div class="pin-prompt">
      <div class="inner">
        <h3>Console Locked</h3>
        <p>
          The console is locked and needs to be unlocked by entering the PIN.
          You can find the PIN printed out on the standard output of your
          shell that runs the server.
        <form>
          <p>PIN:
            <input type=text name=pin size=14>
            <input type=hidden name=__debugger__ value=yes>
            <input type=hidden name=cmd value=pinauth>
            <input type=submit name=btn value="Confirm Pin">
        </form>
      </div>
    </div>
  </body>
</html>

<!--

${formatTraceback(tb).replace(/--/g, "- -")}

-->
`;
}

/** The answer to `?__debugger__=yes&cmd=...` and to /console: an explanation, nothing run. */
export function consolePage(cmd: string | undefined): string {
  const what =
    cmd === undefined || cmd === ""
      ? "the interactive console (/console)"
      : `the debugger command ${JSON.stringify(cmd).slice(0, 200)}`;
  return `<!doctype html>
<html lang=en>
  <head>
    <title>Console Locked // Werkzeug Debugger</title>
    <style>${DEBUGGER_STYLE}</style>
  </head>
  <body>
    <h1>Console Locked</h1>
    <div class="${SANDBOX_NOTE_CLASS}">
      <p>This request asked for ${escapeHtml(what)}.</p>
      <pre>${escapeHtml(CONSOLE_EXPLANATION)}</pre>
    </div>
  </body>
</html>
`;
}

export interface DjangoRequestInfo {
  method: string;
  url: string;
  path: string;
  query: [string, string][];
  headers: [string, string][];
  remote: string;
  serverPort: number;
  cookies: string | undefined;
}

const DJANGO_STYLE = `html * { padding:0; margin:0; }
body * { padding:10px 20px; }
body * * { padding:0; }
body { font:small sans-serif; background:#eee; color:#000; }
body>div { border-bottom:1px solid #ddd; }
h1 { font-weight:normal; margin-bottom:.4em; }
h1 span { font-size:60%; color:#666; font-weight:normal; }
table { border:none; border-collapse: collapse; width:100%; }
td, th { vertical-align:top; padding:2px 3px; }
th { width:12em; text-align:right; color:#666; padding-right:.5em; }
#summary { background: #ffc; }
#explanation { background:#eee; }
pre.exception_value { font-family: sans-serif; color: #575757; font-size: 1.5em; margin: 10px 0 10px 0; }
ul.traceback { list-style-type:none; }
.context-line { background: #d6d6d6; }
.${SANDBOX_NOTE_CLASS} { background:#eef5ff; }`;

function metaRows(info: DjangoRequestInfo): [string, string][] {
  const rows: [string, string][] = [
    ["GATEWAY_INTERFACE", "CGI/1.1"],
    ["PATH_INFO", info.path],
    ["QUERY_STRING", info.query.map(([k, v]) => `${k}=${v}`).join("&")],
    ["REMOTE_ADDR", info.remote],
    ["REQUEST_METHOD", info.method],
    ["SERVER_PORT", String(info.serverPort)],
    ["SERVER_SOFTWARE", "WSGIServer/0.2"],
  ];
  for (const [k, v] of info.headers) {
    const key = k.toUpperCase().replace(/-/g, "_");
    rows.push([key === "CONTENT_TYPE" || key === "CONTENT_LENGTH" ? key : `HTTP_${key}`, v]);
  }
  return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function pyStr(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function djangoFrame(f: Frame): string {
  const pre = (f.before ?? []).map((l) => `<li><pre>${escapeHtml(l)}</pre></li>`).join("\n");
  const post = (f.after ?? []).map((l) => `<li><pre>${escapeHtml(l)}</pre></li>`).join("\n");
  const start = f.line - (f.before?.length ?? 0);
  return `<li class="frame ${f.framework ? "django" : "user"}">
  <code class="fname">${escapeHtml(f.file)}</code>, line ${f.line}, in ${escapeHtml(f.name)}
  <div class="context">
    ${pre ? `<ol start="${start}" class="pre-context">\n${pre}\n</ol>` : ""}
    <ol start="${f.line}" class="context-line"><li><pre>${escapeHtml(f.source ?? "")}</pre> <span>…</span></li></ol>
    ${post ? `<ol start="${f.line + 1}" class="post-context">\n${post}\n</ol>` : ""}
  </div>
</li>`;
}

/** Django's technical 500 page (DEBUG = True), simplified. */
export function djangoTechnical500(tb: Traceback, info: DjangoRequestInfo): string {
  const app = [...tb.frames].reverse().find((f) => !f.framework);
  const location = app
    ? `<span class="fname">${escapeHtml(app.file)}</span>, line ${app.line}, in ${escapeHtml(app.name)}`
    : "";
  const get = info.query.length
    ? `<table class="req"><thead><tr><th>Variable</th><th>Value</th></tr></thead><tbody>
${info.query.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="code"><pre>${escapeHtml(pyStr(v))}</pre></td></tr>`).join("\n")}
</tbody></table>`
    : "<p>No GET data</p>";
  const meta = metaRows(info)
    .map(
      ([k, v]) =>
        `<tr><td>${escapeHtml(k)}</td><td class="code"><pre>${escapeHtml(pyStr(v))}</pre></td></tr>`,
    )
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta http-equiv="content-type" content="text/html; charset=utf-8">
  <meta name="robots" content="NONE,NOARCHIVE">
  <title>${escapeHtml(tb.type)}
          at ${escapeHtml(info.path)}</title>
  <style>${DJANGO_STYLE}</style>
</head>
<body>
<div id="summary">
  <h1>${escapeHtml(tb.type)}
       at ${escapeHtml(info.path)}</h1>
  <pre class="exception_value">${escapeHtml(tb.message)}</pre>
  <table class="meta">
    <tr><th>Request Method:</th><td>${escapeHtml(info.method)}</td></tr>
    <tr><th>Request URL:</th><td>${escapeHtml(info.url)}</td></tr>
    <tr><th>Django Version:</th><td>3.2.25</td></tr>
    <tr><th>Exception Type:</th><td>${escapeHtml(tb.type)}</td></tr>
    <tr><th>Exception Value:</th><td><pre>${escapeHtml(tb.message)}</pre></td></tr>
    <tr><th>Exception Location:</th><td>${location}</td></tr>
    <tr><th>Server time:</th><td>${httpDate(Date.now() / 1000).replace(/ GMT$/, " +0000")}</td></tr>
  </table>
</div>

<div id="traceback">
  <h2>Traceback</h2>
  <div id="browserTraceback">
    <ul class="traceback">
${tb.frames.map(djangoFrame).join("\n")}
    </ul>
  </div>
  <div id="pastebinTraceback" class="pastebin">
    <textarea id="traceback_area" cols="140" rows="25">Environment:


Request Method: ${escapeHtml(info.method)}
Request URL: ${escapeHtml(info.url)}

Django Version: 3.2.25
Python Version: 3.11.2

${escapeHtml(formatTraceback(tb))}
Exception Type: ${escapeHtml(tb.type)} at ${escapeHtml(info.path)}
Exception Value: ${escapeHtml(tb.message)}
</textarea>
  </div>
</div>

<div id="requestinfo">
  <h2>Request information</h2>

  <h3 id="user-info">USER</h3>
  <p>AnonymousUser</p>

  <h3 id="get-info">GET</h3>
  ${get}

  <h3 id="post-info">POST</h3>
  <p>No POST data</p>
  <h3 id="files-info">FILES</h3>
  <p>No FILES data</p>

  <h3 id="cookie-info">COOKIES</h3>
  ${info.cookies ? `<p>${escapeHtml(info.cookies)}</p>` : "<p>No cookie data</p>"}

  <h3 id="meta-info">META</h3>
  <table class="req">
    <thead><tr><th>Variable</th><th>Value</th></tr></thead>
    <tbody>
${meta}
    </tbody>
  </table>

  <h3 id="settings-info">Settings</h3>
  <h4>Using settings module <code>mysite.settings</code></h4>
  <table class="req">
    <thead><tr><th>Setting</th><th>Value</th></tr></thead>
    <tbody>
<tr><td>ALLOWED_HOSTS</td><td class="code"><pre>[]</pre></td></tr>
<tr><td>DEBUG</td><td class="code"><pre>True</pre></td></tr>
<tr><td>ROOT_URLCONF</td><td class="code"><pre>'mysite.urls'</pre></td></tr>
<tr><td>SECRET_KEY</td><td class="code"><pre>'********************'</pre></td></tr>
    </tbody>
  </table>
</div>

<div class="${SANDBOX_NOTE_CLASS}">
  <p><strong>learn-webservers:</strong> the real page also lists every environment
  variable of the server process under META (API keys and passwords included) and all
  your settings; Django hides only those whose names look secret. This sandbox shows
  the request's own values only.</p>
</div>

  <div id="explanation">
    <p>
      You’re seeing this error because you have <code>DEBUG = True</code> in your
      Django settings file. Change that to <code>False</code>, and Django will
      display a standard page generated by the handler for this status code.
    </p>
  </div>

</body>
</html>
`;
}

/** Django's technical 404 page (DEBUG = True). */
export function djangoTechnical404(info: DjangoRequestInfo, patterns: string[]): string {
  const items = patterns
    .map((p) => `          <li>\n            ${escapeHtml(p)}\n          </li>`)
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta http-equiv="content-type" content="text/html; charset=utf-8">
  <title>Page not found at ${escapeHtml(info.path)}</title>
  <meta name="robots" content="NONE,NOARCHIVE">
  <style>${DJANGO_STYLE}</style>
</head>
<body>
  <div id="summary">
    <h1>Page not found <span>(404)</span></h1>
    <table class="meta">
      <tr>
        <th>Request Method:</th>
        <td>${escapeHtml(info.method)}</td>
      </tr>
      <tr>
        <th>Request URL:</th>
        <td>${escapeHtml(info.url)}</td>
      </tr>
    </table>
  </div>
  <div id="info">
      <p>
      Using the URLconf defined in <code>mysite.urls</code>,
      Django tried these URL patterns, in this order:
      </p>
      <ol>
${items}
      </ol>
      <p>
          The current path, <code>${escapeHtml(info.path.replace(/^\//, ""))}</code>,
        didn’t match any of these.
      </p>
  </div>

  <div id="explanation">
    <p>
      You’re seeing this error because you have <code>DEBUG = True</code> in
      your Django settings file. Change that to <code>False</code>, and Django
      will display a standard 404 page.
    </p>
  </div>
</body>
</html>
`;
}
