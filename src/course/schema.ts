import { z } from "zod";
import { MASTER_SIGNALS } from "../../sandboxes/shared/protocol.js";
import { SANDBOX_NAMES } from "./sandboxes.js";

export const FORMAT_VERSION = 1;

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

const id = z.string().regex(ID_PATTERN, "ids use lower-case letters, digits and dashes");

export const courseSchema = z.strictObject({
  format: z.literal(FORMAT_VERSION),
  title: z.string().min(1),
  lessons: z.array(id).min(1),
  /** The final exam's file, next to course.yaml (optional). */
  exam: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/,
      "the exam is a YAML file next to course.yaml, named like exam.yaml",
    )
    .optional(),
});
export type Course = z.infer<typeof courseSchema>;

export const frontMatterSchema = z.strictObject({
  id,
  title: z.string().min(1).max(60),
  server: z.string().min(1),
  summary: z.string().min(1).max(200),
  minutes: z.number().int().positive(),
  objectives: z.array(z.string().min(1)).min(1),
});
export type FrontMatter = z.infer<typeof frontMatterSchema>;

const headers = z.record(z.string(), z.string());

export const actionSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("request"),
    method: z.string().default("GET"),
    path: z.string().startsWith("/"),
    headers: headers.optional(),
    body: z.string().optional(),
    useLastModifiedFrom: z.string().startsWith("/").optional(),
    timeoutMs: z.number().int().min(500).max(60_000).optional(),
    /**
     * "empty": the lesson expects the server to close the connection without answering;
     * "refused": it expects nothing to listen (a development server down after a broken edit).
     */
    expect: z.enum(["response", "empty", "refused"]).default("response"),
  }),
  z.strictObject({
    kind: z.literal("raw"),
    send: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal("burst"),
    path: z.string().startsWith("/"),
    count: z.number().int().min(1).max(1000),
    concurrency: z.number().int().min(1).max(100).default(10),
    workers: z.array(z.number().int().min(1).max(8)).min(2).max(4).optional(),
  }),
  z.strictObject({
    kind: z.literal("slow-client"),
    holdMs: z.number().int().min(100).max(10000),
    path: z.string().startsWith("/"),
    /** "upstream": straight to the app server behind a proxy, as if there were no proxy. */
    target: z.enum(["server", "upstream"]).default("server"),
  }),
  z.strictObject({
    kind: z.literal("write-file"),
    file: z.string().min(1),
    content: z.string(),
  }),
  z.strictObject({
    kind: z.literal("restart"),
    options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  }),
  z.strictObject({
    kind: z.literal("signal"),
    signal: z.enum(MASTER_SIGNALS),
  }),
  z.strictObject({
    kind: z.literal("kill-worker"),
    signal: z.enum(["SIGKILL", "SIGTERM"]).default("SIGKILL"),
  }),
  z.strictObject({
    kind: z.literal("websocket"),
    path: z.string().startsWith("/").default("/ws"),
    /** Sent as the upgrade's Origin header: another site's origin is a cross-origin attempt. */
    origin: z.string().min(1).max(200).optional(),
    send: z.array(z.string().min(1).max(200)).max(5).default(["hello"]),
  }),
  z.strictObject({
    kind: z.literal("ws-load"),
    connections: z.number().int().min(1).max(20_000),
    broadcast: z.boolean().default(true),
  }),
  z.strictObject({
    kind: z.literal("poll-vs-ws"),
    messages: z.number().int().min(2).max(50).default(10),
    gapMs: z.number().int().min(0).max(1000).default(5),
  }),
]);
export type Action = z.infer<typeof actionSchema>;

/** Asked before the experiment runs; the result then shows what happened beside the guess. */
export const predictSchema = z.strictObject({
  prompt: z.string().min(1).max(200),
  choices: z.array(z.string().min(1).max(40)).min(2).max(5),
  answer: z.number().int().min(0),
});
export type Predict = z.infer<typeof predictSchema>;

export const experimentSchema = z.strictObject({
  key: z.number().int().min(1).max(9),
  id,
  title: z.string().min(1).max(50),
  explain: z.string().min(1),
  predict: predictSchema.optional(),
  action: actionSchema,
});
export type Experiment = z.infer<typeof experimentSchema>;

const scalar = z.union([z.string(), z.number(), z.boolean()]);
export const matcherSchema = z.union([
  scalar,
  z.strictObject({
    gte: z.number().optional(),
    lte: z.number().optional(),
    regex: z.string().optional(),
    present: z.boolean().optional(),
    oneOf: z.array(scalar).optional(),
  }),
]);
export type Matcher = z.infer<typeof matcherSchema>;

export const missionSchema = z.strictObject({
  id,
  title: z.string().min(1).max(70),
  hint: z.string().min(1),
  when: z.strictObject({
    event: z.enum([
      "request",
      "listening",
      "error",
      "experiment",
      "worker",
      "signal",
      "reload",
      "websocket",
      "connections",
      "loop",
      "proxy",
      "upstreams",
    ]),
    from: z.enum(["learner", "lab", "any"]).default("any"),
    match: z.record(z.string(), matcherSchema).default({}),
    count: z.number().int().min(1).default(1),
    distinct: z.string().optional(),
  }),
});
export type Mission = z.infer<typeof missionSchema>;

export const labSchema = z.strictObject({
  sandbox: z.enum(SANDBOX_NAMES),
  flavour: z.string().optional(),
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  workspace: z
    .string()
    .regex(
      ID_PATTERN,
      "a workspace is named like an id: lower-case letters, digits and dashes (a folder of the sandbox's)",
    )
    .optional(),
  /** The workspace file `e` opens in the learner's editor (relative, inside the workspace). */
  edit: z.string().min(1).optional(),
  intro: z.string().min(1),
  experiments: z.array(experimentSchema).min(1).max(9),
  missions: z.array(missionSchema).min(1),
});
export type Lab = z.infer<typeof labSchema>;

export const sourceSchema = z.strictObject({
  title: z.string().min(1),
  url: z.url(),
});

export const questionSchema = z.strictObject({
  id,
  prompt: z.string().min(1),
  choices: z.array(z.string().min(1)).min(2).max(6),
  answer: z.number().int().min(0),
  explanation: z.string().min(1),
  source: sourceSchema,
});
export type Question = z.infer<typeof questionSchema>;

export const quizSchema = z.strictObject({
  passMark: z.number().min(0).max(1).default(0.7),
  questions: z.array(questionSchema).min(1),
});
export type Quiz = z.infer<typeof quizSchema>;

/** `lesson-id/question-id`: a question of a lesson's quiz, picked into the exam. */
export const QUESTION_REF_PATTERN = /^[a-z0-9][a-z0-9-]*\/[a-z0-9][a-z0-9-]*$/;

/**
 * One of exam.yaml's questions as written: `from: lesson-id/question-id` alone, picking a
 * question of a lesson's quiz, or a whole question in the quiz format (the loader checks which).
 */
export const examEntrySchema = questionSchema.partial().extend({
  from: z
    .string()
    .regex(QUESTION_REF_PATTERN, "write it as lesson-id/question-id, e.g. gunicorn/master-role")
    .optional(),
});
export type ExamEntry = z.infer<typeof examEntrySchema>;

export const examFileSchema = z.strictObject({
  title: z.string().min(1).max(60).default("Final exam"),
  passMark: z.number().min(0).max(1).default(0.7),
  questions: z.array(examEntrySchema).min(1),
});

export interface ExamQuestion extends Question {
  /** The lesson whose quiz the question was picked from; absent for one written in exam.yaml. */
  lessonId?: string;
}

/** The exam as the app uses it: picked questions resolved, in the order exam.yaml lists them. */
export interface Exam {
  title: string;
  passMark: number;
  questions: ExamQuestion[];
}

export interface Lesson {
  id: string;
  dir: string;
  meta: FrontMatter;
  pages: string[];
  lab: Lab;
  quiz: Quiz;
  python: { name: string; code: string }[];
}

export interface LoadedCourse {
  dir: string;
  course: Course;
  lessons: Lesson[];
  /** Present when course.yaml names an exam. */
  exam?: Exam;
}
