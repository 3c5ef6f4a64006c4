#!/usr/bin/env node
if (process.argv.includes("--version")) {
  process.stdout.write(`${__VERSION__}\n`);
} else {
  const { run } = await import("./ui/proto.js");
  await run();
}
