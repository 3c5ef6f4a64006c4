/**
 * Wraps prose at spaces to `width` columns. The first line of each paragraph starts with
 * `indent`, the others with `hang` (default: `indent`); a word longer than a line stays whole.
 */
export function wrap(text: string, width: number, indent = "", hang = indent): string {
  const out: string[] = [];
  for (const paragraph of text.trim().split(/\n\s*\n/)) {
    let prefix = indent;
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      const room = Math.max(20, width - prefix.length);
      if (line !== "" && line.length + 1 + word.length > room) {
        out.push(prefix + line);
        prefix = hang;
        line = word;
      } else {
        line = line === "" ? word : `${line} ${word}`;
      }
    }
    if (line !== "") out.push(prefix + line);
    out.push("");
  }
  out.pop();
  return out.join("\n");
}
