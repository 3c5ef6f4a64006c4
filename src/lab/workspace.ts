import { cpSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";

function workspacePath(lessonId: string, workspacesDir: string): string {
  if (lessonId === "" || basename(lessonId) !== lessonId || lessonId.startsWith(".")) {
    throw new Error(`"${lessonId}" cannot name a workspace folder`);
  }
  return join(workspacesDir, lessonId);
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
  else cpSync(templateDir, tmp, { recursive: true });
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
