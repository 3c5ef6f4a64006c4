import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string };
      if (pkg.name === "learn-webservers") {
        cachedRoot = dir;
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("learn-webservers: cannot find the package root");
    dir = parent;
  }
}

export function defaultLessonsDir(): string {
  return join(packageRoot(), "lessons");
}

export function sandboxEntry(name: string): string {
  return join(packageRoot(), "dist", "sandboxes", `${name}.js`);
}

export function sandboxAssets(name: string): string {
  const bundled = join(packageRoot(), "dist", "sandboxes", name);
  return existsSync(bundled) ? bundled : join(packageRoot(), "sandboxes", name);
}
