/**
 * Control characters a terminal may act on: C0 other than tab and newline, DEL and C1.
 * Text from a lesson pack must not hold them; text from a server is shown with them escaped.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding these characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same set, to replace every one
const CONTROL_ALL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

const NAMES: Record<number, string> = {
  0: "NUL",
  7: "bell",
  8: "backspace",
  11: "vertical tab",
  12: "form feed",
  13: "carriage return",
  27: "escape",
  127: "delete",
  155: "CSI",
  157: "OSC",
};

function hex(code: number): string {
  return code.toString(16).padStart(2, "0");
}

/** The first control character in `text` (tab and newline are not), or undefined. */
export function findControl(text: string): { index: number; code: number } | undefined {
  const match = CONTROL.exec(text);
  if (!match) return undefined;
  return { index: match.index, code: match[0].charCodeAt(0) };
}

/** "U+001B (escape)": how a problem names a control character. */
export function describeControl(code: number): string {
  const name = NAMES[code];
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}${name ? ` (${name})` : ""}`;
}

/**
 * Text safe to write to a terminal: every control character but tab and newline becomes a
 * visible escape, `\x1b` for ESC. Used for whatever a server or a file may have sent.
 */
export function safeText(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROL_ALL, (ch) => `\\x${hex(ch.charCodeAt(0))}`);
}
