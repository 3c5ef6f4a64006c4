import { createInterface, type Interface } from "node:readline";
import { stripVTControlCharacters } from "node:util";

/** Thrown by `ask` once the input has ended; plain mode unwinds to the top and ends cleanly. */
export class EndOfInput extends Error {
  override name = "EndOfInput";
}

/** Text safe for any terminal or screen reader: no escape sequences or control characters. */
export function plainText(text: string): string {
  let out = "";
  for (const ch of stripVTControlCharacters(text.replace(/\r\n?/g, "\n"))) {
    const code = ch.codePointAt(0) ?? 0;
    if (
      ch === "\n" ||
      ch === "\t" ||
      (code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code < 0xa0))
    ) {
      out += ch;
    }
  }
  return out;
}

/**
 * Lines from the input, queued as they arrive, so a pipe that delivers many lines at once (or
 * ends right after them) is read in order; prompts never race each other.
 */
export class LineQueue {
  readonly #rl: Interface;
  readonly #lines: string[] = [];
  #waiter: ((line: string | undefined) => void) | undefined;
  #ended = false;

  constructor(input: NodeJS.ReadableStream) {
    this.#rl = createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    this.#rl.on("line", (line) => {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    this.#rl.on("close", () => {
      this.#ended = true;
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.(undefined);
    });
  }

  /** The next line, or undefined once the input has ended and every line was read. */
  next(): Promise<string | undefined> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  close(): void {
    this.#rl.close();
  }
}

/** Output and prompts for plain mode. */
export class PlainIO {
  readonly #lines: LineQueue;
  readonly #out: NodeJS.WritableStream;
  /** A terminal echoes what is typed; from a pipe, answers are echoed so the transcript reads well. */
  readonly #echo: boolean;
  /** The prompt written whose answer has not come yet. */
  #prompt: string | undefined;
  #promptOpen = false;
  readonly #answerListeners = new Set<() => void>();

  constructor(input: NodeJS.ReadableStream, output: NodeJS.WritableStream) {
    this.#lines = new LineQueue(input);
    this.#out = output;
    this.#echo = (input as { isTTY?: boolean }).isTTY !== true;
  }

  /** Prints lines of text (a trailing newline is added). */
  say(text = ""): void {
    if (this.#promptOpen) {
      this.#out.write("\n");
      this.#promptOpen = false;
    }
    this.#out.write(`${plainText(text)}\n`);
  }

  /** Prints lines that arrived on their own (server logs), then the open prompt again. */
  notify(lines: string[]): void {
    if (lines.length === 0) return;
    const reprompt = this.#promptOpen;
    this.say(lines.join("\n"));
    if (reprompt && this.#prompt !== undefined) {
      this.#out.write(`${this.#prompt} `);
      this.#promptOpen = true;
    }
  }

  /** Prints the prompt and waits for a line, trimmed; throws EndOfInput when input ends. */
  async ask(prompt: string): Promise<string> {
    if (this.#promptOpen) this.#out.write("\n");
    this.#prompt = plainText(prompt);
    this.#out.write(`${this.#prompt} `);
    this.#promptOpen = true;
    const line = await this.#lines.next();
    this.#promptOpen = false;
    this.#prompt = undefined;
    if (line === undefined) {
      this.#out.write("\n");
      throw new EndOfInput("end of input");
    }
    if (this.#echo) this.#out.write(`${plainText(line)}\n`);
    for (const listener of this.#answerListeners) listener();
    return line.trim();
  }

  /** Calls `listener` after every answer the learner types; returns the unsubscribe. */
  onAnswer(listener: () => void): () => void {
    this.#answerListeners.add(listener);
    return () => {
      this.#answerListeners.delete(listener);
    };
  }

  close(): void {
    this.#lines.close();
  }
}
