import { spawnSync } from "node:child_process";

/** The learner's editor as a command and its arguments: $VISUAL, then $EDITOR, then the system's. */
export function editorCommand(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string[] {
  const chosen =
    env.VISUAL?.trim() || env.EDITOR?.trim() || (platform === "win32" ? "notepad" : "vi");
  return chosen.split(/\s+/);
}

export interface EditorOutcome {
  ok: boolean;
  message: string;
}

interface Terminal {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/**
 * Hands the terminal to the learner's editor on `file` and waits for it to close: raw mode off
 * while it runs, on again after, and the screen cleared so the lab is drawn again in full.
 */
export function openInEditor(
  file: string,
  { stdin, stdout }: Terminal = { stdin: process.stdin, stdout: process.stdout },
  env: NodeJS.ProcessEnv = process.env,
): EditorOutcome {
  const [command = "vi", ...args] = editorCommand(env);
  const raw = stdin.isTTY === true && stdin.isRaw === true;
  if (raw) stdin.setRawMode(false);
  try {
    const run = spawnSync(command, [...args, file], { stdio: "inherit", env });
    if (run.error) {
      const code = (run.error as NodeJS.ErrnoException).code ?? run.error.message;
      const from = env.VISUAL ? "$VISUAL" : env.EDITOR ? "$EDITOR" : undefined;
      const what =
        code === "ENOENT"
          ? `${command} was not found${from ? ` (it is your ${from})` : ""}`
          : `could not start ${command} (${code})`;
      return {
        ok: false,
        message: `Editor: ${what}. Set ${from ?? "$VISUAL or $EDITOR"} to an editor you have, or open ${file} yourself.`,
      };
    }
    if (run.status !== 0) {
      return {
        ok: false,
        message: `The editor "${command}" exited with ${run.signal ?? `code ${run.status}`}.`,
      };
    }
    return { ok: true, message: `Back from ${command}.` };
  } finally {
    if (raw) stdin.setRawMode(true);
    if (stdout.isTTY) stdout.write("\x1b[2J\x1b[H");
  }
}
