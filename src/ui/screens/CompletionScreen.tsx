import { useCallback, useEffect, useState } from "react";
import type { LoadedCourse } from "../../course/schema.js";
import {
  completionMarkdown,
  courseResults,
  defaultSummaryPath,
  writeCompletionSummary,
} from "../../progress/completion.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { useKeys } from "../hooks/use-keys.js";
import { clamp } from "../text.js";
import { useTheme } from "../theme.js";
import { completionLines, type SummaryFile } from "./CompletionView.js";
import { QUIZ_CHROME_LINES, QuizView } from "./QuizView.js";

export interface CompletionScreenProps {
  course: LoadedCourse;
  progress: ProgressStore;
  width: number;
  height: number;
  isActive: boolean;
  onBack: () => void;
}

function errorCode(error: unknown): string {
  return (
    (error as NodeJS.ErrnoException).code ??
    (error instanceof Error ? error.message : String(error))
  );
}

/**
 * Scores per lesson and exam, missions, time spent; writes the Markdown summary beside the
 * progress file each time it opens (and again on w), and shows where.
 */
export function CompletionScreen({
  course,
  progress,
  width,
  height,
  isActive,
  onBack,
}: CompletionScreenProps) {
  const theme = useTheme();
  const [file, setFile] = useState<SummaryFile>();
  const [writes, setWrites] = useState(0);
  const [scroll, setScroll] = useState(0);

  const write = useCallback(() => {
    const path = defaultSummaryPath(progress);
    try {
      const markdown = completionMarkdown(courseResults(course, progress));
      setFile({ path: writeCompletionSummary(markdown, path) });
      setWrites((n) => n + 1);
    } catch (err) {
      setFile({
        error: `Your summary could not be written to ${path} (${errorCode(err)}). Write it elsewhere with: learn-webservers progress --summary FILE`,
      });
    }
  }, [course, progress]);
  useEffect(() => {
    write();
  }, [write]);

  const results = courseResults(course, progress);
  const viewHeight = height - STATUS_BAR_LINES;
  const lines = completionLines(results, file, width - 4, theme);
  const bodyHeight = Math.max(1, viewHeight - QUIZ_CHROME_LINES);
  const maxScroll = Math.max(0, lines.length - bodyHeight);
  const shown = Math.min(scroll, maxScroll);

  useKeys(
    "completion",
    ({ action }) => {
      const by = (delta: number) => setScroll(clamp(shown + delta, 0, maxScroll));
      if (action === "up") by(-1);
      else if (action === "down") by(1);
      else if (action === "pageUp") by(-bodyHeight);
      else if (action === "pageDown") by(bodyHeight);
      else if (action === "write") write();
      else if (action === "back") onBack();
    },
    { isActive },
  );

  const saved =
    file && "path" in file ? (writes > 1 ? "summary written again" : "summary saved") : "";
  return (
    <ScreenFrame scope="completion" width={width} height={height}>
      <QuizView
        title={`${results.complete ? "Course complete" : "Your progress"} · ${course.course.title}`}
        position={saved}
        lines={lines}
        scroll={shown}
        footer="Esc: back to the course map   w: write the summary again"
        width={width}
        height={viewHeight}
      />
    </ScreenFrame>
  );
}
