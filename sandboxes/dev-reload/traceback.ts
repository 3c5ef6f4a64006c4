/**
 * A JavaScript error shown the way Python shows an exception: `Traceback (most recent call
 * last):`, one `File "...", line N, in name` per frame of the learner's code (with its source
 * line), the framework's own frames before them, and `Type: message` last.
 */

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Frame {
  file: string;
  line: number;
  /** 1-based column, when known. */
  column?: number;
  name: string;
  /** The source line, when the file can be read. */
  source?: string;
  /** Lines before and after, for the debugger pages. */
  before?: string[];
  after?: string[];
  /** A frame of the (imitated) framework, not of the app. */
  framework?: boolean;
  /** Python 3.11's `^^^^` line under the source, as the real traceback has it. */
  carets?: string;
}

export interface Traceback {
  type: string;
  message: string;
  frames: Frame[];
  /** For a syntax error: the caret line under the source (Python's `^`). */
  caret?: string;
}

function readLines(file: string): string[] | undefined {
  try {
    return readFileSync(file, "utf8").split(/\r?\n/);
  } catch {
    return undefined;
  }
}

function withSource(frame: Frame, context = 5): Frame {
  const lines = readLines(frame.file);
  if (!lines) return frame;
  const i = frame.line - 1;
  return {
    ...frame,
    source: lines[i],
    before: lines.slice(Math.max(0, i - context), Math.max(0, i)),
    after: lines.slice(i + 1, i + 1 + context),
  };
}

const FRAME = /^\s*at (?:(.+?) \()?(file:\/\/[^\s)]+?):(\d+):(\d+)\)?$/;

/** The frames of `err.stack` that are inside `root` (the app's folder), innermost last. */
export function appFrames(err: unknown, root: string): Frame[] {
  const stack = err instanceof Error && typeof err.stack === "string" ? err.stack : "";
  const frames: Frame[] = [];
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line);
    if (!m) continue;
    let file: string;
    try {
      file = fileURLToPath((m[2] ?? "").replace(/\?.*$/, ""));
    } catch {
      continue;
    }
    if (!file.startsWith(root)) continue;
    const rawName = (m[1] ?? "<module>").replace(/^async /, "");
    const name = rawName === "" ? "<module>" : rawName;
    frames.push(
      withSource({
        file,
        line: Number(m[3]),
        column: Number(m[4]),
        name: name.split(" [as ")[0] ?? name,
      }),
    );
  }
  return frames.reverse();
}

export function errorType(err: unknown): string {
  if (err instanceof Error) return err.name || "Error";
  return "Error";
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function fromError(err: unknown, root: string, framework: Frame[] = []): Traceback {
  return {
    type: errorType(err),
    message: errorMessage(err),
    frames: [...framework, ...appFrames(err, root)],
  };
}

/** The last line: `Type: message`, or `Type` when the message is empty. */
export function lastLine(tb: Traceback): string {
  return tb.message === "" ? tb.type : `${tb.type}: ${tb.message}`;
}

/** Python's traceback text, ending with a newline. */
export function formatTraceback(tb: Traceback): string {
  let out = "Traceback (most recent call last):\n";
  for (const f of tb.frames) {
    out +=
      f.name === ""
        ? `  File "${f.file}", line ${f.line}\n`
        : `  File "${f.file}", line ${f.line}, in ${f.name}\n`;
    if (f.source !== undefined) {
      const indent = /^\s*/.exec(f.source)?.[0].length ?? 0;
      out += `    ${f.source.trim()}\n`;
      if (f.carets !== undefined) out += `    ${f.carets}\n`;
      else if (tb.caret !== undefined && f === tb.frames.at(-1)) {
        const at = Math.max(0, tb.caret.indexOf("^") - indent);
        out += `    ${" ".repeat(at)}${tb.caret.trim() || "^"}\n`;
      }
    }
  }
  return `${out}${lastLine(tb)}\n`;
}

/**
 * Where a syntax error is: Node's import() does not say, `node --check` does. Runs it on each
 * file until one fails; resolves with the frame (file, line, source, caret) or undefined.
 */
export async function locateSyntaxError(
  files: string[],
): Promise<{ frame: Frame; caret: string; message: string } | undefined> {
  for (const file of files) {
    const out = await new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        ["--check", file],
        { timeout: 3000, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } },
        (err, _stdout, stderr) => resolve(err ? stderr : ""),
      );
    });
    if (out === "") continue;
    const lines = out.split("\n");
    const where = /^(.*):(\d+)$/.exec(lines[0] ?? "");
    const message = lines.find((l) => l.startsWith("SyntaxError:"));
    if (!where || !message) continue;
    const frame = withSource({ file: where[1] ?? file, line: Number(where[2]), name: "" });
    return { frame, caret: lines[2] ?? "^", message: message.slice("SyntaxError: ".length) };
  }
  return undefined;
}
