import { join } from "node:path";
import { useStdin, useStdout } from "ink";
import { useEffect, useRef, useState } from "react";
import type { Experiment, Lesson } from "../../course/schema.js";
import type { LabSessionSnapshot } from "../../lab/types.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { openInEditor } from "../editor.js";
import { useKeys } from "../hooks/use-keys.js";
import { type CreateLabSession, FLASH_MS, useLabSession } from "../hooks/use-lab-session.js";
import { clamp, wrap } from "../text.js";
import { type Theme, useTheme } from "../theme.js";
import {
  experimentsNeed,
  type InspectorRow,
  inspectorRows,
  type LabMessage,
  type LabPane,
  LabView,
  type LabZoom,
  labHeadRows,
  missionPageRows,
  missionRowsWanted,
} from "./LabView.js";
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

/** The question and its numbered choices, shown where the inspector is. */
export function predictionQuestionRows(
  exp: Experiment,
  width: number,
  theme: Theme,
): InspectorRow[] {
  const predict = exp.predict;
  if (!predict) return [];
  const rows: InspectorRow[] = wrap(predict.prompt, width).map((left) => ({ left, bold: true }));
  rows.push({ left: "" });
  for (const [i, choice] of predict.choices.entries())
    rows.push(...wrap(`${i + 1}  ${choice}`, width).map((left) => ({ left, color: theme.ui.key })));
  rows.push({ left: "" });
  rows.push(
    ...wrap(
      "Then the experiment runs, and its result shows what happened beside your guess.",
      width,
    ).map((left) => ({ left, color: theme.text.secondary })),
  );
  return rows;
}

/** The clock the live view is drawn with: fast while something runs, slow when idle. */
function fastClock(snapshot: LabSessionSnapshot): boolean {
  const restarting = snapshot.reloads?.rows.at(-1)?.state;
  return (
    (snapshot.workers?.stats.busy ?? 0) > 0 ||
    // An event loop is watched for silence (a block), which no event announces.
    snapshot.loop?.delay !== undefined ||
    snapshot.running !== undefined ||
    restarting === "detecting" ||
    restarting === "restarting"
  );
}

function useClock(active: boolean, fast: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), fast ? CLOCK_FAST_MS : CLOCK_SLOW_MS);
    return () => clearInterval(timer);
  }, [active, fast]);
  return active ? now : Date.now();
}

const CLOCK_FAST_MS = 200;
const CLOCK_SLOW_MS = 1_000;

export const RESET_QUESTION = "Reset the workspace files? Your edits will be lost. y/n";

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
      python: lesson.python,
      progress,
      ...(port !== undefined ? { port } : {}),
      ...(host !== undefined ? { host } : {}),
    }),
  );
  const hasView =
    snapshot.workers !== undefined ||
    snapshot.reloads !== undefined ||
    snapshot.loop !== undefined ||
    snapshot.proxy !== undefined;
  const [focus, setFocus] = useState<LabPane>(hasView ? "view" : "inspector");
  // What the place below the log showed last, when the live view and the inspector share it.
  const [below, setBelow] = useState<"view" | "inspector">("view");
  const [predicting, setPredicting] = useState<Experiment>();
  const now = useClock(hasView && isActive && snapshot.state === "listening", fastClock(snapshot));
  const [zoom, setZoom] = useState<LabZoom>();
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<LabMessage>();
  const messageTimer = useRef<NodeJS.Timeout | undefined>(undefined);
  useEffect(() => () => clearTimeout(messageTimer.current), []);
  const say = (next: LabMessage) => {
    setMessage(next);
    clearTimeout(messageTimer.current);
    messageTimer.current = setTimeout(() => setMessage(undefined), FLASH_MS);
  };
  // The seq of the newest log line shown while scrolled up; undefined follows the newest line.
  const [logAnchor, setLogAnchor] = useState<number>();
  const [inspector, setInspector] = useState({ result: snapshot.lastResult, offset: 0 });
  const [missionScroll, setMissionScroll] = useState(0);
  // Every experiment run during this visit, with whether it went well the last time.
  const [ran, setRan] = useState<ReadonlyMap<string, boolean>>(() => new Map());
  const lastResult = snapshot.lastResult;
  useEffect(() => {
    if (lastResult) setRan((before) => new Map(before).set(lastResult.experimentId, lastResult.ok));
  }, [lastResult]);
  const curl = session.curlCommand();
  const head = labHeadRows(lab, snapshot, curl, width, theme);

  const viewHeight = height - STATUS_BAR_LINES;
  const layout = labLayout({
    height: viewHeight,
    width,
    experiments: lab.experiments.length,
    experimentsNeed: experimentsNeed(lab, theme),
    missions: snapshot.missions.length,
    missionRows: missionRowsWanted(snapshot.missions, theme),
    headLines: head.length,
    view: hasView,
  });
  // A question for a prediction is shown over the whole lab, so every choice fits.
  const shownZoom: LabZoom | undefined = predicting ? "inspector" : zoom;
  const zoomedOn = (pane: LabZoom) => shownZoom === pane;
  const logLines = zoomedOn("log") ? layout.zoomLines : layout.logLines;
  const inspectorLines = zoomedOn("inspector") ? layout.zoomLines : layout.inspectorLines;
  const logs = snapshot.logs;
  const maxLogOffset = Math.max(0, logs.length - logLines);
  const anchorIndex = logAnchor === undefined ? -1 : logs.findIndex((l) => l.seq >= logAnchor);
  const logEnd =
    logAnchor === undefined ? logs.length : anchorIndex < 0 ? logs.length : anchorIndex + 1;
  const rows = predicting
    ? predictionQuestionRows(predicting, width, theme)
    : inspectorRows(lab, snapshot, width, theme);
  const maxInspectorOffset = Math.max(0, rows.length - inspectorLines);
  const inspectorOffset =
    inspector.result === snapshot.lastResult ? clamp(inspector.offset, 0, maxInspectorOffset) : 0;
  const logScroll = clamp(logs.length - logEnd, 0, maxLogOffset);
  const missionPage = zoomedOn("missions") ? missionPageRows(snapshot.missions, width, theme) : [];
  const maxMissionOffset = Math.max(0, missionPage.length - layout.zoomLines);
  const missionOffset = clamp(missionScroll, 0, maxMissionOffset);

  /** The lines one page of scrolling moves in what is scrolled now. */
  const pageLines =
    zoom === "missions" ? layout.zoomLines : focus === "log" ? logLines : inspectorLines;
  const scroll = (delta: number) => {
    if (zoom === "missions") {
      setMissionScroll(clamp(missionOffset + delta, 0, maxMissionOffset));
    } else if (focus === "log") {
      const offset = clamp(logScroll - delta, 0, maxLogOffset);
      setLogAnchor(offset === 0 ? undefined : logs[logs.length - offset - 1]?.seq);
    } else
      setInspector({
        result: snapshot.lastResult,
        offset: clamp(inspectorOffset + delta, 0, maxInspectorOffset),
      });
  };

  const reset = () => {
    if (session.resetWorkspace()) {
      say({
        text: `${theme.symbols.correct} The workspace has the lab's original files again.`,
        color: theme.status.success,
      });
    } else {
      say({
        text: `${theme.symbols.wrong} Could not reset the workspace; the log says why.`,
        color: theme.status.error,
      });
    }
  };

  const { stdin } = useStdin();
  const { stdout } = useStdout();
  const edit = () => {
    const workspace = snapshot.workspace;
    if (!lab.edit || !workspace) {
      say({
        text: "This lab has no file of its own to edit; the Files row says where its files are.",
      });
      return;
    }
    const outcome = openInEditor(join(workspace, lab.edit), { stdin, stdout });
    say({
      text: `${outcome.ok ? theme.symbols.correct : theme.symbols.wrong} ${outcome.message}`,
      color: outcome.ok ? theme.status.success : theme.status.error,
    });
  };

  const run = (key: number, guess?: number) => {
    // The experiment's progress and result take the notice line from an older message.
    clearTimeout(messageTimer.current);
    setMessage(undefined);
    void session.runExperiment(key, guess).catch(() => undefined);
  };

  const focusOrder: LabPane[] = hasView ? ["view", "inspector", "log"] : ["inspector", "log"];
  const serverDown = snapshot.state === "stopped" || snapshot.state === "failed";
  const state = confirming
    ? "confirm"
    : predicting
      ? "predict"
      : zoom
        ? "zoomed"
        : serverDown
          ? "stopped"
          : "overview";
  useKeys(
    "lab",
    ({ action, digit }) => {
      if (predicting) {
        const asked = predicting;
        if (action === "choose" && digit !== undefined && asked.predict) {
          if (digit > asked.predict.choices.length) return;
          setPredicting(undefined);
          run(asked.key, digit - 1);
          return;
        }
        if (action === "cancel") {
          setPredicting(undefined);
          say({ text: `No prediction, so experiment ${asked.key} did not run.` });
        }
        return;
      }
      if (confirming) {
        setConfirming(false);
        if (action === "confirm") {
          reset();
          return;
        }
        if (action === "cancel") {
          say({ text: "Nothing reset: the workspace files are as they were." });
          return;
        }
      }
      switch (action) {
        case "run": {
          if (digit === undefined) break;
          const exp = lab.experiments.find((e) => e.key === digit);
          if (exp?.predict && snapshot.state === "listening") {
            setPredicting(exp);
            setInspector({ result: snapshot.lastResult, offset: 0 });
            break;
          }
          run(digit);
          break;
        }
        case "edit":
          edit();
          break;
        case "start":
          say({ text: "Starting the server again…" });
          void session.start().catch(() => undefined);
          break;
        case "focus": {
          const next = focusOrder[(focusOrder.indexOf(focus) + 1) % focusOrder.length] ?? "log";
          setFocus(next);
          if (next !== "log") setBelow(next);
          // A zoomed pane follows the focus; the missions page stays.
          if (zoom !== undefined && zoom !== "missions") setZoom(next);
          break;
        }
        case "zoom":
          setZoom(zoom === undefined ? focus : undefined);
          break;
        case "missions":
          setZoom(zoom === "missions" ? undefined : "missions");
          setMissionScroll(0);
          break;
        case "unzoom":
          setZoom(undefined);
          break;
        case "up":
          scroll(-1);
          break;
        case "down":
          scroll(1);
          break;
        case "pageUp":
          scroll(-pageLines);
          break;
        case "pageDown":
          scroll(pageLines);
          break;
        case "bottom":
          setLogAnchor(undefined);
          break;
        case "reset":
          setConfirming(true);
          break;
        case "quiz":
          onQuiz();
          break;
        case "back":
          onBack();
          break;
      }
    },
    { isActive, state },
  );

  return (
    <ScreenFrame
      scope="lab"
      state={state}
      digits={
        predicting?.predict
          ? predicting.predict.choices.length
          : snapshot.state === "failed"
            ? 0
            : Math.max(...lab.experiments.map((e) => e.key))
      }
      width={width}
      height={height}
    >
      <LabView
        title={lesson.meta.title}
        lab={lab}
        snapshot={snapshot}
        curl={curl}
        ran={ran}
        flash={flash}
        question={
          confirming
            ? RESET_QUESTION
            : predicting?.predict
              ? `Predict first: press 1-${predicting.predict.choices.length} (Esc: no prediction, no run)`
              : undefined
        }
        message={message}
        focus={focus}
        zoom={shownZoom}
        logOffset={logScroll}
        inspector={rows}
        inspectorOffset={inspectorOffset}
        missionPage={missionPage}
        missionPageOffset={missionOffset}
        below={focus === "log" ? below : focus}
        inspectorTitle={predicting ? `Predict: ${predicting.key} ${predicting.title}` : undefined}
        now={now}
        layout={layout}
        width={width}
        height={viewHeight}
      />
    </ScreenFrame>
  );
}
