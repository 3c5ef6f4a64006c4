import { stripVTControlCharacters } from "node:util";
import { type IPty, spawn } from "node-pty";
import { CLI, childPids, cliEnv, ROOT, tempDir, waitFor } from "../cli/helpers.js";

export const KEYS = {
  up: "\x1b[A",
  down: "\x1b[B",
  enter: "\r",
  escape: "\x1b",
  ctrlC: "\x03",
} as const;

/** The built CLI in a pseudo-terminal, with what it has drawn so far. */
export class Term {
  readonly pty: IPty;
  raw = "";
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  #mark = 0;

  constructor(
    args: string[],
    opts: {
      cols?: number;
      rows?: number;
      env?: Record<string, string>;
      home?: string;
      /** A shell command line run instead of the CLI; "$CLI" in it is the built CLI. */
      shell?: string;
    } = {},
  ) {
    const env = cliEnv(opts.home ?? tempDir(), {
      TERM: "xterm-256color",
      CLI: `${process.execPath} ${CLI}`,
      ...opts.env,
    });
    // A real terminal: colour unless the test asks otherwise (the test runner forces it off).
    if (opts.env?.FORCE_COLOR === undefined) delete env.FORCE_COLOR;
    const [file, argv] = opts.shell
      ? ["/bin/sh", ["-c", opts.shell]]
      : [process.execPath, [CLI, ...args]];
    this.pty = spawn(file, argv, {
      name: env.TERM ?? "xterm-256color",
      cols: opts.cols ?? 80,
      rows: opts.rows ?? 24,
      cwd: ROOT,
      env: env as Record<string, string>,
    });
    this.pty.onData((d) => {
      this.raw += d;
    });
    this.exited = new Promise((resolve) => {
      this.pty.onExit(resolve);
    });
  }

  get pid(): number {
    return this.pty.pid;
  }

  /** Everything drawn, escape sequences removed. */
  text(): string {
    return stripVTControlCharacters(this.raw);
  }

  /** What was drawn since the last `mark()`. */
  since(): string {
    return stripVTControlCharacters(this.raw.slice(this.#mark));
  }

  mark(): void {
    this.#mark = this.raw.length;
  }

  async waitText(pattern: string | RegExp, what?: string, timeoutMs = 10_000): Promise<string> {
    const test = (s: string) =>
      typeof pattern === "string" ? s.includes(pattern) : pattern.test(s);
    try {
      return await waitFor(
        () => {
          const s = this.since();
          return test(s) ? s : undefined;
        },
        what ?? String(pattern),
        timeoutMs,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; the screen since the mark:\n${this.since().slice(-3000)}`,
      );
    }
  }

  write(keys: string): void {
    this.pty.write(keys);
  }

  /**
   * Keys one at a time, a moment apart, as a person types them: Ink draws a screen before it
   * puts the terminal in raw mode, so a key sent the instant text appears could still be
   * turned into a signal by the terminal.
   */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) {
      await new Promise((r) => setTimeout(r, 80));
      this.pty.write(key);
    }
  }

  /** The first process the CLI started (the lab's sandbox). */
  async childPid(): Promise<number> {
    const [pid] = await waitFor(() => {
      const kids = childPids(this.pid);
      return kids.length > 0 && kids;
    }, "a child process of the CLI");
    return pid as number;
  }

  kill(): void {
    try {
      this.pty.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}
