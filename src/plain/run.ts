import { formatScore } from "../course/quiz.js";
import type { Lesson, LoadedCourse } from "../course/schema.js";
import { ActiveTimer } from "../progress/active-time.js";
import { courseResults } from "../progress/completion.js";
import { type NextStep, nextStep } from "../progress/next-step.js";
import type { ProgressStore } from "../progress/store.js";
import { STATE_LABEL, summarizeLesson } from "../progress/summary.js";
import type { Screen } from "../progress/types.js";
import { runExam, showCompletion } from "./exam.js";
import { EndOfInput, PlainIO } from "./io.js";
import { runLab } from "./lab.js";
import { runQuiz } from "./quiz.js";
import { readPages } from "./reader.js";
import { wrap } from "./wrap.js";

export interface PlainOptions {
  course: LoadedCourse;
  progress: ProgressStore;
  start?: { lessonId: string; screen: Exclude<Screen, "map"> };
  /** Starts with the final exam (`learn-webservers exam`); `start` wins when both are given. */
  exam?: boolean;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  port?: number;
  host?: string;
}

export interface PlainContext {
  io: PlainIO;
  course: LoadedCourse;
  progress: ProgressStore;
  /** Columns pages are wrapped to. */
  width: number;
  port?: number;
  host?: string;
}

export function pageWidth(env: NodeJS.ProcessEnv = process.env): number {
  const columns = Number(env.COLUMNS);
  return Number.isInteger(columns) && columns >= 20 ? columns : 76;
}

/** The course as numbered menus and prompts over plain text: for screen readers, pipes, TERM=dumb. */
export async function runPlain(opts: PlainOptions): Promise<void> {
  const ctx: PlainContext = {
    io: new PlainIO(opts.input, opts.output),
    course: opts.course,
    progress: opts.progress,
    width: pageWidth(),
    port: opts.port,
    host: opts.host,
  };
  try {
    const start = opts.start;
    const lesson = start && ctx.course.lessons.find((l) => l.id === start.lessonId);
    if (start && lesson) {
      await openAt(ctx, lesson, start.screen, 0);
    } else if (opts.exam) {
      await timed(ctx, undefined, () => runExam(ctx));
    }
    await courseMap(ctx);
  } catch (err) {
    if (!(err instanceof EndOfInput)) throw err;
  } finally {
    ctx.io.close();
  }
}

/**
 * Runs `work`, counting the learner's active time (each answer they type is activity) into the
 * lesson, or into the exam when `lessonId` is undefined.
 */
async function timed(
  ctx: PlainContext,
  lessonId: string | undefined,
  work: () => Promise<void>,
): Promise<void> {
  const timer = new ActiveTimer();
  const off = ctx.io.onAnswer(() => timer.activity());
  try {
    await work();
  } finally {
    off();
    ctx.progress.addTime(lessonId, timer.take());
  }
}

async function openAt(
  ctx: PlainContext,
  lesson: Lesson,
  screen: Screen,
  page: number,
): Promise<void> {
  await timed(ctx, lesson.id, async () => {
    if (screen === "reader") await readPages(ctx, lesson, page);
    else if (screen === "lab") await runLab(ctx, lesson);
    else if (screen === "quiz") await runQuiz(ctx, lesson);
  });
  await lessonMenu(ctx, lesson);
}

function describeStep(step: NextStep): string {
  const where =
    step.screen === "reader"
      ? `, page ${step.page + 1}`
      : step.screen === "lab"
        ? ", lab"
        : ", quiz";
  return `${step.lesson.meta.title}${where}`;
}

async function courseMap(ctx: PlainContext): Promise<void> {
  const lessons = ctx.course.lessons;
  let showMenu = true;
  for (;;) {
    // Worked out again each time: the step moves on as the learner reads, meets missions and passes quizzes.
    const step = nextStep(lessons, ctx.progress);
    const results = courseResults(ctx.course, ctx.progress);
    const exam = ctx.course.exam;
    const keys = [`1-${lessons.length}`, step && "c", exam && "e", results.complete && "s", "q"];
    const choices = keys.filter(Boolean).join(", ");
    if (showMenu) {
      ctx.io.say();
      ctx.io.say(`${ctx.course.course.title}: ${lessons.length} lessons`);
      lessons.forEach((lesson, i) => {
        const state = STATE_LABEL[ctx.progress.lessonState(lesson)];
        const quiz = ctx.progress.lesson(lesson.id)?.quiz;
        const best = quiz ? `, quiz best ${formatScore(quiz.best)}` : "";
        ctx.io.say(`  ${i + 1}. ${lesson.meta.title} (${state}${best})`);
      });
      if (step) ctx.io.say(`  c. Continue: ${describeStep(step)}`);
      else ctx.io.say("  Every lesson is done.");
      if (exam && results.exam) {
        const r = results.exam;
        const best =
          r.best === null ? "" : `, best ${formatScore(r.best)}${r.passed ? ", passed" : ""}`;
        ctx.io.say(
          `  e. ${exam.title} (${exam.questions.length} questions${best}; open at any time)`,
        );
      }
      if (results.complete) ctx.io.say("  s. Course complete: your summary");
      ctx.io.say("  q. Quit");
    }
    showMenu = true;
    const answer = (await ctx.io.ask(`Choose a lesson [${choices}]:`)).toLowerCase();
    if (answer === "q" || answer === "quit") return;
    if (answer === "c" && step) {
      await openAt(ctx, step.lesson, step.screen, step.page);
      continue;
    }
    if (answer === "e" && exam) {
      await timed(ctx, undefined, () => runExam(ctx));
      continue;
    }
    if (answer === "s" && results.complete) {
      ctx.io.say();
      showCompletion(ctx);
      continue;
    }
    const lesson = lessons[Number(answer) - 1];
    if (/^\d+$/.test(answer) && lesson) {
      await lessonMenu(ctx, lesson);
      continue;
    }
    if (answer !== "") {
      const more = [
        step && "c to continue",
        exam && "e for the exam",
        results.complete && "s for your summary",
      ].filter(Boolean);
      ctx.io.say(
        `Type a number from 1 to ${lessons.length}${more.map((m) => `, ${m}`).join("")} or q to quit.`,
      );
      showMenu = false;
    }
  }
}

async function lessonMenu(ctx: PlainContext, lesson: Lesson): Promise<void> {
  await timed(ctx, lesson.id, () => lessonMenuLoop(ctx, lesson));
}

async function lessonMenuLoop(ctx: PlainContext, lesson: Lesson): Promise<void> {
  let showMenu = true;
  for (;;) {
    if (showMenu) {
      const index = ctx.course.lessons.indexOf(lesson) + 1;
      const s = summarizeLesson(lesson, ctx.progress);
      ctx.io.say();
      ctx.io.say(
        `Lesson ${index}: ${lesson.meta.title} (${STATE_LABEL[s.state]}, about ${lesson.meta.minutes} min)`,
      );
      ctx.io.say(wrap(lesson.meta.summary, ctx.width));
      ctx.io.say(`  1. Read the pages (${s.pagesRead} of ${s.pageCount} read)`);
      ctx.io.say(
        `  2. Open the lab (${s.missionsMet} of ${s.missionCount} missions met; starts a local server)`,
      );
      const best = s.quizBest === null ? "" : `, best ${formatScore(s.quizBest)}`;
      ctx.io.say(`  3. Take the quiz (${lesson.quiz.questions.length} questions${best})`);
      ctx.io.say("  b. Back to the course map");
    }
    showMenu = true;
    const answer = (await ctx.io.ask("Choose [1-3, b]:")).toLowerCase();
    if (answer === "b" || answer === "q" || answer === "back") return;
    if (answer === "1") await readPages(ctx, lesson, 0);
    else if (answer === "2") await runLab(ctx, lesson);
    else if (answer === "3") await runQuiz(ctx, lesson);
    else if (answer !== "") {
      ctx.io.say("Type 1 to read, 2 for the lab, 3 for the quiz, or b to go back.");
      showMenu = false;
    }
  }
}
