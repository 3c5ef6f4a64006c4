import { formatScore, type QuizScore, scoreQuiz } from "../course/quiz.js";
import type { Lesson, Quiz } from "../course/schema.js";
import type { PlainContext } from "./run.js";
import { wrap } from "./wrap.js";

export interface QuizAttempt {
  score: QuizScore;
  answers: number[];
}

/**
 * Asks every question of `quiz` with feedback after each, then prints the score. Undefined when
 * the learner stops with q (nothing is scored). `noun` names what is taken ("quiz", "exam").
 */
export async function askQuiz(
  ctx: PlainContext,
  quiz: Quiz,
  heading: string,
  noun: string,
): Promise<QuizAttempt | undefined> {
  const { questions, passMark } = quiz;
  ctx.io.say();
  ctx.io.say(
    `${heading} (${questions.length} questions, pass mark ${Math.round(passMark * 100)}%)`,
  );
  const answers: number[] = [];
  for (const [i, q] of questions.entries()) {
    ctx.io.say();
    ctx.io.say(wrap(`Question ${i + 1} of ${questions.length}: ${q.prompt}`, ctx.width));
    q.choices.forEach((choice, c) => {
      ctx.io.say(wrap(`${c + 1}. ${choice}`, ctx.width, "  ", "     "));
    });
    let chosen: number | undefined;
    while (chosen === undefined) {
      const answer = (
        await ctx.io.ask(`Your answer [1-${q.choices.length}, q to stop]:`)
      ).toLowerCase();
      if (answer === "q") {
        ctx.io.say(`${noun[0]?.toUpperCase() ?? ""}${noun.slice(1)} stopped; nothing recorded.`);
        return undefined;
      }
      const n = Number(answer);
      if (/^\d+$/.test(answer) && n >= 1 && n <= q.choices.length) chosen = n - 1;
      else ctx.io.say(`Type a number from 1 to ${q.choices.length}, or q to stop.`);
    }
    answers.push(chosen);
    if (chosen === q.answer) ctx.io.say("Correct.");
    else {
      ctx.io.say(
        wrap(`Not quite. The answer is ${q.answer + 1}: ${q.choices[q.answer] ?? ""}`, ctx.width),
      );
    }
    ctx.io.say(wrap(q.explanation, ctx.width));
    ctx.io.say(wrap(`Source: ${q.source.title} <${q.source.url}>`, ctx.width));
  }

  const score = scoreQuiz(quiz, answers);
  ctx.io.say();
  ctx.io.say(
    `Score: ${formatScore(score.score)} (${score.correct} of ${score.total} correct), ${score.passed ? "passed" : `not passed yet (pass mark ${Math.round(passMark * 100)}%)`}.`,
  );
  return { score, answers };
}

/** The questions answered wrongly, with the right answer and where to read more. */
export function reviewMissed(ctx: PlainContext, quiz: Quiz, { score, answers }: QuizAttempt): void {
  if (score.missed.length === 0) return;
  ctx.io.say();
  ctx.io.say("Questions to review:");
  for (const i of score.missed) {
    const q = quiz.questions[i];
    if (!q) continue;
    ctx.io.say(wrap(`${i + 1}. ${q.prompt}`, ctx.width, "  ", "     "));
    ctx.io.say(wrap(`You answered: ${q.choices[answers[i] ?? -1] ?? "-"}`, ctx.width, "     "));
    ctx.io.say(wrap(`The answer: ${q.choices[q.answer] ?? ""}`, ctx.width, "     "));
    ctx.io.say(wrap(`See: ${q.source.title} <${q.source.url}>`, ctx.width, "     "));
  }
}

/** One pass through the quiz; an answered quiz is recorded, one stopped with q is not. */
export async function runQuiz(ctx: PlainContext, lesson: Lesson): Promise<void> {
  ctx.progress.setPosition({ lessonId: lesson.id, screen: "quiz", page: 0 });
  const attempt = await askQuiz(ctx, lesson.quiz, `Quiz: ${lesson.meta.title}`, "quiz");
  if (!attempt) return;
  ctx.progress.recordQuiz(lesson.id, attempt.score.score, attempt.score.passed);
  const best = ctx.progress.lesson(lesson.id)?.quiz?.best;
  if (best !== undefined) ctx.io.say(`Your best score for this lesson: ${formatScore(best)}.`);
  reviewMissed(ctx, lesson.quiz, attempt);
}
