import { safeText } from "../course/control.js";
import { wrapAnsi } from "../course/markdown.js";

/** Word-wraps plain text (several paragraphs allowed) to rows of at most `width` characters. */
export function wrap(text: string, width: number): string[] {
  return wrapAnsi(text.replace(/\s+$/, ""), width);
}

/** Cuts text to `width` characters, ending with "…" when it had to cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  if (text.length <= width) return text;
  return width === 1 ? "…" : `${text.slice(0, width - 1)}…`;
}

/** Truncates or pads with spaces to exactly `width` characters. */
export function padTo(text: string, width: number): string {
  return truncate(text, width).padEnd(Math.max(0, width));
}

/**
 * Makes one line from a socket or a log safe to print: tabs become spaces, other control
 * characters visible escapes such as \x1b.
 */
export function printable(text: string): string {
  return safeText(text.replace(/\t/g, "    ")).replace(/\n/g, "\\x0a");
}

/** Splits a raw HTTP exchange or log text into printable lines. */
export function printableLines(text: string): string[] {
  const lines = text.split(/\r?\n/).map(printable);
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  return lines;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

export interface NumberedLine<T> {
  /** The line's index in the whole text, a stable React key while scrolling. */
  id: number;
  line: T;
}

/** Numbers lines before they are sliced to what fits, so each keeps its own key. */
export function numbered<T>(lines: readonly T[]): NumberedLine<T>[] {
  return lines.map((line, id) => ({ id, line }));
}

/** "1 page", "3 pages". */
export function plural(count: number, word: string, words = `${word}s`): string {
  return `${count} ${count === 1 ? word : words}`;
}
