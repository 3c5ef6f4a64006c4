export const PROGRAM = "learn-webservers";

/** An error the learner can act on: printed without a stack trace, then the process exits with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A mistake on the command line (unknown command, flag or lesson): exit code 2. */
export function usageError(message: string): CliError {
  return new CliError(message, 2);
}

/** The first line is prefixed with the program's name; following lines are printed as they are. */
export function formatError(err: unknown): { text: string; exitCode: number } {
  if (err instanceof CliError) {
    return { text: `${PROGRAM}: ${err.message}\n`, exitCode: err.exitCode };
  }
  const message = err instanceof Error ? err.message : String(err);
  const where =
    process.env.LEARN_WEBSERVERS_DEBUG && err instanceof Error && err.stack
      ? `${err.stack}\n`
      : `This is a bug in ${PROGRAM}. Run again with LEARN_WEBSERVERS_DEBUG=1 to see where it happened, and report it with that output.\n`;
  return { text: `${PROGRAM}: ${message}\n${where}`, exitCode: 1 };
}

/** Quotes a path for a command line the learner may copy, when it needs quoting. */
export function shellArg(value: string): string {
  if (/^[\w@%+=:,./\\~-]+$/.test(value)) return value;
  return value.includes('"') ? `'${value.replaceAll("'", `'\\''`)}'` : `"${value}"`;
}
