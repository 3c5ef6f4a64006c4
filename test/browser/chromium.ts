import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { type Browser, chromium } from "playwright-core";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** $CHROMIUM_PATH, else Debian's /usr/bin/chromium, else chromium or chromium-browser on the PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv) return executable(fromEnv) ? fromEnv : undefined;
  const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    candidates.push(join(dir, "chromium"), join(dir, "chromium-browser"));
  }
  return candidates.find(executable);
}

export const chromiumPath = findChromium();

/** True when the browser tests must be skipped; says why once, naming the package to install. */
export function noChromium(suite: string): boolean {
  if (chromiumPath) return false;
  console.warn(
    `${suite}: skipped, Chromium was not found. Install Debian's package chromium (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium binary.`,
  );
  return true;
}

/** Headless Chromium, driven by playwright-core; one per test file, closed in afterAll. */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error("Chromium was not found: install Debian's package chromium");
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}
