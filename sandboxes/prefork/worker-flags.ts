import type { FlagSpec } from "../shared/args.js";

/** The Gunicorn flags for the workers, which the proxy sandbox passes on to its app servers. */
export const WORKER_FLAGS: Record<string, FlagSpec> = {
  workers: { type: "string", short: "w" },
  timeout: { type: "string", short: "t" },
  "graceful-timeout": { type: "string" },
  preload: { type: "boolean" },
  "max-requests": { type: "string" },
  "access-log": { type: "boolean" },
};
