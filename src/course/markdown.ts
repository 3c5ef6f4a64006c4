import { stripVTControlCharacters } from "node:util";
import type { Marked } from "marked";

export interface MarkdownOptions {
  /** Defaults to what the environment allows (NO_COLOR, FORCE_COLOR=0 turn it off). */
  color?: boolean;
}

/** False when NO_COLOR is set or FORCE_COLOR asks for no colour. */
export function colorFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  return !(force === "0" || force === "false");
}

const ESC = "\x1b";
const BEL = "\x07";

/** The escape sequence starting at `i` (which holds ESC): its length and, for SGR, its parameters. */
function readEscape(text: string, i: number): { length: number; sgr?: string } {
  const kind = text[i + 1];
  if (kind === "[") {
    let j = i + 2;
    while (j < text.length && /[0-9;?]/.test(text[j] ?? "")) j++;
    const final = text[j];
    if (final === undefined) return { length: j - i };
    return final === "m" ? { length: j + 1 - i, sgr: text.slice(i + 2, j) } : { length: j + 1 - i };
  }
  if (kind === "]") {
    for (let j = i + 2; j < text.length; j++) {
      if (text[j] === BEL) return { length: j + 1 - i };
      if (text[j] === ESC && text[j + 1] === "\\") return { length: j + 2 - i };
    }
    return { length: text.length - i };
  }
  return { length: Math.min(2, text.length - i) };
}
const isForeground = (code: string) => /^(3[0-8]|9[0-7])(;|$)/.test(code);
const isBackground = (code: string) => /^(4[0-8]|10[0-7])(;|$)/.test(code);
const CLOSES: Record<string, (code: string) => boolean> = {
  "22": (c) => c === "1" || c === "2",
  "23": (c) => c === "3",
  "24": (c) => c === "4",
  "27": (c) => c === "7",
  "28": (c) => c === "8",
  "29": (c) => c === "9",
  "39": isForeground,
  "49": isBackground,
};

function openCode(open: string[], code: string): string[] {
  const kept = open.filter(
    (c) =>
      c !== code &&
      !(isForeground(code) && isForeground(c)) &&
      !(isBackground(code) && isBackground(c)),
  );
  return [...kept, code];
}

/** Applies one SGR parameter list to the open codes, dropping the ones it closes or replaces. */
function applySgr(open: string[], params: string): string[] {
  const parts = params === "" ? ["0"] : params.split(";");
  let next = open;
  for (let i = 0; i < parts.length; i++) {
    const code = parts[i] ?? "0";
    const closes = CLOSES[code];
    if (code === "0" || code === "") {
      next = [];
    } else if (code === "38" || code === "48") {
      const take = parts[i + 1] === "2" ? 4 : 2;
      next = openCode(next, parts.slice(i, i + 1 + take).join(";"));
      i += take;
    } else if (closes) {
      next = next.filter((c) => !closes(c));
    } else {
      next = openCode(next, code);
    }
  }
  return next;
}

interface Cell {
  char: string;
  style: string;
}

function toCells(line: string, open: string[]): { cells: Cell[]; open: string[] } {
  const cells: Cell[] = [];
  let style = open.map((c) => `${ESC}[${c}m`).join("");
  let i = 0;
  while (i < line.length) {
    if (line[i] === ESC) {
      const sequence = readEscape(line, i);
      if (sequence.sgr !== undefined) {
        open = applySgr(open, sequence.sgr);
        style = open.map((c) => `${ESC}[${c}m`).join("");
      }
      i += sequence.length;
      continue;
    }
    const char = String.fromCodePoint(line.codePointAt(i) ?? 0);
    cells.push({ char, style });
    i += char.length;
  }
  return { cells, open };
}

function fromCells(cells: Cell[]): string {
  let out = "";
  let style = "";
  for (const cell of cells) {
    if (cell.style !== style) {
      out += (style === "" ? "" : RESET) + cell.style;
      style = cell.style;
    }
    out += cell.char;
  }
  return style === "" ? out : out + RESET;
}

const RESET = `${ESC}[0m`;
const HANGING = /^(\s*)((?:[*+•-]|\d+\.) +)?/;

/** Greedy word wrap; continuation rows keep the indent of a list item's text. */
function wrapCells(cells: Cell[], width: number): Cell[][] {
  if (cells.length <= width) return [cells];
  const plain = cells.map((c) => c.char).join("");
  let hanging = HANGING.exec(plain)?.[0].length ?? 0;
  if (hanging > width / 2) hanging = 0;
  const indent: Cell[] = Array.from({ length: hanging }, () => ({ char: " ", style: "" }));
  const rows: Cell[][] = [];
  let start = 0;
  while (cells.length - start > (rows.length === 0 ? width : width - hanging)) {
    const room = rows.length === 0 ? width : width - hanging;
    let cut = -1;
    for (let j = start + room; j > start; j--) {
      if (cells[j]?.char === " ") {
        cut = j;
        break;
      }
    }
    const lead = rows.length === 0 ? hanging : 0;
    let nextWord = 0;
    while (cells[cut + 1 + nextWord] && cells[cut + 1 + nextWord]?.char !== " ") nextWord++;
    const usable =
      cut > start + lead &&
      nextWord <= width - hanging &&
      cells.slice(start + lead, cut).some((c) => c.char !== " ");
    let end = usable ? cut : start + room;
    let row = cells.slice(start, end);
    while (row.length > 0 && row.at(-1)?.char === " ") row = row.slice(0, -1);
    rows.push(rows.length === 0 ? row : [...indent, ...row]);
    while (cells[end]?.char === " ") end++;
    start = end;
  }
  const rest = cells.slice(start);
  if (rest.length > 0) rows.push(rows.length === 0 ? rest : [...indent, ...rest]);
  return rows;
}

/**
 * Wraps terminal text to `width` columns. Each returned row is self-contained: colours open
 * at its start are re-opened and closed again at its end, so rows can be shown one by one.
 */
export function wrapAnsi(text: string, width: number): string[] {
  const columns = Math.max(1, Math.floor(width));
  const rows: string[] = [];
  let open: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes(ESC) && open.length === 0) {
      for (const row of wrapCells(toCells(line, []).cells, columns)) rows.push(fromCells(row));
      continue;
    }
    const parsed = toCells(line, open);
    open = parsed.open;
    for (const row of wrapCells(parsed.cells, columns)) rows.push(fromCells(row));
  }
  return rows;
}

const identity = (text: string) => text;
const plainStyles = {
  code: identity,
  blockquote: identity,
  html: identity,
  heading: identity,
  firstHeading: identity,
  hr: identity,
  listitem: identity,
  table: identity,
  paragraph: identity,
  strong: identity,
  em: identity,
  codespan: identity,
  del: identity,
  link: identity,
  href: identity,
};

const SGR = new RegExp(`${ESC}\\[([0-9;]*)m`, "g");

/**
 * A heading in bold, a page title (level 1) also in the theme's accent colour (cyan). A style
 * inside it (a code span, a link) ends by going back to the heading's, not to plain text.
 */
function headingStyle(colour?: number): (text: string) => string {
  const open = colour === undefined ? `${ESC}[1m` : `${ESC}[1;${colour}m`;
  return (text) => {
    const inner = text.replace(SGR, (sequence, params: string) => {
      const codes = params === "" ? ["0"] : params.split(";");
      const again: string[] = [];
      if (codes.includes("0") || codes.includes("22")) again.push("1");
      if (colour !== undefined && (codes.includes("0") || codes.includes("39")))
        again.push(String(colour));
      return again.length > 0 ? `${sequence}${ESC}[${again.join(";")}m` : sequence;
    });
    return `${open}${inner}${ESC}[22;39m`;
  };
}
const colourStyles = { firstHeading: headingStyle(36), heading: headingStyle() };

const instances = new Map<string, Promise<Marked>>();

async function createMarked(width: number, color: boolean): Promise<Marked> {
  const [{ Marked }, { markedTerminal }] = await Promise.all([
    import("marked"),
    import("marked-terminal"),
  ]);
  const marked = new Marked();
  marked.use(
    markedTerminal({
      ...(color ? colourStyles : plainStyles),
      width,
      reflowText: true,
      tab: 2,
      emoji: false,
      showSectionPrefix: false,
    }),
  );
  // A terminal hyperlink hides its address, which a learner may need to copy.
  marked.use({
    renderer: {
      // marked-terminal prints a tight list item's text raw, without its bold or code spans.
      text(token) {
        return "tokens" in token && token.tokens ? this.parser.parseInline(token.tokens) : false;
      },
      link(token) {
        const text = this.parser.parseInline(token.tokens);
        const href = color ? `\x1b[34;4m${token.href}\x1b[39;24m` : token.href;
        return stripVTControlCharacters(text) === token.href ? href : `${text} (${href})`;
      },
    },
  });
  return marked;
}

function markedFor(width: number, color: boolean): Promise<Marked> {
  const key = `${width}:${color}`;
  let instance = instances.get(key);
  if (!instance) {
    instance = createMarked(width, color);
    instances.set(key, instance);
  }
  return instance;
}

/** Markdown to terminal text: wrapped to `width`, code highlighted when colour is on. */
export async function renderMarkdown(
  md: string,
  width: number,
  options: MarkdownOptions = {},
): Promise<string> {
  const color = options.color ?? colorFromEnv();
  const columns = Math.max(10, Math.floor(width));
  const marked = await markedFor(columns, color);
  let out = marked.parse(md, { async: false });
  if (!color) out = stripVTControlCharacters(out);
  const rows = wrapAnsi(out.replace(/\t/g, "    "), columns).map((row) => row.trimEnd());
  while (rows.length > 0 && stripVTControlCharacters(rows.at(-1) ?? "").trim() === "") rows.pop();
  return rows.join("\n");
}
