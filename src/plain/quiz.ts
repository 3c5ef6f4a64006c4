import { formatScore, scoreQuiz } from "../course/quiz.js";
import type { Lesson } from "../course/schema.js";
import type { PlainContext } from "./run.js";
import { wrap } from "./wrap.js";

/** One pass through the quiz; an answered quiz is recorded, one stopped with q is not. */
export async function runQuiz(ctx: PlainContext, lesson: Lesson): Promise<void> {
  const { questions, passMark } = lesson.quiz;
  ctx.progress.setPosition({ lessonId: lesson.id, screen: "quiz", page: 0 });
  ctx.io.say();
  ctx.io.say(
    `Quiz: ${lesson.meta.title} (${questions.length} questions, pass mark ${Math.round(passMark * 100)}%)`,
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
        ctx.io.say("Quiz stopped; nothing recorded.");
        return;
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

  const score = scoreQuiz(lesson.quiz, answers);
  ctx.progress.recordQuiz(lesson.id, score.score, score.passed);
  ctx.io.say();
  ctx.io.say(
    `Score: ${formatScore(score.score)} (${score.correct} of ${score.total} correct), ${score.passed ? "passed" : `not passed yet (pass mark ${Math.round(passMark * 100)}%)`}.`,
  );
  const best = ctx.progress.lesson(lesson.id)?.quiz?.best;
  if (best !== undefined) ctx.io.say(`Your best score for this lesson: ${formatScore(best)}.`);
  const missed = questions.flatMap((q, i) => (answers[i] === q.answer ? [] : [{ q, i }]));
  if (missed.length > 0) {
    ctx.io.say();
    ctx.io.say("Questions to review:");
    for (const { q, i } of missed) {
      ctx.io.say(wrap(`${i + 1}. ${q.prompt}`, ctx.width, "  ", "     "));
      ctx.io.say(wrap(`You answered: ${q.choices[answers[i] ?? -1] ?? "-"}`, ctx.width, "     "));
      ctx.io.say(wrap(`The answer: ${q.choices[q.answer] ?? ""}`, ctx.width, "     "));
      ctx.io.say(wrap(`See: ${q.source.title} <${q.source.url}>`, ctx.width, "     "));
    }
  }
}
