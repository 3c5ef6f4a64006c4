/**
 * urllib.parse (unquote, quote, urlsplit, urlunsplit) and the UTF-8 error handlers
 * (surrogatepass, surrogateescape) as CPython 3.11 has them.
 */

export class PyValueError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

const replacingDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Length of a well-formed UTF-8 sequence at `i`, or 0. With `surrogates`, ED A0..BF xx counts. */
function sequenceLength(bytes: Uint8Array, i: number, surrogates: boolean): number {
  const b0 = bytes[i] ?? 0;
  if (b0 < 0x80) return 1;
  const cont = (k: number) => {
    const b = bytes[i + k];
    return b !== undefined && b >= 0x80 && b <= 0xbf;
  };
  const b1 = bytes[i + 1] ?? 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 === 0xe0 && b1 < 0xa0) return 0;
    if (b0 === 0xed && b1 >= 0xa0 && !surrogates) return 0;
    return 3;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 === 0xf0 && b1 < 0x90) return 0;
    if (b0 === 0xf4 && b1 > 0x8f) return 0;
    return 4;
  }
  return 0;
}

function decodeSequence(bytes: Uint8Array, i: number, length: number): string {
  const b0 = bytes[i] ?? 0;
  const c = (k: number) => (bytes[i + k] ?? 0) & 0x3f;
  if (length === 1) return String.fromCharCode(b0);
  if (length === 2) return String.fromCharCode(((b0 & 0x1f) << 6) | c(1));
  if (length === 3) return String.fromCharCode(((b0 & 0x0f) << 12) | (c(1) << 6) | c(2));
  return String.fromCodePoint(((b0 & 0x07) << 18) | (c(1) << 12) | (c(2) << 6) | c(3));
}

function isAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80) return false;
  return true;
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** bytes.decode("utf-8", errors) for "replace", "surrogatepass" (throws) and "surrogateescape". */
export function decodeUtf8(
  bytes: Uint8Array,
  errors: "replace" | "surrogatepass" | "surrogateescape",
): string {
  if (isAscii(bytes)) return latin1(bytes);
  if (errors === "replace") return replacingDecoder.decode(bytes);
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes, i, errors === "surrogatepass");
    if (length > 0) {
      out += decodeSequence(bytes, i, length);
      i += length;
    } else if (errors === "surrogateescape") {
      out += String.fromCharCode(0xdc00 + (bytes[i] ?? 0));
      i++;
    } else {
      throw new PyValueError("UnicodeDecodeError", `invalid utf-8 at ${i}`);
    }
  }
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const ANY_SURROGATE = /[\uD800-\uDFFF]/;

export function hasLoneSurrogate(text: string): boolean {
  return ANY_SURROGATE.test(text) && LONE_SURROGATE.test(text);
}

/**
 * str.encode("utf-8", errors): "surrogatepass" writes lone surrogates as 3 bytes,
 * "surrogateescape" turns U+DC80..U+DCFF back into single bytes and throws on other ones.
 */
export function encodeUtf8(text: string, errors: "surrogatepass" | "surrogateescape"): Buffer {
  if (!hasLoneSurrogate(text)) return Buffer.from(text, "utf8");
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.codePointAt(i) ?? 0;
    if (code > 0xffff) {
      out.push(...Buffer.from(String.fromCodePoint(code), "utf8"));
      i++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      if (errors === "surrogateescape") {
        if (code < 0xdc80 || code > 0xdcff) {
          throw new PyValueError(
            "UnicodeEncodeError",
            `'utf-8' codec can't encode character '\\u${code.toString(16)}' in position ${i}: surrogates not allowed`,
          );
        }
        out.push(code - 0xdc00);
      } else {
        out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
      }
    } else {
      out.push(...Buffer.from(String.fromCharCode(code), "utf8"));
    }
  }
  return Buffer.from(out);
}

const HEX = /^[0-9A-Fa-f]{2}/;

function unquoteAsciiRun(run: string): Uint8Array {
  const bits = run.split("%");
  const out: number[] = [];
  const push = (s: string) => {
    for (let k = 0; k < s.length; k++) out.push(s.charCodeAt(k));
  };
  push(bits[0] ?? "");
  for (let k = 1; k < bits.length; k++) {
    const item = bits[k] ?? "";
    if (HEX.test(item)) {
      out.push(Number.parseInt(item.slice(0, 2), 16));
      push(item.slice(2));
    } else {
      out.push(0x25);
      push(item);
    }
  }
  return Uint8Array.from(out);
}

/** urllib.parse.unquote(text, errors=...); "surrogatepass" throws a UnicodeDecodeError. */
export function unquote(text: string, errors: "replace" | "surrogatepass" = "replace"): string {
  if (!text.includes("%")) return text;
  let out = "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: urllib's _asciire splits on ASCII runs
  for (const part of text.split(/([\x00-\x7f]+)/)) {
    if (part === "") continue;
    out += part.charCodeAt(0) < 0x80 ? decodeUtf8(unquoteAsciiRun(part), errors) : part;
  }
  return out;
}

/**
 * The unquote translate_path and list_directory use: surrogatepass, and on a decode error
 * the plain (replacing) unquote.
 */
export function unquotePath(text: string): string {
  try {
    return unquote(text, "surrogatepass");
  } catch {
    return unquote(text, "replace");
  }
}

const ALWAYS_SAFE = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~") {
  ALWAYS_SAFE[ch.charCodeAt(0)] = 1;
}

/** urllib.parse.quote(text, safe, errors="surrogatepass"). */
export function quote(text: string, safe = "/"): string {
  if (text === "") return text;
  const bytes = encodeUtf8(text, "surrogatepass");
  let out = "";
  for (const b of bytes) {
    if ((b < 128 && ALWAYS_SAFE[b]) || (b < 128 && safe.includes(String.fromCharCode(b)))) {
      out += String.fromCharCode(b);
    } else {
      out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

export interface SplitResult {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
  fragment: string;
}

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: urllib strips C0 controls and space
const C0_OR_SPACE = /^[\x00-\x20]+/;

/** url.lstrip(_WHATWG_C0_CONTROL_OR_SPACE). */
export function lstripC0(text: string): string {
  return text.replace(C0_OR_SPACE, "");
}
const USES_NETLOC = new Set([
  "",
  "ftp",
  "http",
  "gopher",
  "nntp",
  "telnet",
  "imap",
  "wais",
  "file",
  "mms",
  "https",
  "shttp",
  "snews",
  "prospero",
  "rtsp",
  "rtspu",
  "rsync",
  "svn",
  "svn+ssh",
  "sftp",
  "nfs",
  "git",
  "git+ssh",
  "ws",
  "wss",
]);

function invalidIpv6(): never {
  throw new PyValueError("ValueError", "Invalid IPv6 URL");
}

/** urllib.parse.urlsplit (3.11.2 with Debian's security fixes); throws PyValueError. */
export function urlsplit(input: string): SplitResult {
  let url = input.replace(C0_OR_SPACE, "").replace(/[\t\r\n]/g, "");
  let scheme = "";
  let netloc = "";
  let query = "";
  let fragment = "";
  const colon = url.indexOf(":");
  if (colon > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  if (url.startsWith("//")) {
    let delim = url.length;
    for (const c of "/?#") {
      const at = url.indexOf(c, 2);
      if (at >= 0) delim = Math.min(delim, at);
    }
    netloc = url.slice(2, delim);
    url = url.slice(delim);
    const open = netloc.includes("[");
    const close = netloc.includes("]");
    if (open !== close) invalidIpv6();
    if (open && close) {
      const hostPort = netloc.slice(netloc.lastIndexOf("@") + 1);
      const bracket = hostPort.indexOf("[");
      if (bracket < 0) invalidIpv6();
      if (bracket > 0) invalidIpv6();
      const rest = hostPort.slice(bracket + 1);
      const end = rest.indexOf("]");
      const host = end >= 0 ? rest.slice(0, end) : rest;
      const port = end >= 0 ? rest.slice(end + 1) : "";
      if (port && !port.startsWith(":")) invalidIpv6();
      if (!/^v[a-fA-F0-9]+\..+$/s.test(host) && !/^[0-9A-Fa-f:.]+(%.+)?$/.test(host)) {
        throw new PyValueError(
          "ValueError",
          `'${host}' does not appear to be an IPv4 or IPv6 address`,
        );
      }
    }
  }
  const hash = url.indexOf("#");
  if (hash >= 0) {
    fragment = url.slice(hash + 1);
    url = url.slice(0, hash);
  }
  const q = url.indexOf("?");
  if (q >= 0) {
    query = url.slice(q + 1);
    url = url.slice(0, q);
  }
  return { scheme, netloc, path: url, query, fragment };
}

/** urllib.parse.urlunsplit. */
export function urlunsplit(parts: SplitResult): string {
  let url = parts.path;
  if (parts.netloc || (parts.scheme && USES_NETLOC.has(parts.scheme) && url.slice(0, 2) !== "//")) {
    if (url && url[0] !== "/") url = `/${url}`;
    url = `//${parts.netloc}${url}`;
  }
  if (parts.scheme) url = `${parts.scheme}:${url}`;
  if (parts.query) url = `${url}?${parts.query}`;
  if (parts.fragment) url = `${url}#${parts.fragment}`;
  return url;
}
