import { truncate } from "./text.js";

/** A piece of a table row with its own colour. */
export interface Cell {
  text: string;
  color?: string | undefined;
  bold?: boolean;
}

/** Keeps the cells within `width` columns, cutting the last one that overflows. */
export function fitCells<C extends Cell>(cells: C[], width: number): C[] {
  const out: C[] = [];
  let used = 0;
  for (const cell of cells) {
    if (used >= width) break;
    const text = cell.text.length > width - used ? truncate(cell.text, width - used) : cell.text;
    out.push({ ...cell, text });
    used += text.length;
  }
  // Trailing spaces would only pad the line.
  while (out.length > 0 && out.at(-1)?.text.trimEnd() === "") out.pop();
  const last = out.at(-1);
  if (last) last.text = last.text.trimEnd();
  return out;
}
