import { randomBytes } from "node:crypto";
import * as z from "zod/mini";

/** The join code's letters: no 0/O, 1/I/L, so it reads right off a projector. */
export const CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
export const CODE_LENGTH = 6;

export const LIMITS = {
  /** Bytes of a request body; more is refused with 413. */
  body: 64 * 1024,
  name: 40,
  id: 64,
  /** Events in one POST. */
  batch: 50,
  /** Lessons and missions a learner can have recorded on the host. */
  lessons: 100,
  missionsPerLesson: 50,
  pagesPerLesson: 500,
  learners: 500,
  /** The largest page number, page count or attempt count an event or a record may hold. */
  count: 100_000,
  /** Dashboards (server-sent event streams) open at once. */
  streams: 20,
} as const;

/** A random join code, e.g. `K7PX3M`. */
export function newJoinCode(): string {
  const bytes = randomBytes(CODE_LENGTH * 2);
  let code = "";
  for (const byte of bytes) {
    // 248 = 8 * 31: drop the bytes that would make some letters likelier than others.
    if (byte >= 248) continue;
    code += CODE_ALPHABET[byte % CODE_ALPHABET.length];
    if (code.length === CODE_LENGTH) return code;
  }
  return newJoinCode();
}

export function newSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

/** A code as typed (any case, spaces or dashes between groups) in its canonical form. */
export function normalizeCode(code: string): string {
  return code.replace(/[\s-]/g, "").toUpperCase();
}

/** C0 and C1 controls, DEL, and the marks that reorder text (a name must not flip a row). */
function isControlOrBidi(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/** A display name: trimmed, NFC, 1 to 40 characters, no control or direction-changing characters. */
export function checkName(
  raw: string,
): { ok: true; name: string } | { ok: false; problem: string } {
  const name = raw.normalize("NFC").trim();
  if (name === "") return { ok: false, problem: "the name is empty" };
  if ([...name].length > LIMITS.name) {
    return { ok: false, problem: `the name is longer than ${LIMITS.name} characters` };
  }
  if ([...name].some((ch) => isControlOrBidi(ch.codePointAt(0) ?? 0))) {
    return { ok: false, problem: "the name holds a control character" };
  }
  return { ok: true, name };
}

const id = z
  .string()
  .check(z.minLength(1), z.maxLength(LIMITS.id), z.regex(/^[a-z0-9][a-z0-9-]*$/));
const count = z.int().check(z.minimum(0), z.maximum(LIMITS.count));
const score = z.number().check(z.minimum(0), z.maximum(1));
const time = z.number().check(z.minimum(0), z.maximum(8.64e15));
const screen = z.enum(["map", "reader", "lab", "quiz"]);
const base = { seq: z.int().check(z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER)), at: time };

export const positionSchema = z.strictObject({
  lesson: id,
  screen,
  page: count,
});

/** A quiz's results, and the final exam's. */
export const quizSchema = z.strictObject({
  best: score,
  last: score,
  attempts: count,
  passed: z.boolean(),
});

export const lessonStateSchema = z.strictObject({
  pagesRead: z.array(count).check(z.maxLength(LIMITS.pagesPerLesson)),
  pageCount: count,
  missions: z.array(id).check(z.maxLength(LIMITS.missionsPerLesson)),
  labOpened: z.boolean(),
  quiz: z.optional(quizSchema),
});

export const eventSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...base, type: z.literal("page"), lesson: id, page: count, pageCount: count }),
  z.strictObject({ ...base, type: z.literal("lab"), lesson: id }),
  z.strictObject({ ...base, type: z.literal("mission"), lesson: id, mission: id }),
  z.strictObject({
    ...base,
    type: z.literal("quiz"),
    lesson: id,
    score,
    passed: z.boolean(),
  }),
  z.strictObject({ ...base, type: z.literal("exam"), score, passed: z.boolean() }),
  z.strictObject({ ...base, type: z.literal("position"), position: positionSchema }),
  z.strictObject({ ...base, type: z.literal("reset"), lesson: z.optional(id) }),
  z.strictObject({
    ...base,
    type: z.literal("sync"),
    lessons: z
      .record(id, lessonStateSchema)
      .check(
        z.refine(
          (r) => Object.keys(r).length <= LIMITS.lessons,
          `at most ${LIMITS.lessons} lessons`,
        ),
      ),
    position: z.optional(positionSchema),
    /** Absent from clients older than the exam column, and when the learner has not taken it. */
    exam: z.optional(quizSchema),
  }),
]);

export type ClassroomEvent = z.infer<typeof eventSchema>;
export type LessonState = z.infer<typeof lessonStateSchema>;
export type QuizState = z.infer<typeof quizSchema>;
export type PositionState = z.infer<typeof positionSchema>;
type WithoutSeq<T> = T extends unknown ? Omit<T, "seq"> : never;
/** An event before it is numbered: what the join client queues. */
export type NewEvent = WithoutSeq<ClassroomEvent>;

export const joinRequestSchema = z.strictObject({
  code: z.string().check(z.maxLength(32)),
  name: z.string().check(z.maxLength(400)),
});

export const joinResponseSchema = z.object({
  learner: z.string(),
  token: z.string(),
});

export const eventsRequestSchema = z.strictObject({
  code: z.string().check(z.maxLength(32)),
  sentAt: time,
  events: z.array(eventSchema).check(z.maxLength(LIMITS.batch)),
});

export type EventsRequest = z.infer<typeof eventsRequestSchema>;

export const eventsResponseSchema = z.object({
  acked: z.int(),
});

/** Where a learner is, as the dashboard shows it. */
export function describeStep(position: PositionState | undefined, pageCount?: number): string {
  if (!position) return "not started";
  switch (position.screen) {
    case "map":
      return "course map";
    case "reader":
      return pageCount
        ? `reading ${position.page + 1}/${pageCount}`
        : `reading ${position.page + 1}`;
    case "lab":
      return "lab";
    case "quiz":
      return "quiz";
  }
}
