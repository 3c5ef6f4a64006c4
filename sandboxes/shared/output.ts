import type { Writable } from "node:stream";

/**
 * Collects text and writes it in one call per event-loop turn, so a burst of requests costs a
 * few writes instead of one per log line. `flush()` writes at once (before exiting, for instance).
 */
export class BufferedWriter {
  #pending = "";
  #scheduled = false;
  #broken = false;

  constructor(private readonly stream: Writable) {
    stream.on("error", () => {
      this.#broken = true;
    });
  }

  write(text: string): void {
    if (this.#broken) return;
    this.#pending += text;
    if (this.#pending.length > 65536) {
      this.flush();
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending === "" || this.#broken) return;
    const text = this.#pending;
    this.#pending = "";
    try {
      this.stream.write(text);
    } catch {
      this.#broken = true;
    }
  }
}

export const stderrOut = new BufferedWriter(process.stderr);
export const stdoutOut = new BufferedWriter(process.stdout);

/** Writes everything still buffered, on both streams. */
export function flushOutput(): void {
  stderrOut.flush();
  stdoutOut.flush();
}
