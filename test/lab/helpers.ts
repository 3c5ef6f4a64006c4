import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

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
