import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import type { LabSession } from "../../src/lab/session.js";
import type { LabSessionSnapshot } from "../../src/lab/types.js";

export { isAlive as alive } from "../cli/helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

/** Bundles a fixture under test/lab/fixtures to `outfile`, resolving paths as the app would. */
export async function bundleFixture(name: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [join(here, "fixtures", name)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    define: {
      "import.meta.url": JSON.stringify(pathToFileURL(join(root, "src", "paths.ts")).href),
      __VERSION__: '"0.0.0-test"',
    },
  });
}

/**
 * Resolves with the first snapshot (the current one included) that passes `test`; rejects after
 * `ms` with `describe` of the last snapshot, to show what was there instead.
 */
export function waitForSnapshot(
  session: LabSession,
  test: (s: LabSessionSnapshot) => boolean,
  ms: number,
  describe: (s: LabSessionSnapshot) => string,
): Promise<LabSessionSnapshot> {
  return new Promise((resolve, reject) => {
    const now = session.snapshot();
    if (test(now)) {
      resolve(now);
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out; ${describe(session.snapshot())}`));
    }, ms);
    const off = session.subscribe((s) => {
      if (!test(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}
