import { renderMarkdown } from "../course/markdown.js";
import type { Lesson } from "../course/schema.js";
import type { PlainContext } from "./run.js";

/** Pages one at a time from `start`; returns to the lesson menu after the last page or on q. */
export async function readPages(ctx: PlainContext, lesson: Lesson, start: number): Promise<void> {
  const count = lesson.pages.length;
  let page = Math.min(Math.max(0, start), count - 1);
  for (;;) {
    const md = lesson.pages[page] ?? "";
    ctx.io.say();
    ctx.io.say(`--- ${lesson.meta.title}: page ${page + 1} of ${count} ---`);
    ctx.io.say(await renderMarkdown(md, ctx.width, { color: false }));
    ctx.progress.markPageRead(lesson.id, page, count);
    ctx.progress.setPosition({ lessonId: lesson.id, screen: "reader", page });

    const last = page === count - 1;
    const prompt = last
      ? "[Enter: back to the lesson menu, b: previous page]"
      : "[Enter: next page, b: back, q: lesson menu]";
    let moved = false;
    while (!moved) {
      const answer = (await ctx.io.ask(prompt)).toLowerCase();
      if (answer === "") {
        if (last) {
          ctx.io.say("That was the last page. Next: the lab (2) or the quiz (3).");
          return;
        }
        page += 1;
        moved = true;
      } else if (answer === "b") {
        if (page === 0) return;
        page -= 1;
        moved = true;
      } else if (answer === "q") {
        return;
      } else if (/^\d+$/.test(answer) && Number(answer) >= 1 && Number(answer) <= count) {
        page = Number(answer) - 1;
        moved = true;
      } else {
        ctx.io.say(
          `Press Enter for the next page, b to go back, q for the lesson menu, or 1-${count} for a page.`,
        );
      }
    }
  }
}
