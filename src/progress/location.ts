import { join, resolve } from "node:path";
import envPaths from "env-paths";

export interface ProgressLocationOptions {
  /** Overrides both $LEARN_WEBSERVERS_HOME and the platform's data directory. */
  home?: string;
}

export const PROGRESS_FILE = "progress.json";

/** The directory holding progress.json and workspaces/: `home`, $LEARN_WEBSERVERS_HOME, or the platform's data directory. */
export function progressHome(options: ProgressLocationOptions = {}): string {
  const fromEnv = process.env.LEARN_WEBSERVERS_HOME;
  const home =
    options.home ??
    (fromEnv !== undefined && fromEnv !== ""
      ? fromEnv
      : envPaths("learn-webservers", { suffix: "" }).data);
  return resolve(home);
}

/** Where progress.json is, for help text. */
export function progressFileForHelp(options: ProgressLocationOptions = {}): string {
  return join(progressHome(options), PROGRESS_FILE);
}
