#!/usr/bin/env node
// Must run before any chunk that could load chalk is imported.
if (process.env.NO_COLOR) process.env.FORCE_COLOR = "0";

const first = process.argv[2];
if (first === "--version" || first === "-V") {
  process.stdout.write(`${__VERSION__}\n`);
} else {
  const { main } = await import("./commands/main.js");
  await main(process.argv.slice(2));
}
