import { useState } from "react";
import type { Lesson } from "../../course/schema.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { useKeys } from "../hooks/use-keys.js";
import { type CreateLabSession, useLabSession } from "../hooks/use-lab-session.js";
import { clamp } from "../text.js";
import { useTheme } from "../theme.js";
import { inspectorRows, type LabPane, LabView } from "./LabView.js";
import { labLayout } from "./lab-layout.js";

export interface LabScreenProps {
  lesson: Lesson;
  progress: ProgressStore;
  createSession: CreateLabSession;
  port?: number;
  host?: string;
  width: number;
  height: number;
  isActive: boolean;
  onBack: () => void;
  onQuiz: () => void;
}

export function LabScreen({
  lesson,
  progress,
  createSession,
  port,
  host,
  width,
  height,
  isActive,
  onBack,
  onQuiz,
}: LabScreenProps) {
  const theme = useTheme();
  const { lab } = lesson;
  const { session, snapshot, flash } = useLabSession(() =>
    createSession({
      lessonId: lesson.id,
      lab,
      lessonDir: lesson.dir,
      progress,
      ...(port !== undefined ? { port } : {}),
      ...(host !== undefined ? { host } : {}),
    }),
  );
  const [focus, setFocus] = useState<LabPane>("inspector");
  // The seq of the newest log line shown while scrolled up; undefined follows the newest line.
  const [logAnchor, setLogAnchor] = useState<number>();
  const [inspector, setInspector] = useState({ result: snapshot.lastResult, offset: 0 });

  const viewHeight = height - STATUS_BAR_LINES;
  const layout = labLayout(viewHeight, lab.experiments.length, snapshot.missions.length);
  const logs = snapshot.logs;
  const maxLogOffset = Math.max(0, logs.length - layout.logLines);
  const anchorIndex = logAnchor === undefined ? -1 : logs.findIndex((l) => l.seq >= logAnchor);
  const logEnd =
    logAnchor === undefined ? logs.length : anchorIndex < 0 ? logs.length : anchorIndex + 1;
  const rows = inspectorRows(lab, snapshot, width, theme);
  const maxInspectorOffset = Math.max(0, rows.length - layout.inspectorLines);
  const inspectorOffset =
    inspector.result === snapshot.lastResult ? clamp(inspector.offset, 0, maxInspectorOffset) : 0;
  const logScroll = clamp(logs.length - logEnd, 0, maxLogOffset);

  const scroll = (delta: number) => {
    if (focus === "log") {
      const offset = clamp(logScroll - delta, 0, maxLogOffset);
      setLogAnchor(offset === 0 ? undefined : logs[logs.length - offset - 1]?.seq);
    } else
      setInspector({
        result: snapshot.lastResult,
        offset: clamp(inspectorOffset + delta, 0, maxInspectorOffset),
      });
  };

  useKeys(
    "lab",
    ({ action, digit }) => {
      switch (action) {
        case "run":
          if (digit !== undefined) void session.runExperiment(digit).catch(() => undefined);
          break;
        case "focus":
          setFocus((f) => (f === "log" ? "inspector" : "log"));
          break;
        case "up":
          scroll(-1);
          break;
        case "down":
          scroll(1);
          break;
        case "pageUp":
          scroll(-(focus === "log" ? layout.logLines : layout.inspectorLines));
          break;
        case "pageDown":
          scroll(focus === "log" ? layout.logLines : layout.inspectorLines);
          break;
        case "bottom":
          setLogAnchor(undefined);
          break;
        case "quiz":
          onQuiz();
          break;
        case "back":
          onBack();
          break;
      }
    },
    { isActive },
  );

  return (
    <ScreenFrame scope="lab" width={width} height={height}>
      <LabView
        title={lesson.meta.title}
        lab={lab}
        snapshot={snapshot}
        curl={session.curlCommand()}
        flash={flash}
        focus={focus}
        logOffset={logScroll}
        inspector={rows}
        inspectorOffset={inspectorOffset}
        layout={layout}
        width={width}
        height={viewHeight}
      />
    </ScreenFrame>
  );
}
