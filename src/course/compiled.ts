import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { defaultLessonsDir, packageRoot } from "../paths.js";
import type { LoadedCourse } from "./schema.js";

export const COMPILED_COURSE = "course.json";

interface CompiledCourse {
  fingerprint: string;
  course: LoadedCourse;
}

function listFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "__pycache__") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(path, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

export function packFingerprint(dir: string): string {
  const hash = createHash("sha256");
  for (const file of listFiles(dir).sort()) {
    hash.update(relative(dir, file).split(sep).join("/"));
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

export function compileCourse(course: LoadedCourse): CompiledCourse {
  return {
    fingerprint: packFingerprint(course.dir),
    course: {
      ...course,
      dir: ".",
      lessons: course.lessons.map((lesson) => ({ ...lesson, dir: lesson.id })),
    },
  };
}

export function compiledCoursePath(): string {
  return join(packageRoot(), "dist", COMPILED_COURSE);
}

/** The built-in course as checked at build time, when the lesson files are still the same. */
export function loadCompiledCourse(dir: string): LoadedCourse | undefined {
  const lessonsDir = defaultLessonsDir();
  if (resolve(dir) !== lessonsDir) return undefined;
  const path = compiledCoursePath();
  if (!existsSync(path)) return undefined;
  try {
    const compiled = JSON.parse(readFileSync(path, "utf8")) as CompiledCourse;
    if (compiled.fingerprint !== packFingerprint(lessonsDir)) return undefined;
    return {
      ...compiled.course,
      dir: lessonsDir,
      lessons: compiled.course.lessons.map((lesson) => ({
        ...lesson,
        dir: join(lessonsDir, lesson.dir),
      })),
    };
  } catch {
    return undefined;
  }
}
