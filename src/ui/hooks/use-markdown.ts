import { useEffect, useState } from "react";
import { renderMarkdown } from "../../course/markdown.js";
import { wrap } from "../text.js";

const CACHE_SIZE = 64;
const cache = new Map<string, string[]>();
const pending = new Map<string, Promise<string[]>>();

function cacheKey(md: string, width: number, color: boolean): string {
  return `${width}\u0000${color}\u0000${md}`;
}

function render(md: string, width: number, color: boolean): Promise<string[]> {
  const key = cacheKey(md, width, color);
  const cached = cache.get(key);
  if (cached) return Promise.resolve(cached);
  let job = pending.get(key);
  if (!job) {
    job = renderMarkdown(md, width, { color })
      .then((text) => text.split("\n"))
      .catch(() => wrap(md, width))
      .then((lines) => {
        pending.delete(key);
        cache.set(key, lines);
        if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value ?? "");
        return lines;
      });
    pending.set(key, job);
  }
  return job;
}

/** Renders ahead of time, e.g. the next page, so that turning to it shows no blank frame. */
export function prefetchMarkdown(md: string, width: number, color: boolean): void {
  void render(md, width, color);
}

/** The markdown rendered to terminal lines at `width`; undefined while it is being rendered. */
export function useMarkdownLines(md: string, width: number, color: boolean): string[] | undefined {
  const key = cacheKey(md, width, color);
  const [done, setDone] = useState<{ key: string; lines: string[] } | undefined>();
  useEffect(() => {
    let live = true;
    void render(md, width, color).then((lines) => {
      if (live) setDone({ key: cacheKey(md, width, color), lines });
    });
    return () => {
      live = false;
    };
  }, [md, width, color]);
  if (done?.key === key) return done.lines;
  return cache.get(key);
}
