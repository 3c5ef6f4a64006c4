import { readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import { writeFileAtomic } from "../atomic-write.js";
import type { Lesson } from "../course/schema.js";
import { PROGRESS_FILE, type ProgressLocationOptions, progressHome } from "./location.js";
import {
  type ExamRecord,
  type LessonProgress,
  type LessonState,
  type Position,
  PROGRESS_VERSION,
  type ProgressData,
} from "./types.js";

export { progressFileForHelp, progressHome } from "./location.js";

const quizRecordSchema = z.object({
  best: z.number().check(z.minimum(0), z.maximum(1)),
  last: z.number().check(z.minimum(0), z.maximum(1)),
  attempts: z.int().check(z.minimum(0)),
  passed: z.boolean(),
});

const lessonProgressSchema = z.object({
  pagesRead: z.array(z.int().check(z.minimum(0))),
  pageCount: z.int().check(z.minimum(0)),
  missionsMet: z.array(z.string()),
  labOpened: z.boolean(),
  quiz: z.optional(quizRecordSchema),
  timeMs: z.optional(z.number().check(z.minimum(0))),
  updatedAt: z.string(),
});

const examRecordSchema = z.extend(quizRecordSchema, {
  date: z.string(),
  passedAt: z.optional(z.string()),
});

const positionSchema = z.object({
  lessonId: z.string(),
  screen: z.enum(["map", "reader", "lab", "quiz"]),
  page: z.int().check(z.minimum(0)),
});

export const progressSchema = z.object({
  version: z.literal(PROGRESS_VERSION),
  lessons: z.record(z.string(), lessonProgressSchema),
  last: z.optional(positionSchema),
  exam: z.optional(examRecordSchema),
  examTimeMs: z.optional(z.number().check(z.minimum(0))),
});

/** Turns the parsed JSON of a version-n file into the version n+1 shape. */
export type Migration = (old: Record<string, unknown>) => Record<string, unknown>;

/** MIGRATIONS[n] upgrades version n to n+1; version 1 is the first released format. */
export const MIGRATIONS: Readonly<Record<number, Migration>> = {};

/** What changed, for a listener registered with `onChange` (e.g. a classroom join client). */
export type ProgressChange =
  | { kind: "page"; lessonId: string; page: number; pageCount: number }
  | { kind: "lab"; lessonId: string }
  | { kind: "mission"; lessonId: string; missionId: string }
  | { kind: "quiz"; lessonId: string; score: number; passed: boolean }
  | { kind: "exam"; score: number; passed: boolean }
  | { kind: "position"; position: Position }
  | { kind: "reset"; lessonId?: string };

export type ParsedProgress =
  | { kind: "ok"; data: ProgressData; migratedFrom?: number }
  | { kind: "newer"; version: number }
  | { kind: "unreadable"; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Reads the text of a progress file, migrating older versions through `migrations`. */
export function parseProgress(
  text: string,
  migrations: Readonly<Record<number, Migration>> = MIGRATIONS,
): ParsedProgress {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: "unreadable", reason: "it is not valid JSON" };
  }
  if (!isRecord(raw)) return { kind: "unreadable", reason: "it is not a progress file" };
  const version = raw.version;
  if (typeof version !== "number" || !Number.isInteger(version)) {
    return { kind: "unreadable", reason: "it has no version number" };
  }
  if (version > PROGRESS_VERSION) return { kind: "newer", version };

  let current: Record<string, unknown> = raw;
  for (let v = version; v < PROGRESS_VERSION; v++) {
    const migrate = migrations[v];
    if (!migrate) return { kind: "unreadable", reason: `version ${version} is not known` };
    try {
      current = { ...migrate(current), version: v + 1 };
    } catch {
      return { kind: "unreadable", reason: `it could not be upgraded from version ${v}` };
    }
  }
  const result = progressSchema.safeParse(current);
  if (!result.success) return { kind: "unreadable", reason: "it is not in the expected format" };
  const data: ProgressData = result.data;
  return version < PROGRESS_VERSION
    ? { kind: "ok", data, migratedFrom: version }
    : { kind: "ok", data };
}

function emptyProgress(): ProgressData {
  return { version: PROGRESS_VERSION, lessons: {} };
}

function emptyLesson(): LessonProgress {
  return { pagesRead: [], pageCount: 0, missionsMet: [], labOpened: false, updatedAt: "" };
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/** A timestamp that is safe in file names on every platform. */
function fileStamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

interface FileStamp {
  mtimeMs: number;
  size: number;
}

function stampOf(path: string): FileStamp | undefined {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st ? { mtimeMs: st.mtimeMs, size: st.size } : undefined;
  } catch {
    return undefined;
  }
}

export class ProgressStore {
  readonly home: string;
  readonly path: string;
  /** One line to show the learner once (then set it to undefined), e.g. that a corrupt file was kept aside. */
  notice?: string;
  #data: ProgressData;
  readonly #readOnly: boolean;
  #saveFailing = false;
  readonly #listeners = new Set<(change: ProgressChange) => void>();
  /** The file as this store last read or wrote it, to notice another process's writes. */
  #seen: FileStamp | undefined;

  private constructor(home: string, data: ProgressData, readOnly: boolean, notice?: string) {
    this.home = home;
    this.path = join(home, PROGRESS_FILE);
    this.#data = data;
    this.#readOnly = readOnly;
    if (notice !== undefined) this.notice = notice;
    this.#seen = stampOf(this.path);
  }

  /** Reads progress.json from `home`, $LEARN_WEBSERVERS_HOME or the platform's data directory. */
  static open(options: ProgressLocationOptions = {}): ProgressStore {
    const home = progressHome(options);
    const path = join(home, PROGRESS_FILE);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        return new ProgressStore(home, emptyProgress(), false);
      }
      return new ProgressStore(
        home,
        emptyProgress(),
        true,
        `Your progress file ${path} could not be read (${errorCode(error)}); progress made now will not be saved.`,
      );
    }

    const parsed = parseProgress(text);
    if (parsed.kind === "ok") return new ProgressStore(home, parsed.data, false);
    if (parsed.kind === "newer") {
      return new ProgressStore(
        home,
        emptyProgress(),
        true,
        `Your progress file ${path} was written by a newer learn-webservers (progress version ${parsed.version}, this one reads up to ${PROGRESS_VERSION}); it is left untouched and progress made now will not be saved.`,
      );
    }
    const kept = `${path}.corrupt-${fileStamp()}`;
    try {
      renameSync(path, kept);
    } catch (error) {
      return new ProgressStore(
        home,
        emptyProgress(),
        true,
        `Your progress file ${path} could not be read (${parsed.reason}) nor moved aside (${errorCode(error)}); it is left as it is and progress made now will not be saved.`,
      );
    }
    return new ProgressStore(
      home,
      emptyProgress(),
      false,
      `Your progress file could not be read (${parsed.reason}); it was kept as ${kept}, and a new one was started.`,
    );
  }

  /** The current progress; a new object after every change. Do not modify it. */
  get data(): ProgressData {
    return this.#data;
  }

  /** True when progress is not written back (a newer or unreadable file is left untouched). */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  lesson(lessonId: string): LessonProgress | undefined {
    return Object.hasOwn(this.#data.lessons, lessonId) ? this.#data.lessons[lessonId] : undefined;
  }

  /** "done" once the quiz is passed and every mission met; "in-progress" once anything is recorded. */
  lessonState(lesson: Lesson): LessonState {
    const p = this.lesson(lesson.id);
    if (!p) return "new";
    const missionsMet = lesson.lab.missions.every((m) => p.missionsMet.includes(m.id));
    if (p.quiz?.passed && missionsMet) return "done";
    const started =
      p.pagesRead.length > 0 || p.labOpened || p.missionsMet.length > 0 || p.quiz !== undefined;
    return started ? "in-progress" : "new";
  }

  workspacesDir(): string {
    return join(this.home, "workspaces");
  }

  markPageRead(lessonId: string, page: number, pageCount: number): void {
    this.#update(lessonId, (p) => {
      const known = p.pagesRead.includes(page);
      if (known && p.pageCount === pageCount) return undefined;
      const pagesRead = known ? p.pagesRead : [...p.pagesRead, page].sort((a, b) => a - b);
      return { ...p, pagesRead, pageCount };
    });
    this.#emit({ kind: "page", lessonId, page, pageCount });
  }

  markLabOpened(lessonId: string): void {
    this.#update(lessonId, (p) => (p.labOpened ? undefined : { ...p, labOpened: true }));
    this.#emit({ kind: "lab", lessonId });
  }

  /** Returns true when the mission was not met before. */
  markMissionMet(lessonId: string, missionId: string): boolean {
    let isNew = false;
    this.#update(lessonId, (p) => {
      if (p.missionsMet.includes(missionId)) return undefined;
      isNew = true;
      return { ...p, missionsMet: [...p.missionsMet, missionId] };
    });
    if (isNew) this.#emit({ kind: "mission", lessonId, missionId });
    return isNew;
  }

  /** Keeps the best and the last score (0 to 1), counts attempts; `passed` stays true once true. */
  recordQuiz(lessonId: string, score: number, passed: boolean): void {
    const s = Math.min(1, Math.max(0, Number.isFinite(score) ? score : 0));
    this.#update(lessonId, (p) => ({
      ...p,
      quiz: {
        best: Math.max(p.quiz?.best ?? 0, s),
        last: s,
        attempts: (p.quiz?.attempts ?? 0) + 1,
        passed: (p.quiz?.passed ?? false) || passed,
      },
    }));
    this.#emit({ kind: "quiz", lessonId, score: s, passed });
  }

  /** As `recordQuiz`, for the final exam; also keeps the last attempt's date and the first pass's. */
  recordExam(score: number, passed: boolean): void {
    const s = Math.min(1, Math.max(0, Number.isFinite(score) ? score : 0));
    this.#refresh();
    const old = this.#data.exam;
    const date = new Date().toISOString();
    const exam: ExamRecord = {
      best: Math.max(old?.best ?? 0, s),
      last: s,
      attempts: (old?.attempts ?? 0) + 1,
      passed: (old?.passed ?? false) || passed,
      date,
    };
    const passedAt = old?.passedAt ?? (passed ? date : undefined);
    if (passedAt !== undefined) exam.passedAt = passedAt;
    this.#data = { ...this.#data, exam };
    this.#save();
    this.#emit({ kind: "exam", score: s, passed });
  }

  /** Adds active time (milliseconds) to a lesson, or to the exam when `lessonId` is undefined. */
  addTime(lessonId: string | undefined, ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) return;
    const add = Math.round(ms);
    if (lessonId !== undefined) {
      this.#update(lessonId, (p) => ({ ...p, timeMs: (p.timeMs ?? 0) + add }));
      return;
    }
    this.#refresh();
    this.#data = { ...this.#data, examTimeMs: (this.#data.examTimeMs ?? 0) + add };
    this.#save();
  }

  setPosition(pos: Position): void {
    this.#refresh();
    const last = this.#data.last;
    if (last?.lessonId === pos.lessonId && last.screen === pos.screen && last.page === pos.page) {
      return;
    }
    this.#data = {
      ...this.#data,
      last: { lessonId: pos.lessonId, screen: pos.screen, page: pos.page },
    };
    this.#save();
    this.#emit({ kind: "position", position: { ...pos } });
  }

  /** Forgets one lesson's progress, or everything when no id is given. */
  reset(lessonId?: string): void {
    this.#refresh();
    if (lessonId === undefined) {
      this.#data = emptyProgress();
    } else {
      const lessons = { ...this.#data.lessons };
      delete lessons[lessonId];
      const { last, ...rest } = this.#data;
      this.#data =
        last && last.lessonId !== lessonId ? { ...rest, lessons, last } : { ...rest, lessons };
    }
    this.#save();
    this.#emit(lessonId === undefined ? { kind: "reset" } : { kind: "reset", lessonId });
  }

  /** Calls `listener` after every change made through this store; returns the unsubscribe. */
  onChange(listener: (change: ProgressChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: ProgressChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must never stop the learner's progress from being recorded.
      }
    }
  }

  #update(lessonId: string, change: (p: LessonProgress) => LessonProgress | undefined): void {
    this.#refresh();
    const next = change(this.lesson(lessonId) ?? emptyLesson());
    if (!next) return;
    this.#data = {
      ...this.#data,
      lessons: {
        ...this.#data.lessons,
        [lessonId]: { ...next, updatedAt: new Date().toISOString() },
      },
    };
    this.#save();
  }

  /**
   * Takes in what another process (a second terminal, `progress reset`) wrote since this store
   * last read or wrote the file, so a change here is made on top of it instead of over it.
   */
  #refresh(): void {
    if (this.#readOnly) return;
    const now = stampOf(this.path);
    if (
      !now ||
      (this.#seen && now.mtimeMs === this.#seen.mtimeMs && now.size === this.#seen.size)
    ) {
      return;
    }
    try {
      const parsed = parseProgress(readFileSync(this.path, "utf8"));
      if (parsed.kind === "ok") this.#data = parsed.data;
    } catch {
      // Unreadable just now: keep what this store has; the next save writes it back.
    }
    this.#seen = now;
  }

  #save(): void {
    if (this.#readOnly) return;
    try {
      writeFileAtomic(this.path, `${JSON.stringify(this.#data, null, 2)}\n`);
      this.#seen = stampOf(this.path);
      this.#saveFailing = false;
    } catch (error) {
      if (!this.#saveFailing) {
        this.#saveFailing = true;
        this.notice = `Your progress could not be saved in ${this.home} (${errorCode(error)}); it is kept in memory until you quit.`;
      }
    }
  }
}
