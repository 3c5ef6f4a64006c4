import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { constants } from "node:os";
import { dirname } from "node:path";
import { sandboxEntry } from "../paths.js";
import { CliError, usageError } from "./errors.js";

export function availableSandboxes(): string[] {
  try {
    return readdirSync(dirname(sandboxEntry("static")))
      .filter((f) => f.endsWith(".js"))
      .map((f) => f.slice(0, -3))
      .sort();
  } catch {
    return [];
  }
}

function unknownSandbox(name: string | undefined, available: string[]): CliError {
  const what = name === undefined ? "which sandbox?" : `unknown sandbox '${name}';`;
  const list =
    available.length > 0
      ? available.join(", ")
      : "none (the installation is incomplete: reinstall learn-webservers)";
  return usageError(`${what} the available sandboxes are: ${list}`);
}

/**
 * Runs a sandbox in the foreground with the terminal to itself. The terminal sends Ctrl+C to
 * the whole process group, so the parent ignores SIGINT and lets the sandbox say goodbye.
 */
export async function sandboxCommand(
  name: string | undefined,
  args: string[],
  help: () => void,
): Promise<void> {
  if (name === "--help" || name === "-h") {
    help();
    return;
  }
  const available = availableSandboxes();
  if (name === undefined || !available.includes(name)) throw unknownSandbox(name, available);

  // The IPC channel is how the sandbox notices that this process died and exits with it; no
  // event is read here, so none is sent for each request.
  const child = spawn(process.execPath, [sandboxEntry(name), ...args], {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...process.env, LEARN_WEBSERVERS_EVENTS: "lifecycle" },
  });
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const onTerm = forward("SIGTERM");
  const onHup = forward("SIGHUP");
  process.on("SIGINT", ignore);
  process.on("SIGTERM", onTerm);
  if (process.platform !== "win32") process.on("SIGHUP", onHup);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once("error", (err) =>
        reject(new CliError(`cannot start the ${name} sandbox: ${err.message}`)),
      );
      child.once("exit", (exitCode, signal) => {
        resolve(exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1));
      });
    });
    process.exitCode = code;
  } finally {
    process.off("SIGINT", ignore);
    process.off("SIGTERM", onTerm);
    process.off("SIGHUP", onHup);
  }
}
