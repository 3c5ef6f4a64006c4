import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

function workspacePath(lessonId: string, workspacesDir: string): string {
  if (lessonId === "" || basename(lessonId) !== lessonId || lessonId.startsWith(".")) {
    throw new Error(`"${lessonId}" cannot name a workspace folder`);
  }
  return join(workspacesDir, lessonId);
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The folder `name` of a sandbox's assets that a lab copies for the learner. Throws when the
 * name, or a link on the way, leads outside `assetsDir`.
 */
export function workspaceTemplate(assetsDir: string, name: string): string {
  const root = resolve(assetsDir);
  const dir = resolve(root, name);
  let inside = isInside(root, dir);
  if (inside && existsSync(dir)) inside = isInside(realpathSync(root), realpathSync(dir));
  if (!inside) {
    throw new Error(
      `the lab's workspace "${name}" is not a folder of the sandbox's; the lesson pack is at fault (run learn-webservers validate on it)`,
    );
  }
  return dir;
}

function copyTemplate(templateDir: string | undefined, dest: string): void {
  if (
    templateDir !== undefined &&
    !statSync(templateDir, { throwIfNoEntry: false })?.isDirectory()
  ) {
    throw new Error(`The lab's workspace template ${templateDir} is missing`);
  }
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  if (templateDir === undefined) mkdirSync(tmp, { recursive: true });
  else {
    // Links are left out: the copy holds the template's own files, nothing they point to.
    cpSync(realpathSync(templateDir), tmp, {
      recursive: true,
      filter: (src) => !lstatSync(src).isSymbolicLink(),
    });
  }
  // Copy beside and rename, so an interrupted copy never looks like a finished workspace.
  renameSync(tmp, dest);
}

/**
 * The learner's workspace for a lesson, `<workspacesDir>/<lessonId>`. It is copied from
 * `templateDir` (or created empty when there is none) only if it does not exist yet, so the
 * learner's edits are never overwritten.
 */
export function prepareWorkspace(
  lessonId: string,
  templateDir: string | undefined,
  workspacesDir: string,
): string {
  const dest = workspacePath(lessonId, workspacesDir);
  if (existsSync(dest)) return dest;
  mkdirSync(workspacesDir, { recursive: true });
  copyTemplate(templateDir, dest);
  return dest;
}

/** Throws the learner's workspace away and copies the template again. */
export function resetWorkspace(
  lessonId: string,
  templateDir: string | undefined,
  workspacesDir: string,
): string {
  const dest = workspacePath(lessonId, workspacesDir);
  mkdirSync(workspacesDir, { recursive: true });
  const old = `${dest}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dest)) renameSync(dest, old);
  try {
    copyTemplate(templateDir, dest);
  } catch (err) {
    if (existsSync(old) && !existsSync(dest)) renameSync(old, dest);
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
  return dest;
}

/**
 * Writes the lesson's Python files into `<workspace>/python/`, so the learner can run them
 * against the lab; a file the learner already has (perhaps edited) is left alone.
 */
export function addPythonFiles(
  workspace: string,
  files: readonly { name: string; code: string }[],
): void {
  if (files.length === 0) return;
  const dir = join(workspace, "python");
  for (const file of files) {
    const target = resolve(dir, file.name);
    if (!isInside(dir, target) || existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.code, { flag: "wx" });
  }
}
