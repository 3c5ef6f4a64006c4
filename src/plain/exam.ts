import { formatScore } from "../course/quiz.js";
import {
  completionMarkdown,
  completionText,
  courseResults,
  defaultSummaryPath,
  remainingText,
  writeCompletionSummary,
} from "../progress/completion.js";
import { askQuiz, reviewMissed } from "./quiz.js";
import type { PlainContext } from "./run.js";
import { wrap } from "./wrap.js";

/** The final exam, recorded as the exam; when it completes the course, the summary follows. */
export async function runExam(ctx: PlainContext): Promise<void> {
  const exam = ctx.course.exam;
  if (!exam) {
    ctx.io.say("This course has no final exam.");
    return;
  }
  ctx.io.say();
  ctx.io.say(
    wrap(
      "Questions from every lesson's quiz, and scenarios that mix them. Type q at any question to stop; an exam left unfinished is not scored.",
      ctx.width,
    ),
  );
  const attempt = await askQuiz(ctx, exam, `${exam.title}: ${ctx.course.course.title}`, "exam");
  if (!attempt) return;
  ctx.progress.recordExam(attempt.score.score, attempt.score.passed);
  const best = ctx.progress.data.exam?.best;
  if (best !== undefined) ctx.io.say(`Your best exam score: ${formatScore(best)}.`);
  reviewMissed(ctx, exam, attempt);
  const results = courseResults(ctx.course, ctx.progress);
  if (results.complete) {
    ctx.io.say();
    showCompletion(ctx);
  } else if (attempt.score.passed) {
    ctx.io.say();
    ctx.io.say(
      wrap(`Still to do before the course is complete: ${remainingText(results)}.`, ctx.width),
    );
  }
}

/** Scores, missions and time as text, and the Markdown summary written beside progress.json. */
export function showCompletion(ctx: PlainContext): void {
  const results = courseResults(ctx.course, ctx.progress);
  for (const line of completionText(results)) {
    const indent = /^ */.exec(line)?.[0] ?? "";
    ctx.io.say(wrap(line, ctx.width, indent, `${indent}  `));
  }
  const path = defaultSummaryPath(ctx.progress);
  try {
    writeCompletionSummary(completionMarkdown(results), path);
    ctx.io.say("Your summary, in Markdown, is saved in:");
    ctx.io.say(`  ${path}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    ctx.io.say(
      wrap(
        `Your summary could not be written to ${path} (${code}). Write it elsewhere with: learn-webservers progress --summary FILE`,
        ctx.width,
      ),
    );
  }
}
