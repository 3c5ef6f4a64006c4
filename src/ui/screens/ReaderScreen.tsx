import { useEffect, useState } from "react";
import type { Lesson } from "../../course/schema.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { useKeys } from "../hooks/use-keys.js";
import { prefetchMarkdown, useMarkdownLines } from "../hooks/use-markdown.js";
import type { Route } from "../route.js";
import { clamp } from "../text.js";
import { useTheme } from "../theme.js";
import { READER_CHROME_LINES, ReaderView } from "./ReaderView.js";

export interface ReaderScreenProps {
  lesson: Lesson;
  progress: ProgressStore;
  page: number;
  width: number;
  height: number;
  isActive: boolean;
  onNavigate: (route: Route) => void;
  onBack: () => void;
  onError: (message: string) => void;
}

/** The width lesson pages are wrapped at: they are written for 76 columns. */
export function pageWidth(width: number): number {
  return Math.min(width - 4, 100);
}

function codeMarkdown(file: { name: string; code: string }): string {
  const longest = Math.max(2, ...[...file.code.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}python\n${file.code.replace(/\s+$/, "")}\n${fence}\n`;
}

type Mode = { kind: "pages" } | { kind: "code"; file: number };

export function ReaderScreen({
  lesson,
  progress,
  page: requestedPage,
  width,
  height,
  isActive,
  onNavigate,
  onBack,
  onError,
}: ReaderScreenProps) {
  const theme = useTheme();
  const pageCount = lesson.pages.length;
  const page = clamp(requestedPage, 0, pageCount - 1);
  const [mode, setMode] = useState<Mode>({ kind: "pages" });
  const file = mode.kind === "code" ? lesson.python[mode.file] : undefined;
  const md = file ? codeMarkdown(file) : (lesson.pages[page] ?? "");
  // Code blocks are indented by two columns already, so a file gets the whole width.
  const contentWidth = file ? width : pageWidth(width);
  const lines = useMarkdownLines(md, contentWidth, theme.color);
  const viewHeight = height - STATUS_BAR_LINES;
  const bodyHeight = Math.max(1, viewHeight - READER_CHROME_LINES);
  const maxOffset = Math.max(0, (lines?.length ?? 0) - bodyHeight);

  const viewKey = file ? `code:${file.name}` : `page:${page}`;
  const [scroll, setScroll] = useState({ key: viewKey, offset: 0 });
  const offset = scroll.key === viewKey ? clamp(scroll.offset, 0, maxOffset) : 0;
  const scrollTo = (value: number) =>
    setScroll({ key: viewKey, offset: clamp(value, 0, maxOffset) });

  useEffect(() => {
    if (mode.kind !== "pages") return;
    try {
      progress.markPageRead(lesson.id, page, pageCount);
    } catch (err) {
      onError(`Could not save your progress: ${err instanceof Error ? err.message : String(err)}`);
    }
    const next = lesson.pages[page + 1];
    if (next !== undefined) prefetchMarkdown(next, contentWidth, theme.color);
  }, [progress, lesson, page, pageCount, mode.kind, contentWidth, theme.color, onError]);

  const isLast = page === pageCount - 1;
  const turn = (delta: number) => {
    if (mode.kind === "code") {
      const count = lesson.python.length;
      setMode({ kind: "code", file: (mode.file + delta + count) % count });
      return;
    }
    const next = clamp(page + delta, 0, pageCount - 1);
    if (next !== page) onNavigate({ screen: "reader", lessonId: lesson.id, page: next });
  };

  const state = mode.kind === "code" ? "code" : isLast ? "last" : "page";
  useKeys(
    "reader",
    ({ action }) => {
      switch (action) {
        case "up":
          scrollTo(offset - 1);
          break;
        case "down":
          scrollTo(offset + 1);
          break;
        case "pageUp":
          scrollTo(offset - (bodyHeight - 1));
          break;
        case "pageDown":
          if (offset >= maxOffset && !(mode.kind === "pages" && isLast)) turn(1);
          else scrollTo(offset + (bodyHeight - 1));
          break;
        case "next":
          turn(1);
          break;
        case "prev":
          turn(-1);
          break;
        case "code":
          if (mode.kind === "code") setMode({ kind: "pages" });
          else if (lesson.python.length > 0) setMode({ kind: "code", file: 0 });
          break;
        case "lab":
          onNavigate({ screen: "lab", lessonId: lesson.id });
          break;
        case "quiz":
          onNavigate({ screen: "quiz", lessonId: lesson.id });
          break;
        case "back":
          onBack();
          break;
      }
    },
    { isActive, state },
  );

  let hint: string;
  if (file) {
    hint = "c: back to the lesson pages";
    if (lesson.python.length > 1) hint += "   ←→: other files";
  } else if (isLast) hint = "Enter: open the lab";
  else hint = "→ or n: next page";
  if (!file && lesson.python.length > 0 && !isLast) hint += "   c: the Python files";

  return (
    <ScreenFrame scope="reader" state={state} width={width} height={height}>
      <ReaderView
        title={file ? `${lesson.meta.title} · python/${file.name}` : lesson.meta.title}
        position={
          file
            ? `file ${(mode.kind === "code" ? mode.file : 0) + 1} of ${lesson.python.length}`
            : `page ${page + 1} of ${pageCount}`
        }
        lines={lines}
        indent={file ? 0 : 2}
        offset={offset}
        hint={hint}
        width={width}
        height={viewHeight}
      />
    </ScreenFrame>
  );
}
