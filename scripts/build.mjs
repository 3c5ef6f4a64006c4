import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const dist = fileURLToPath(new URL("../dist", import.meta.url));
const outdir = `${dist}.build-${process.pid}/`;
rmSync(outdir, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  legalComments: "none",
  minify: true,
  logLevel: "warning",
  define: {
    "process.env.NODE_ENV": '"production"',
    __VERSION__: JSON.stringify(pkg.version),
  },
  banner: {
    js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
  },
  external: ["react-devtools-core"],
};

await Promise.all([
  build({
    ...common,
    entryPoints: { cli: "src/cli.ts" },
    outdir,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
  }),
  build({
    ...common,
    entryPoints: {
      "sandboxes/static": "sandboxes/static/main.ts",
      "sandboxes/dev-reload": "sandboxes/dev-reload/main.ts",
      "sandboxes/prefork": "sandboxes/prefork/main.ts",
      "sandboxes/async": "sandboxes/async/main.ts",
      "sandboxes/proxy": "sandboxes/proxy/main.ts",
      "sandboxes/ws-load": "sandboxes/async/load.ts",
    },
    outdir,
  }),
]);
chmodSync(`${outdir}cli.js`, 0o755);
const workspaces = [
  ["static", "demo-site"],
  ["prefork", "wsgi-app"],
  ["dev-reload", "flask-app"],
  ["dev-reload", "django-app"],
  ["proxy", "site"],
];
for (const [sandbox, name] of workspaces) {
  const template = fileURLToPath(new URL(`../sandboxes/${sandbox}/${name}`, import.meta.url));
  if (existsSync(template))
    cpSync(template, `${outdir}sandboxes/${sandbox}/${name}`, { recursive: true });
}

const compiler = `${outdir}compile-course.mjs`;
await build({
  ...common,
  minify: false,
  entryPoints: ["scripts/compile-course.ts"],
  outfile: compiler,
});
try {
  execFileSync(process.execPath, [compiler, `${outdir}course.json`], { stdio: "inherit" });
} catch {
  rmSync(outdir, { recursive: true, force: true });
  rmSync(compiler, { force: true });
  process.exit(1);
} finally {
  rmSync(compiler, { force: true });
}

const old = `${dist}.old-${process.pid}`;
if (existsSync(dist)) renameSync(dist, old);
renameSync(outdir, dist);
rmSync(old, { recursive: true, force: true });
