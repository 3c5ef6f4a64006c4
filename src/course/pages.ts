/** Text width a page is wrapped to: an 80-column terminal less borders and padding. */
export const PAGE_WIDTH = 76;
/** Lines a page may take once wrapped: what is left of 24 rows after the header and status bar. */
export const PAGE_MAX_LINES = 18;

export interface SplitPage {
  /** The page's text, without leading and trailing blank lines. */
  text: string;
  /** 1-based line in lesson.md of the page's first non-blank line; for an empty page, of a "---" beside it. */
  line: number;
}

export interface SplitLesson {
  /** null when the file does not start with a "---" line. */
  frontMatter: { text: string; line: number } | null;
  /** false when the front matter has no closing "---" line. */
  frontMatterClosed: boolean;
  pages: SplitPage[];
  /** 1-based line of a code fence that is never closed. */
  unclosedFence?: number;
  /** 1-based line where the body (the first page) starts. */
  bodyLine: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

function isSeparator(line: string): boolean {
  return line.trimEnd() === "---";
}

/** Tracks fenced code blocks line by line, so that "---" inside code is not a separator. */
class FenceTracker {
  private open: { char: string; length: number } | null = null;
  openedAt = 0;

  get inside(): boolean {
    return this.open !== null;
  }

  /** Feeds one line; returns true when the line is part of a code block (fences included). */
  feed(line: string, lineNo: number): boolean {
    const m = FENCE.exec(line);
    if (this.open) {
      const marker = m?.[1];
      if (
        marker?.[0] === this.open.char &&
        marker.length >= this.open.length &&
        line.trim() === marker
      ) {
        this.open = null;
      }
      return true;
    }
    const marker = m?.[1];
    if (marker) {
      // A backtick fence whose info string holds a backtick is inline code, not a fence (CommonMark).
      if (marker[0] === "`" && line.slice(line.indexOf(marker) + marker.length).includes("`")) {
        return false;
      }
      this.open = { char: marker[0] as string, length: marker.length };
      this.openedAt = lineNo;
      return true;
    }
    return false;
  }
}

export function splitLines(source: string): string[] {
  return source.replace(/^\uFEFF/, "").split(/\r?\n/);
}

function trimBlank(lines: string[]): { lines: string[]; skipped: number } {
  let start = 0;
  let end = lines.length;
  while (start < end && (lines[start] as string).trim() === "") start++;
  while (end > start && (lines[end - 1] as string).trim() === "") end--;
  return { lines: lines.slice(start, end), skipped: start };
}

/** Splits lesson.md into front matter and pages separated by "---" lines outside code fences. */
export function splitLesson(source: string): SplitLesson {
  const lines = splitLines(source);
  let bodyStart = 0;
  let frontMatter: SplitLesson["frontMatter"] = null;
  let frontMatterClosed = true;
  if (lines.length > 0 && isSeparator(lines[0] as string)) {
    const close = lines.findIndex((line, i) => i > 0 && isSeparator(line));
    if (close === -1) {
      frontMatterClosed = false;
      frontMatter = { text: lines.slice(1).join("\n"), line: 2 };
      bodyStart = lines.length;
    } else {
      frontMatter = { text: lines.slice(1, close).join("\n"), line: 2 };
      bodyStart = close + 1;
    }
  }

  const pages: SplitPage[] = [];
  const fence = new FenceTracker();
  let current: string[] = [];
  let currentStart = bodyStart;
  const flush = (emptyLine: number) => {
    const { lines: kept, skipped } = trimBlank(current);
    pages.push({
      text: kept.join("\n"),
      line: kept.length > 0 ? currentStart + skipped + 1 : emptyLine,
    });
  };
  for (let i = bodyStart; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!fence.feed(line, i + 1) && isSeparator(line)) {
      flush(i + 1);
      current = [];
      currentStart = i + 1;
      continue;
    }
    current.push(line);
  }
  const { lines: rest } = trimBlank(current);
  if (rest.length > 0 || pages.length > 0) flush(currentStart);

  return {
    frontMatter,
    frontMatterClosed,
    pages,
    bodyLine: bodyStart + 1,
    ...(fence.inside ? { unclosedFence: fence.openedAt } : {}),
  };
}

function textWidth(text: string): number {
  return Array.from(text).length;
}

/** How many terminal lines one prose line takes when word-wrapped at `width` columns. */
function wrappedCount(line: string, width: number): number {
  const indent = textWidth(line) - textWidth(line.trimStart());
  const words = line.trim().split(/\s+/);
  let lines = 1;
  let col = 0;
  for (const word of words) {
    const w = textWidth(word) + (lines === 1 && col === 0 ? indent : 0);
    if (col > 0 && col + 1 + w <= width) {
      col += 1 + w;
      continue;
    }
    if (col > 0) lines++;
    lines += Math.ceil(w / width) - 1;
    col = w % width || width;
  }
  return lines;
}

/** Terminal lines a page takes: prose wrapped at `width`, code block lines (fences included) as they are. */
export function countPageLines(text: string, width: number = PAGE_WIDTH): number {
  if (text === "") return 0;
  const fence = new FenceTracker();
  let total = 0;
  for (const line of text.split("\n")) {
    if (fence.feed(line, 0) || line.trim() === "") total += 1;
    else total += wrappedCount(line, width);
  }
  return total;
}
