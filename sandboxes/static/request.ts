/**
 * The request side of BaseHTTPRequestHandler: reading the request line and headers with
 * CPython's limits, parse_request's outcomes, and the email parser's view of the headers.
 */

import { pyInt, pyRepr, pySplit } from "../shared/python.js";

/** http.client._MAXLINE: a longer request line is a 414, a longer header line a 431. */
export const MAX_LINE = 65536;
/** http.client._MAXHEADERS: more header lines (the blank one included) is a 431. */
export const MAX_HEADERS = 100;

export type ParseOutcome = { words: string[] } & (
  | { kind: "ok"; command: string; path: string; version: string }
  | { kind: "silent" }
  | { kind: "error"; code: number; message: string; version: string }
);

/** BaseHTTPRequestHandler.parse_request up to reading the headers, for protocol HTTP/1.0. */
export function parseRequestLine(requestline: string): ParseOutcome {
  const words = pySplit(requestline);
  if (words.length === 0) return { kind: "silent", words };
  let version = "HTTP/0.9";
  if (words.length >= 3) {
    const word = words[words.length - 1] ?? "";
    const numbers = versionNumbers(word);
    if (!numbers) {
      return {
        kind: "error",
        code: 400,
        message: `Bad request version (${pyRepr(word)})`,
        version,
        words,
      };
    }
    if (numbers[0] > 2 || (numbers[0] === 2 && numbers[1] >= 0)) {
      return {
        kind: "error",
        code: 505,
        message: `Invalid HTTP version (${word.slice(5)})`,
        version,
        words,
      };
    }
    version = word;
  }
  if (words.length < 2 || words.length > 3) {
    return {
      kind: "error",
      code: 400,
      message: `Bad request syntax (${pyRepr(requestline)})`,
      version,
      words,
    };
  }
  const command = words[0] ?? "";
  let path = words[1] ?? "";
  if (words.length === 2 && command !== "GET") {
    return {
      kind: "error",
      code: 400,
      message: `Bad HTTP/0.9 request type (${pyRepr(command)})`,
      version,
      words,
    };
  }
  // gh-87389: a leading '//' would make the redirect below an open redirect.
  if (path.startsWith("//")) path = `/${path.replace(/^\/+/, "")}`;
  return { kind: "ok", command, path, version, words };
}

/** (major, minor) when `word` is a version CPython accepts, else undefined. */
function versionNumbers(word: string): [number, number] | undefined {
  if (word === "HTTP/1.1") return [1, 1];
  if (word === "HTTP/1.0") return [1, 0];
  if (!word.startsWith("HTTP/")) return undefined;
  const parts = word.slice(5).split(".");
  if (parts.length !== 2) return undefined;
  const major = pyInt(parts[0] ?? "");
  const minor = pyInt(parts[1] ?? "");
  if (major === undefined || minor === undefined) return undefined;
  return [major, minor];
}

export interface HeaderField {
  name: string;
  value: string;
}

const HEADER_LINE = /^(From |[\x21-\x39\x3b-\x7e]*:|[\t ])/;

/**
 * What email.parser (policy compat32) makes of the header lines http.client read: fields in
 * order, continuation lines folded in, parsing stopped at the first line that is not a header.
 */
export function parseHeaderLines(raw: string[]): HeaderField[] {
  let lines = raw;
  for (const line of raw) {
    const cr = line.indexOf("\r");
    if (cr !== -1 && cr !== line.length - 2) {
      // A lone CR ends a line for the email parser too: split again the way it does.
      lines = raw.join("").match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
      break;
    }
  }
  const headerLines: string[] = [];
  for (const line of lines) {
    if (!HEADER_LINE.test(line)) break;
    headerLines.push(line);
  }
  const fields: HeaderField[] = [];
  let current: string[] | undefined;
  const close = () => {
    if (!current) return;
    const first = current[0] ?? "";
    const colon = first.indexOf(":");
    const value = first.slice(colon + 1).replace(/^[ \t]+/, "") + current.slice(1).join("");
    fields.push({ name: first.slice(0, colon), value: value.replace(/[\r\n]+$/, "") });
    current = undefined;
  };
  for (const line of headerLines) {
    if (line[0] === " " || line[0] === "\t") {
      current?.push(line);
      continue;
    }
    close();
    if (line.startsWith("From ")) continue;
    if (line.indexOf(":") <= 0) continue;
    current = [line];
  }
  close();
  return fields;
}

/** email.message.Message.get: the first field with this name, any case. */
export function headerValue(fields: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const field of fields) if (field.name.toLowerCase() === lower) return field.value;
  return undefined;
}

/** Lower-case names; repeated fields joined with ", ". */
export function headerRecord(fields: HeaderField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name, value } of fields) {
    const key = name.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${value}` : value;
  }
  return out;
}
