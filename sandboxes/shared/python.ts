/** Python's formatting, byte for byte: dates, repr(), html.escape, the log scrubbing table. */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return String(n).padStart(4, "0");
}

/** email.utils.formatdate(seconds, usegmt=True): `Thu, 26 Nov 2026 09:57:09 GMT`. */
export function httpDate(epochSeconds: number): string {
  const d = new Date(Math.floor(epochSeconds) * 1000);
  return `${WEEKDAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${pad4(
    d.getUTCFullYear(),
  )} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
}

let dateSecond = -1;
let dateText = "";

/** The Date header for now; computed once per second. */
export function httpDateNow(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = httpDate(second);
  }
  return dateText;
}

let logSecond = -1;
let logText = "";

/** BaseHTTPRequestHandler.log_date_time_string(): local time, `26/Nov/2026 10:00:00`. */
export function logDateTimeNow(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== logSecond) {
    logSecond = second;
    const d = new Date(second * 1000);
    logText = `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${pad4(d.getFullYear())} ${pad2(
      d.getHours(),
    )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  return logText;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}

const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

function isPrintable(ch: string): boolean {
  return ch === " " || !NON_PRINTABLE.test(ch);
}

/** repr() of a Python str. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || isPrintable(ch)) out += ch;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters Python escapes
const LOG_SCRUB = /[\x00-\x1f\x7f-\x9f\\]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same set, to test without state
const NEEDS_SCRUB = /[\x00-\x1f\x7f-\x9f\\]/;

/** BaseHTTPRequestHandler._control_char_table: C0/C1 controls as \xNN, backslash doubled. */
export function scrubLogText(text: string): string {
  if (!NEEDS_SCRUB.test(text)) return text;
  return text.replace(LOG_SCRUB, (ch) => (ch === "\\" ? "\\\\" : `\\x${hex(ch.charCodeAt(0), 2)}`));
}

/** html.escape(text, quote=False). */
export function htmlEscape(text: string): string {
  if (!/[&<>]/.test(text)) return text;
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const PY_WHITESPACE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: str.isspace() includes these
  /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

const PY_WHITESPACE_END = new RegExp(`${PY_WHITESPACE.source}$`);

/** str.rstrip() with no argument. */
export function pyRstrip(text: string): string {
  const m = PY_WHITESPACE_END.exec(text);
  return m ? text.slice(0, m.index) : text;
}

const SIMPLE_WORDS = /^[!-~]+(?: [!-~]+)*$/;

/** str.split() with no argument: runs of Unicode whitespace, no empty strings. */
export function pySplit(text: string): string[] {
  if (SIMPLE_WORDS.test(text)) return text.split(" ");
  const words = text.split(PY_WHITESPACE);
  if (words.length > 0 && words[0] === "") words.shift();
  if (words.length > 0 && words[words.length - 1] === "") words.pop();
  return words;
}

/** int(text) for a str token: optional sign, ASCII digits with single underscores between. */
export function pyInt(text: string): number | undefined {
  const m = /^[\t\n\v\f\r ]*([+-]?)(\d+(?:_\d+)*)[\t\n\v\f\r ]*$/.exec(text);
  if (!m) return undefined;
  const value = Number((m[2] ?? "").replace(/_/g, ""));
  return m[1] === "-" ? -value : value;
}
