/**
 * `learn-webservers sandbox async`: one process, one event loop, thousands of connections,
 * WebSockets and long polling, as a Tornado 6.2 app or an ASGI app under Uvicorn 0.17.6.
 */

import { stderrOut } from "../shared/output.js";
import { HELP, parseOptions } from "./options.js";
import { runServer } from "./server.js";

const options = parseOptions(process.argv.slice(2));
if (options === "help") {
  process.stdout.write(HELP);
} else {
  process.on("uncaughtException", (err) => {
    stderrOut.write(
      `${"-".repeat(40)}\nUnexpected error in the sandbox (it keeps running):\n${err.stack ?? err.message}\n${"-".repeat(40)}\n`,
    );
  });
  if (options.directory !== undefined) process.chdir(options.directory);
  void runServer(options);
}
