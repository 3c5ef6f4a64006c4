import * as z from "zod/mini";
import type { LoadedCourse } from "../course/schema.js";
import {
  type ClassroomEvent,
  type LessonState,
  LIMITS,
  lessonStateSchema,
  type PositionState,
  positionSchema,
  type QuizState,
  quizSchema,
} from "./protocol.js";

export const ROOM_VERSION = 1;

/** What the host knows of the course: enough for the pace view and the CSV columns. */
export interface CourseOutline {
  title: string;
  lessons: { id: string; title: string; pages: number; missions: string[] }[];
  /** The course's final exam, when it has one. */
  exam?: { title: string };
}

export interface LearnerRecord {
  id: string;
  name: string;
  /** SHA-256 of the learner's token, hex: the token itself is never stored. */
  tokenHash: string;
  joinedAt: number;
  /** When the host last heard from the learner's app (host clock, ms). */
  lastSeen: number;
  /** When the learner last did something (their event times, moved onto the host clock). */
  lastActive: number;
  /** The highest event number applied; an event at or below it is a repeat. */
  lastSeq: number;
  position?: PositionState;
  lessons: Record<string, LessonState>;
  /** The final exam: best and last score, attempts, passed once any attempt passed. */
  exam?: QuizState;
}

export interface RoomData {
  version: typeof ROOM_VERSION;
  code: string;
  /** The instructor's secret for the dashboard and the export. */
  key: string;
  createdAt: number;
  course: CourseOutline;
  learners: LearnerRecord[];
}

const outlineSchema = z.object({
  title: z.string(),
  lessons: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      pages: z.int(),
      missions: z.array(z.string()),
    }),
  ),
  /** The course's final exam, when it has one. */
  exam: z.optional(z.object({ title: z.string() })),
});

const learnerSchema = z.object({
  id: z.string(),
  name: z.string(),
  tokenHash: z.string(),
  joinedAt: z.number(),
  lastSeen: z.number(),
  lastActive: z.number(),
  lastSeq: z.int(),
  position: z.optional(positionSchema),
  lessons: z.record(z.string(), lessonStateSchema),
  exam: z.optional(quizSchema),
});

export const roomSchema = z.object({
  version: z.literal(ROOM_VERSION),
  code: z.string().check(z.minLength(4)),
  key: z.string().check(z.minLength(16)),
  createdAt: z.number(),
  course: outlineSchema,
  learners: z.array(learnerSchema),
});

export function outlineOf(course: LoadedCourse): CourseOutline {
  const outline: CourseOutline = {
    title: course.course.title,
    lessons: course.lessons.map((l) => ({
      id: l.id,
      title: l.meta.title,
      pages: l.pages.length,
      missions: l.lab.missions.map((m) => m.id),
    })),
  };
  if (course.exam) outline.exam = { title: course.exam.title };
  return outline;
}

function emptyLesson(): LessonState {
  return { pagesRead: [], pageCount: 0, missions: [], labOpened: false };
}

/** A quiz or exam record with one more attempt scored `score`. */
function scored(old: QuizState | undefined, score: number, passed: boolean): QuizState {
  return {
    best: Math.max(old?.best ?? 0, score),
    last: score,
    attempts: Math.min(LIMITS.count, (old?.attempts ?? 0) + 1),
    passed: (old?.passed ?? false) || passed,
  };
}

/** The learner's record of a lesson, created if there is room for one more; undefined if not. */
function lessonOf(learner: LearnerRecord, id: string): LessonState | undefined {
  if (Object.hasOwn(learner.lessons, id)) return learner.lessons[id];
  if (Object.keys(learner.lessons).length >= LIMITS.lessons) return undefined;
  const fresh = emptyLesson();
  learner.lessons[id] = fresh;
  return fresh;
}

function applyOne(learner: LearnerRecord, event: ClassroomEvent): void {
  switch (event.type) {
    case "page": {
      const lesson = lessonOf(learner, event.lesson);
      if (!lesson) return;
      lesson.pageCount = event.pageCount;
      if (
        !lesson.pagesRead.includes(event.page) &&
        lesson.pagesRead.length < LIMITS.pagesPerLesson
      ) {
        lesson.pagesRead = [...lesson.pagesRead, event.page].sort((a, b) => a - b);
      }
      return;
    }
    case "lab": {
      const lesson = lessonOf(learner, event.lesson);
      if (lesson) lesson.labOpened = true;
      return;
    }
    case "mission": {
      const lesson = lessonOf(learner, event.lesson);
      if (
        lesson &&
        !lesson.missions.includes(event.mission) &&
        lesson.missions.length < LIMITS.missionsPerLesson
      ) {
        lesson.missions = [...lesson.missions, event.mission];
      }
      return;
    }
    case "quiz": {
      const lesson = lessonOf(learner, event.lesson);
      if (!lesson) return;
      lesson.quiz = scored(lesson.quiz, event.score, event.passed);
      return;
    }
    case "exam":
      learner.exam = scored(learner.exam, event.score, event.passed);
      return;
    case "position":
      learner.position = { ...event.position };
      return;
    case "reset":
      if (event.lesson === undefined) {
        learner.lessons = {};
        delete learner.position;
        delete learner.exam;
      } else {
        delete learner.lessons[event.lesson];
        if (learner.position?.lesson === event.lesson) delete learner.position;
      }
      return;
    case "sync": {
      const lessons: Record<string, LessonState> = {};
      for (const [id, state] of Object.entries(event.lessons)) {
        lessons[id] = structuredClone(state);
      }
      learner.lessons = lessons;
      if (event.position) learner.position = { ...event.position };
      if (event.exam) learner.exam = { ...event.exam };
      else delete learner.exam;
      return;
    }
  }
}

/**
 * Applies a batch in order, skipping events already applied (a repeat after a lost answer).
 * `offsetMs` moves the learner's clock onto the host's. Returns how many were new.
 */
export function applyEvents(
  learner: LearnerRecord,
  events: ClassroomEvent[],
  offsetMs: number,
  now: number,
): number {
  let applied = 0;
  for (const event of events) {
    if (event.seq <= learner.lastSeq) continue;
    applyOne(learner, event);
    learner.lastSeq = event.seq;
    const at = Math.min(now, Math.max(learner.joinedAt, event.at + offsetMs));
    if (event.type !== "sync") learner.lastActive = Math.max(learner.lastActive, at);
    applied++;
  }
  learner.lastSeen = now;
  return applied;
}

export interface LearnerView {
  id: string;
  name: string;
  joinedAt: number;
  lastSeen: number;
  lastActive: number;
  position: PositionState | null;
  lessons: Record<
    string,
    {
      pagesRead: number;
      pageCount: number;
      missions: number;
      labOpened: boolean;
      quiz: LessonState["quiz"] | null;
    }
  >;
  exam: QuizState | null;
}

export interface RoomView {
  now: number;
  title: string;
  lessons: { id: string; title: string; pages: number; missions: number }[];
  /** The course's final exam, or null when it has none (the dashboard leaves its column out). */
  exam: { title: string } | null;
  learners: LearnerView[];
}

/** Missions of `state` that the course knows for that lesson (all of them for a lesson it does not know). */
export function missionsMet(outline: CourseOutline, lessonId: string, state: LessonState): number {
  const known = outline.lessons.find((l) => l.id === lessonId);
  if (!known) return state.missions.length;
  return state.missions.filter((m) => known.missions.includes(m)).length;
}

/** What the dashboard receives: no tokens, no join code, nothing but the room's progress. */
export function roomView(room: RoomData, now: number): RoomView {
  return {
    now,
    title: room.course.title,
    lessons: room.course.lessons.map((l) => ({
      id: l.id,
      title: l.title,
      pages: l.pages,
      missions: l.missions.length,
    })),
    exam: room.course.exam ?? null,
    learners: room.learners.map((learner) => ({
      id: learner.id,
      name: learner.name,
      joinedAt: learner.joinedAt,
      lastSeen: learner.lastSeen,
      lastActive: learner.lastActive,
      position: learner.position ?? null,
      lessons: Object.fromEntries(
        Object.entries(learner.lessons).map(([id, state]) => [
          id,
          {
            pagesRead: state.pagesRead.length,
            pageCount: state.pageCount,
            missions: missionsMet(room.course, id, state),
            labOpened: state.labOpened,
            quiz: state.quiz ?? null,
          },
        ]),
      ),
      exam: learner.exam ?? null,
    })),
  };
}
