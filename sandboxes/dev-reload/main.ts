/**
 * `learn-webservers sandbox dev-reload`: the Flask/Werkzeug development server or Django's
 * runserver, imitated. The same file runs as the reloader parent and, with CHILD_ENV set by
 * the parent, as the app child.
 */

import { stderrOut } from "../shared/output.js";
import { CHILD_ENV, type ChildConfig, runChild } from "./child.js";
import { HELP, parseOptions } from "./options.js";
import { runParent } from "./parent.js";
import { formatTraceback, fromError } from "./traceback.js";

const childConfig = process.env[CHILD_ENV];

if (childConfig !== undefined) {
  delete process.env[CHILD_ENV];
  const config = JSON.parse(childConfig) as ChildConfig;
  // An exception nobody catches (a timer in the app, say) ends only that piece of work, as an
  // exception in a Python thread does; the server goes on.
  const report = (err: unknown) => {
    stderrOut.write(
      `Exception in thread Thread-1:\n${formatTraceback(fromError(err, config.directory))}`,
    );
  };
  process.on("uncaughtException", report);
  process.on("unhandledRejection", report);
  void runChild(config);
} else {
  const options = parseOptions(process.argv.slice(2));
  if (options === "help") {
    process.stdout.write(HELP);
  } else {
    process.on("uncaughtException", (err) => {
      stderrOut.write(
        `${"-".repeat(40)}\nUnexpected error in the sandbox (it keeps running):\n${err.stack ?? err.message}\n${"-".repeat(40)}\n`,
      );
    });
    void runParent(options);
  }
}
