import { HELP, parseConfig } from "./config.js";
import { Master } from "./master.js";
import { WORKER_ENV, type WorkerSettings } from "./messages.js";
import { runWorker } from "./worker.js";

const workerSettings = process.env[WORKER_ENV];
if (workerSettings !== undefined) {
  delete process.env[WORKER_ENV];
  runWorker(JSON.parse(workerSettings) as WorkerSettings);
} else {
  const config = parseConfig(process.argv.slice(2));
  if (config === "help") process.stdout.write(HELP);
  else void new Master(config).start();
}
