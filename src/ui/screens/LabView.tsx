import { Box, Text } from "ink";
import type { ReactNode } from "react";
import type { Experiment, Lab } from "../../course/schema.js";
import { withAddress } from "../../lab/address.js";
import type { LoopView } from "../../lab/loop.js";
import { optionWords } from "../../lab/options.js";
import { type ProxyView, pathLine, upstreamsLine } from "../../lab/proxy.js";
import type {
  Exchange,
  ExperimentResult,
  LabSessionSnapshot,
  LogLine,
  MissionStatus,
  ReloadsView,
  WorkersView,
} from "../../lab/types.js";
import { Header } from "../components/Header.js";
import { LoopPanel } from "../components/LoopPanel.js";
import { ReloadTimeline } from "../components/ReloadTimeline.js";
import { Rule } from "../components/Rule.js";
import { Timeline } from "../components/Timeline.js";
import { WorkerTable } from "../components/WorkerTable.js";
import { numbered, padTo, plural, printable, printableLines, truncate, wrap } from "../text.js";
import { type Theme, useTheme } from "../theme.js";
import { LAB_COLUMN_GAP, type LabLayout } from "./lab-layout.js";

/**
 * "view" is the sandbox's live view: the workers of `prefork`, the reloads of `dev-reload`, the
 * event loop of `async`.
 */
export type LabPane = "log" | "inspector" | "view";
/** What is shown over the whole lab: a pane, or every mission with its hint. */
export type LabZoom = LabPane | "missions";

export interface InspectorRow {
  left: string;
  /** Present for a request/response pair shown side by side. */
  right?: string;
  color?: string;
  bold?: boolean;
}

/** A line for the notice row that the screen itself sets (a question, or the answer to one). */
export interface LabMessage {
  text: string;
  color?: string;
  bold?: boolean;
}

const LABEL_WIDTH = 8;
const BAR_WIDTH = 20;
const ALL_MET = "All missions met. Press t to take the quiz.";
/** Indent of request and response lines when they are shown one above the other. */
const EXCHANGE_INDENT = "  ";

function experimentTitle(lab: Lab, id: string | undefined): string {
  const exp = lab.experiments.find((e) => e.id === id);
  return exp ? `${exp.key} ${exp.title}` : (id ?? "");
}

/** `[█████░░░░░] 3/10`; without the count when a label beside it says it in words. */
export function progressBar(done: number, total: number, theme: Theme, counted = true): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * BAR_WIDTH) : 0;
  const bar = `[${theme.symbols.barFull.repeat(filled)}${theme.symbols.barEmpty.repeat(BAR_WIDTH - filled)}]`;
  return counted ? `${bar} ${done}/${total}` : bar;
}

function markWidth(theme: Theme): number {
  const { running, correct, wrong } = theme.symbols;
  return Math.max(running.length, correct.length, wrong.length);
}

/** Columns the experiments column needs to show every title in full, with its mark. */
export function experimentsNeed(lab: Lab, theme: Theme): number {
  const longest = Math.max(0, ...lab.experiments.map((e) => `${e.key} ${e.title}`.length));
  return longest + 1 + markWidth(theme);
}

/** Rows a hint below the missions may take, when the room is there. */
const MAX_HINT_LINES = 6;

function missionCount(m: MissionStatus): string {
  return m.needed > 1 ? ` ${Math.min(m.progress, m.needed)}/${m.needed}` : "";
}

/** A mission's title wrapped beside its mark, leaving room for its count on the last line. */
function missionTitleLines(m: MissionStatus, width: number, theme: Theme): string[] {
  const mark = m.met ? theme.symbols.met : theme.symbols.unmet;
  const room = Math.max(1, width - mark.length - 1);
  // The widest count it can have, so that the wrapping does not change as progress is made.
  const count = m.needed > 1 ? ` ${m.needed}/${m.needed}` : "";
  return wrap(m.title, Math.max(1, room - count.length));
}

/**
 * Rows the missions column would like at `width`: a row per mission, the next one's whole title
 * and its hint below (for whichever mission is next), or the line that suggests the quiz.
 */
export function missionRowsWanted(
  missions: readonly MissionStatus[],
  theme: Theme,
): (width: number) => number {
  return (width) => {
    let most = missions.length + wrap(ALL_MET, width).length;
    for (const m of missions) {
      const title = missionTitleLines({ ...m, met: false }, width, theme).length;
      const hint = Math.min(MAX_HINT_LINES, wrap(`Hint: ${m.hint}`, width).length);
      most = Math.max(most, missions.length + title - 1 + hint);
    }
    return most;
  };
}

/** Every mission in full, with the hint of each one not met yet: the page `m` shows. */
export function missionPageRows(
  missions: readonly MissionStatus[],
  width: number,
  theme: Theme,
): InspectorRow[] {
  const next = missions.find((m) => !m.met);
  const rows: InspectorRow[] = [];
  for (const m of missions) {
    const mark = m.met ? theme.symbols.met : theme.symbols.unmet;
    const indent = " ".repeat(mark.length + 1);
    const title = wrap(`${m.title}${missionCount(m)}`, Math.max(1, width - indent.length));
    const color = m.met ? theme.status.success : m === next ? theme.text.accent : undefined;
    for (const [i, line] of title.entries())
      rows.push({ left: `${i === 0 ? `${mark} ` : indent}${line}`, color, bold: m === next });
    if (!m.met) {
      for (const line of wrap(`Hint: ${m.hint}`, Math.max(1, width - indent.length)))
        rows.push({ left: `${indent}${line}`, color: theme.text.secondary });
    }
    rows.push({ left: "" });
  }
  if (missions.length > 0 && !next)
    rows.push({ left: ALL_MET, color: theme.status.success, bold: true });
  while (rows.at(-1)?.left === "") rows.pop();
  return rows;
}

/** Request and response side by side when every line fits its half, else one above the other. */
function exchangeRows(exchange: Exchange, width: number, theme: Theme): InspectorRow[] {
  const request = printableLines(exchange.request);
  const response = printableLines(exchange.response);
  const half = inspectorColumnWidth(width);
  const label = theme.text.secondary;
  if ([...request, ...response].every((line) => line.length <= half)) {
    const rows: InspectorRow[] = [{ left: "Sent:", right: "Received:", color: label }];
    for (let i = 0; i < Math.max(request.length, response.length, 1); i++) {
      rows.push({
        left: request[i] ?? (i === 0 ? "(nothing)" : ""),
        right: response[i] ?? (i === 0 ? "(nothing)" : ""),
      });
    }
    return rows;
  }
  const block = (lines: string[]): InspectorRow[] =>
    lines.length === 0
      ? [{ left: `${EXCHANGE_INDENT}(nothing)`, color: label }]
      : lines.map((line) => ({ left: line === "" ? "" : `${EXCHANGE_INDENT}${line}` }));
  return [
    { left: "Sent:", color: label },
    ...block(request),
    { left: "" },
    { left: "Received:", color: label },
    ...block(response),
  ];
}

export function inspectorColumnWidth(width: number): number {
  return Math.floor((width - 3) / 2);
}

/**
 * What the inspector shows: before any experiment, the lab's introduction; after one, what it
 * teaches (its `explain`), its result, then the request and response or the values it measured.
 */
export function inspectorRows(
  lab: Lab,
  snapshot: LabSessionSnapshot,
  width: number,
  theme: Theme,
): InspectorRow[] {
  const result = snapshot.lastResult;
  if (snapshot.state === "failed") {
    const rows = failedRows(lab, snapshot, width, theme);
    return result
      ? [...rows, { left: "" }, ...resultRows(lab, snapshot, result, width, theme)]
      : rows;
  }
  if (!result) {
    const keys = lab.experiments.map((e) => e.key);
    return [
      ...wrap(withAddress(lab.intro, snapshot.host, snapshot.port), width).map((left) => ({
        left,
      })),
      { left: "" },
      ...wrap(
        `Press ${Math.min(...keys)}-${Math.max(...keys)} to run an experiment; what it shows, its request and its response appear here.`,
        width,
      ).map((left) => ({ left, color: theme.text.secondary })),
    ];
  }
  return resultRows(lab, snapshot, result, width, theme);
}

/** What to do when the sandbox could not start or stopped: the way out, the hint, what happened. */
function failedRows(
  lab: Lab,
  snapshot: LabSessionSnapshot,
  width: number,
  theme: Theme,
): InspectorRow[] {
  const error = snapshot.error;
  const rows: InspectorRow[] = wrap(
    "Deal with the problem above, then press s to start the server again (or Esc to go back to the course map).",
    width,
  ).map((left) => ({ left, bold: true }));
  if (error?.hint) {
    rows.push({ left: "" });
    rows.push(...wrap(error.hint, width).map((left) => ({ left, color: theme.status.warning })));
  }
  rows.push({ left: "" });
  rows.push(
    ...wrap(
      `${theme.symbols.wrong} The ${lab.sandbox} sandbox is not running: ${error?.message ?? "it stopped"}`,
      width,
    ).map((left) => ({ left, color: theme.status.error })),
  );
  return rows;
}

/** An experiment's result: what it teaches, the outcome, then the exchange or the values. */
function resultRows(
  lab: Lab,
  snapshot: LabSessionSnapshot,
  result: ExperimentResult,
  width: number,
  theme: Theme,
): InspectorRow[] {
  const rows: InspectorRow[] = [];
  const exp = lab.experiments.find((e) => e.id === result.experimentId);
  if (exp) {
    const explain = withAddress(exp.explain, snapshot.host, snapshot.port);
    rows.push(...wrap(explain, width).map((left) => ({ left })), { left: "" });
  }
  const mark = result.ok ? theme.symbols.correct : theme.symbols.wrong;
  const color = result.ok ? theme.status.success : theme.status.error;
  if (result.prediction)
    rows.push(...predictionRows(result.prediction, width, theme), { left: "" });
  rows.push(...wrap(`${mark} ${result.summary}`, width).map((left) => ({ left, color })));
  const exchange = result.exchange;
  if (exchange?.note)
    rows.push(...wrap(exchange.note, width).map((left) => ({ left, color: theme.text.secondary })));
  if (exchange) {
    rows.push({ left: "" }, ...exchangeRows(exchange, width, theme));
    return rows;
  }
  for (const [key, value] of Object.entries(result.values))
    rows.push({ left: `${key}: ${String(value)}`, color: theme.text.secondary });
  return rows;
}

/** "You predicted 3 s. The answer: 2 s." with the question, for the inspector. */
function predictionRows(
  prediction: NonNullable<ExperimentResult["prediction"]>,
  width: number,
  theme: Theme,
): InspectorRow[] {
  const verdict = prediction.correct
    ? `${theme.symbols.correct} You predicted ${prediction.chosen}: right.`
    : `${theme.symbols.wrong} You predicted ${prediction.chosen}; the answer is ${prediction.answer}.`;
  return [
    ...wrap(`Prediction: ${prediction.prompt}`, width).map((left) => ({
      left,
      color: theme.text.secondary,
    })),
    ...wrap(verdict, width).map((left) => ({
      left,
      color: prediction.correct ? theme.status.success : theme.status.warning,
      bold: true,
    })),
  ];
}

/** The short form for the notice line. */
export function predictionVerdict(
  prediction: NonNullable<ExperimentResult["prediction"]>,
  theme: Theme,
): string {
  return prediction.correct
    ? `${theme.symbols.correct} predicted ${prediction.chosen}, right`
    : `${theme.symbols.wrong} predicted ${prediction.chosen}, it was ${prediction.answer}`;
}

/** The newest reload when it failed: the app does not load until the file is fixed. */
function brokenReload(snapshot: LabSessionSnapshot) {
  const last = snapshot.reloads?.rows.at(-1);
  return last?.state === "failed" ? last : undefined;
}

function stateBadge(snapshot: LabSessionSnapshot, theme: Theme): { text: string; color?: string } {
  switch (snapshot.state) {
    case "listening":
      return brokenReload(snapshot)
        ? { text: `${theme.symbols.wrong} app failed to load`, color: theme.status.error }
        : { text: "● listening", color: theme.status.success };
    case "starting":
      return { text: "◌ starting", color: theme.status.warning };
    case "stopping":
      return { text: "◌ stopping", color: theme.status.warning };
    case "failed":
      return { text: `${theme.symbols.wrong} failed`, color: theme.status.error };
    default:
      return { text: "■ stopped", color: theme.text.secondary };
  }
}

/** A row of the lab's head: a label ("Server", "Files", …) or "" below a wrapped one. */
export interface HeadRow {
  label: string;
  text: string;
  color?: string;
}

/** Lines the message and the hint of a failed sandbox may each take. */
const MAX_FAILED_LINES = 4;

/** "threading on, workers 2": the options the sandbox runs with now. */
function wrappedRows(label: string, text: string, width: number, color?: string): HeadRow[] {
  const room = Math.max(1, width - LABEL_WIDTH);
  return clip(wrap(text, room), room, MAX_FAILED_LINES).map((line, i) => ({
    label: i === 0 ? label : "",
    text: line,
    color,
  }));
}

/**
 * The rows above the notice line: the server's state, where the files are and the curl command
 * to try; when the sandbox failed, what happened and the hint, each wrapped in full instead.
 */
export function labHeadRows(
  lab: Lab,
  snapshot: LabSessionSnapshot,
  curl: string | undefined,
  width: number,
  theme: Theme,
): HeadRow[] {
  if (snapshot.state === "failed") {
    const rows = wrappedRows(
      "Server",
      `failed: ${snapshot.error?.message ?? "the sandbox stopped"}`,
      width,
      theme.status.error,
    );
    if (snapshot.error?.hint)
      rows.push(...wrappedRows("Hint", snapshot.error.hint, width, theme.status.warning));
    return rows;
  }
  let server: HeadRow;
  switch (snapshot.state) {
    case "listening": {
      const details = [
        ...(snapshot.pid ? [`pid ${snapshot.pid}`] : []),
        ...(Object.keys(snapshot.options).length > 0 ? [optionWords(snapshot.options)] : []),
      ];
      const broken = brokenReload(snapshot);
      server = broken
        ? {
            label: "Server",
            text: `${snapshot.url ?? "?"}: the app failed to load (${printable(broken.error ?? "an error")}); fix ${printable(broken.file)} and save`,
            color: theme.status.error,
          }
        : {
            label: "Server",
            text: `listening on ${snapshot.url ?? "?"}${details.length > 0 ? `  (${details.join(", ")})` : ""}`,
          };
      break;
    }
    case "starting":
      server = {
        label: "Server",
        text: `starting the ${lab.sandbox} sandbox…`,
        color: theme.status.warning,
      };
      break;
    default:
      server = {
        label: "Server",
        text:
          snapshot.state === "stopping"
            ? "stopping…"
            : snapshot.error
              ? `stopped: ${snapshot.error.message}${snapshot.error.hint ? ` ${snapshot.error.hint}` : ""}`
              : "stopped",
        color: theme.text.secondary,
      };
  }
  let files: HeadRow;
  if (snapshot.workspace) {
    const note = "  (edit them in your own editor)";
    // The folder matters more than the note: the note goes when both don't fit.
    const fits = LABEL_WIDTH + snapshot.workspace.length + note.length <= width;
    files = { label: "Files", text: `${snapshot.workspace}${fits ? note : ""}` };
  } else {
    files = {
      label: "Files",
      text: snapshot.state === "starting" ? "preparing your copy of the lab's files…" : "none",
      color: theme.text.secondary,
    };
  }
  const tryRow: HeadRow = curl
    ? { label: "Try", text: curl, color: theme.text.code }
    : {
        label: "Try",
        text: "the curl command appears once the server listens",
        color: theme.text.secondary,
      };
  return [server, files, tryRow];
}

export interface LabViewProps {
  title: string;
  lab: Lab;
  snapshot: LabSessionSnapshot;
  curl?: string;
  /** Experiments run during this visit, with whether each went well the last time. */
  ran?: ReadonlyMap<string, boolean>;
  /** A mission just met, shown for a few seconds. */
  flash?: string;
  /** A question waiting for y/n; shown above everything else on the notice line. */
  question?: string;
  /** The answer to something the learner did on this screen (e.g. the workspace was reset). */
  message?: LabMessage;
  focus: LabPane;
  /** What is shown over the whole lab, if anything. */
  zoom?: LabZoom;
  /** What the inspector shows, from `inspectorRows`. */
  inspector: InspectorRow[];
  /** The missions page, from `missionPageRows`; shown when `zoom` is "missions". */
  missionPage?: InspectorRow[];
  missionPageOffset?: number;
  /** The inspector's title when the screen puts something of its own there (a question). */
  inspectorTitle?: string;
  /** Which of the two takes the place below the log when they share it (`layout.shared`). */
  below?: "view" | "inspector";
  /** The time the worker table and the timeline are drawn at. */
  now?: number;
  /** Log lines scrolled up from the newest. */
  logOffset: number;
  inspectorOffset: number;
  layout: LabLayout;
  width: number;
  height: number;
}

function Labelled({ label, children, color }: { label: string; children: string; color?: string }) {
  const theme = useTheme();
  return (
    <Text wrap="truncate-end">
      <Text color={theme.text.secondary}>{padTo(label, LABEL_WIDTH)}</Text>
      <Text color={color}>{children}</Text>
    </Text>
  );
}

/**
 * An experiment with its mark: running, or how it went the last time it ran during this visit.
 * The one the inspector shows is bold; while the server is down the keys are dimmed.
 */
function experimentRow(
  exp: Experiment,
  snapshot: LabSessionSnapshot,
  ran: ReadonlyMap<string, boolean>,
  width: number,
  theme: Theme,
) {
  const { running, correct, wrong } = theme.symbols;
  let mark = "";
  let color: string | undefined;
  const ok =
    snapshot.lastResult?.experimentId === exp.id ? snapshot.lastResult.ok : ran.get(exp.id);
  if (snapshot.running?.experimentId === exp.id) {
    mark = running;
    color = theme.status.info;
  } else if (ok !== undefined) {
    mark = ok ? correct : wrong;
    color = ok ? theme.status.success : theme.status.error;
  }
  const isLast = snapshot.lastResult?.experimentId === exp.id;
  const marks = markWidth(theme);
  const titleWidth = Math.max(1, width - String(exp.key).length - marks - 2);
  return (
    <Text key={exp.id} wrap="truncate-end">
      <Text bold color={snapshot.state === "failed" ? theme.text.secondary : theme.ui.key}>
        {exp.key}
      </Text>
      <Text bold={isLast}>{` ${padTo(exp.title, titleWidth)} `}</Text>
      <Text color={color} bold={isLast}>
        {mark.padEnd(marks)}
      </Text>
    </Text>
  );
}

/** Keeps `rows` of `lines`, the last one ending in "…" when some were left out. */
function clip(lines: string[], width: number, rows: number): string[] {
  if (rows <= 0) return [];
  if (lines.length <= rows) return lines;
  const kept = lines.slice(0, rows);
  const last = kept[rows - 1] ?? "";
  kept[rows - 1] = last.length < width ? `${last}…` : truncate(last, width);
  return kept;
}

/**
 * The missions column: a row per mission (the next one's title wrapped in full when there is
 * room), then the next mission's hint, or the suggestion to take the quiz, in the rows left.
 */
function missionColumn(
  missions: readonly MissionStatus[],
  width: number,
  rows: number,
  theme: Theme,
): ReactNode[] {
  const allMet = missions.length > 0 && missions.every((m) => m.met);
  const next = missions.find((m) => !m.met);
  const cap = missions.length > rows ? Math.max(0, rows - 1) : rows;
  const shown = missions.slice(0, cap);
  const hidden = missions.length - shown.length;
  let free = rows - shown.length - (hidden > 0 ? 1 : 0);
  const out: ReactNode[] = [];
  for (const m of shown) {
    const isNext = m === next;
    const mark = m.met ? theme.symbols.met : theme.symbols.unmet;
    const count = missionCount(m);
    const room = Math.max(1, width - mark.length - 1);
    let lines = [truncate(m.title, Math.max(1, room - count.length))];
    if (isNext && free > 0) {
      const whole = missionTitleLines(m, width, theme);
      lines = clip(whole, Math.max(1, room - count.length), Math.min(whole.length, 1 + free));
      free -= lines.length - 1;
    }
    for (const { id: i, line } of numbered(lines)) {
      out.push(
        <Text key={`${m.id}-${i}`} wrap="truncate-end">
          <Text color={m.met ? theme.status.success : theme.text.secondary}>
            {i === 0 ? mark : " ".repeat(mark.length)}{" "}
          </Text>
          <Text
            color={m.met ? theme.text.secondary : isNext ? theme.text.accent : undefined}
            bold={isNext}
          >
            {line}
          </Text>
          {i === lines.length - 1 && (
            <Text color={m.met ? theme.text.secondary : theme.status.info}>{count}</Text>
          )}
        </Text>,
      );
    }
  }
  if (hidden > 0) {
    out.push(
      <Text key="hidden" color={theme.text.secondary}>
        +{hidden} more
      </Text>,
    );
  }
  const note = allMet ? ALL_MET : next ? `Hint: ${next.hint}` : undefined;
  const noteLines = note ? clip(wrap(note, width), width, free) : [];
  for (const { id, line } of numbered(noteLines)) {
    out.push(
      <Text
        key={`note-${id}`}
        color={allMet ? theme.status.success : theme.text.secondary}
        bold={allMet}
        wrap="truncate-end"
      >
        {line}
      </Text>,
    );
  }
  return out;
}

function logLine(line: LogLine, theme: Theme) {
  return (
    <Text
      key={line.seq}
      color={line.stream === "lab" ? theme.text.secondary : undefined}
      wrap="truncate-end"
    >
      {line.stream === "lab" ? `[lab] ${printable(line.text)}` : printable(line.text) || " "}
    </Text>
  );
}

/**
 * Log lines that fit `rows` rows ending with the line before `end`; wrapped, a long line takes
 * several rows (the newest ones are kept whole where they can be).
 */
function wrappedTail(logs: LogLine[], end: number, rows: number, width: number): LogLine[] {
  const out: LogLine[] = [];
  for (let i = end - 1; i >= 0 && out.length < rows; i--) {
    const line = logs[i];
    if (!line) continue;
    const text = line.stream === "lab" ? `[lab] ${printable(line.text)}` : printable(line.text);
    const parts = wrap(text || " ", Math.max(1, width));
    for (let p = parts.length - 1; p >= 0 && out.length < rows; p--) {
      out.push({ seq: line.seq * 1000 + p, stream: line.stream, text: parts[p] ?? "" });
    }
  }
  return out.reverse();
}

function LogPane({
  logs,
  offset,
  lines,
  focused,
  width,
  wrapped = false,
}: {
  logs: LogLine[];
  offset: number;
  lines: number;
  focused: boolean;
  width: number;
  /** Zoomed: long lines wrap instead of being cut at the edge. */
  wrapped?: boolean;
}) {
  const theme = useTheme();
  const end = Math.max(0, logs.length - offset);
  const visible = wrapped
    ? wrappedTail(logs, end, lines, width)
    : logs.slice(Math.max(0, end - lines), end);
  return (
    <>
      <Rule
        title="Log"
        width={width}
        focused={focused}
        right={offset > 0 ? `${plural(offset, "newer line")} below, End follows` : undefined}
      />
      <Box flexDirection="column" height={lines} overflow="hidden">
        {visible.length === 0 ? (
          <Text color={theme.text.secondary}>No output yet.</Text>
        ) : (
          visible.map((line) =>
            wrapped ? (
              <Text
                key={line.seq}
                color={line.stream === "lab" ? theme.text.secondary : undefined}
                wrap="truncate-end"
              >
                {line.text || " "}
              </Text>
            ) : (
              logLine(line, theme)
            ),
          )
        )}
      </Box>
    </>
  );
}

function InspectorPane({
  title,
  rows,
  offset,
  lines,
  focused,
  width,
}: {
  title: string;
  rows: InspectorRow[];
  offset: number;
  lines: number;
  focused: boolean;
  width: number;
}) {
  const theme = useTheme();
  const visible = numbered(rows).slice(offset, offset + lines);
  const below = rows.length - offset - lines;
  const half = inspectorColumnWidth(width);
  return (
    <>
      <Rule
        title={title}
        width={width}
        focused={focused}
        right={below > 0 ? `${plural(below, "more line")} ↓` : undefined}
      />
      <Box flexDirection="column" height={lines} overflow="hidden">
        {visible.map(({ id, line: row }) =>
          row.right === undefined ? (
            <Text key={id} color={row.color} bold={row.bold} wrap="truncate-end">
              {row.left || " "}
            </Text>
          ) : (
            <Box key={id} height={1}>
              <Box width={half}>
                <Text color={row.color} wrap="truncate-end">
                  {row.left || " "}
                </Text>
              </Box>
              <Text color={theme.ui.border}> │ </Text>
              <Box width={half}>
                <Text color={row.color} wrap="truncate-end">
                  {row.right || " "}
                </Text>
              </Box>
            </Box>
          ),
        )}
      </Box>
    </>
  );
}

function workerStats(view: WorkersView): string {
  const { live, busy, served, respawns, timeouts } = view.stats;
  const parts = [`${live} live`, `${busy} busy`, `${served} served`];
  if (respawns > 0) parts.push(plural(respawns, "respawn"));
  if (timeouts > 0) parts.push(plural(timeouts, "timeout"));
  return parts.join(" · ");
}

/** Lines the timeline wants below the table: a lane per worker, the axis and the legend. */
const TIMELINE_MIN_LINES = 4;

/** The worker table above the timeline when both fit, else the timeline alone. */
function WorkersPane({
  view,
  lines,
  focused,
  width,
  now,
}: {
  view: WorkersView | undefined;
  lines: number;
  focused: boolean;
  width: number;
  now: number;
}) {
  const theme = useTheme();
  // The timeline comes first; the table joins when it fits whole beside most of the timeline.
  const tableWanted = view ? view.rows.length + 1 : 0;
  const timelineWanted = view ? view.lanes.length + 1 : 0;
  const tableLines =
    view && lines >= tableWanted + Math.min(timelineWanted, TIMELINE_MIN_LINES) ? tableWanted : 0;
  const timelineLines = Math.max(0, lines - tableLines);
  return (
    <>
      <Rule
        title="Workers"
        width={width}
        focused={focused}
        right={view ? workerStats(view) : undefined}
      />
      <Box flexDirection="column" height={lines} overflow="hidden">
        {!view || view.rows.length === 0 ? (
          <Text color={theme.text.secondary}>No worker has booted yet.</Text>
        ) : (
          <>
            {tableLines > 0 && (
              <WorkerTable rows={view.rows} now={now} width={width} height={tableLines} />
            )}
            {timelineLines > 0 && (
              <Timeline lanes={view.lanes} now={now} width={width} height={timelineLines} />
            )}
          </>
        )}
      </Box>
    </>
  );
}

/** "stat reloader, every 1 s" or "events reloader": how edits are noticed now. */
function reloaderNow(options: LabSessionSnapshot["options"]): string {
  const reloader = String(options.reloader ?? "stat");
  if (options.reload === false || options.reload === "off") return "reloader off";
  return reloader === "stat"
    ? `stat reloader, every ${options.interval ?? 1} s`
    : `${reloader} reloader`;
}

/** The reload timeline: one line per recent reload and the reloaders compared. */
function ReloadsPane({
  view,
  options,
  lines,
  focused,
  width,
  now,
}: {
  view: ReloadsView;
  options: LabSessionSnapshot["options"];
  lines: number;
  focused: boolean;
  width: number;
  now: number;
}) {
  return (
    <>
      <Rule title="Reloads" width={width} focused={focused} right={reloaderNow(options)} />
      <Box flexDirection="column" height={lines} overflow="hidden">
        <ReloadTimeline
          rows={view.rows}
          stats={view.stats}
          now={now}
          width={width}
          height={lines}
        />
      </Box>
    </>
  );
}

/** "Workers: 4242 busy with GET /slow for 1.2 s · 4243 idle", for a pane too short for the table. */
function workersBrief(view: WorkersView, now: number): string {
  const live = view.rows.filter((r) => r.state !== "exited");
  if (live.length === 0) return "Workers: none running";
  const parts = live.map((r) =>
    r.current
      ? `${r.pid} busy with ${r.current.method ? `${r.current.method} ` : ""}${r.current.target} for ${((now - r.current.startedAt) / 1000).toFixed(1)} s`
      : `${r.pid} ${r.state}`,
  );
  return `Workers: ${parts.join(" · ")}`;
}

/**
 * The proxy: its clients and upstreams now, each recent request's path through it (the time the
 * client took to send it, where it went, the status), then the workers behind it when they fit.
 */
function ProxyPane({
  view,
  workers,
  lines,
  focused,
  width,
  now,
}: {
  view: ProxyView;
  workers: WorkersView | undefined;
  lines: number;
  focused: boolean;
  width: number;
  now: number;
}) {
  const theme = useTheme();
  const { routes } = view;
  const right = `${routes.proxied} proxied · ${routes.static} static · ${routes.cache} cached · ${plural(routes.error, "error")}`;
  // The workers (what a slow client ties up) before the paths, once there are 6 lines; in
  // fewer, one line says which are busy and with what.
  const tableLines =
    workers && workers.rows.length > 0 && lines >= 6
      ? Math.min(workers.rows.length + 1, lines - 2)
      : 0;
  const brief = workers && tableLines === 0 && lines >= 2 ? workersBrief(workers, now) : undefined;
  const pathRoom = Math.max(0, lines - 1 - tableLines - (brief !== undefined ? 1 : 0));
  const timelineLines =
    workers && pathRoom > Math.max(6, view.paths.length) + 3
      ? Math.min(workers.lanes.length + 2, pathRoom - Math.max(3, view.paths.length))
      : 0;
  const paths = view.paths.slice(-Math.max(0, pathRoom - timelineLines));
  return (
    <>
      <Rule title="Proxy" width={width} focused={focused} right={right} />
      <Box flexDirection="column" height={lines} overflow="hidden">
        {lines > 0 && (
          <Text color={theme.text.secondary} wrap="truncate-end">
            {truncate(printable(upstreamsLine(view, now)), width)}
          </Text>
        )}
        {tableLines > 0 && workers && (
          <WorkerTable rows={workers.rows} now={now} width={width} height={tableLines} />
        )}
        {brief !== undefined && (
          <Text wrap="truncate-end">{truncate(printable(brief), width)}</Text>
        )}
        {pathRoom > 0 && paths.length === 0 && (
          <Text color={theme.text.secondary}>
            No request yet: run an experiment, or curl the URL above.
          </Text>
        )}
        {paths.map((p) => (
          <Text
            key={p.id}
            color={p.status >= 500 ? theme.status.error : undefined}
            wrap="truncate-end"
          >
            {truncate(printable(pathLine(p)), width)}
          </Text>
        ))}
        {timelineLines > 0 && workers && (
          <Timeline lanes={workers.lanes} now={now} width={width} height={timelineLines} />
        )}
      </Box>
    </>
  );
}

/** The event loop's gauges, last handshake and request timeline. */
function LoopPane({
  view,
  lines,
  focused,
  width,
  now,
  live,
}: {
  view: LoopView;
  lines: number;
  focused: boolean;
  width: number;
  now: number;
  live: boolean;
}) {
  const last = view.lastMessage;
  const right =
    view.messages > 0
      ? `${plural(view.messages, "message")}${last ? `, last from ${last.learner ? "you" : "the lab"}` : ""}`
      : "one process, one thread";
  return (
    <>
      <Rule title="Event loop" width={width} focused={focused} right={right} />
      <Box flexDirection="column" height={lines} overflow="hidden">
        <LoopPanel view={view} now={now} width={width} height={lines} live={live} />
      </Box>
    </>
  );
}

/** The sandbox's live view, whichever it has. */
function LiveView({
  snapshot,
  lines,
  focused,
  width,
  now,
}: {
  snapshot: LabSessionSnapshot;
  lines: number;
  focused: boolean;
  width: number;
  now: number;
}) {
  if (snapshot.proxy) {
    return (
      <ProxyPane
        view={snapshot.proxy}
        workers={snapshot.workers}
        lines={lines}
        focused={focused}
        width={width}
        now={now}
      />
    );
  }
  if (snapshot.loop) {
    return (
      <LoopPane
        view={snapshot.loop}
        lines={lines}
        focused={focused}
        width={width}
        now={now}
        live={snapshot.state === "listening"}
      />
    );
  }
  if (snapshot.reloads) {
    return (
      <ReloadsPane
        view={snapshot.reloads}
        options={snapshot.options}
        lines={lines}
        focused={focused}
        width={width}
        now={now}
      />
    );
  }
  return (
    <WorkersPane view={snapshot.workers} lines={lines} focused={focused} width={width} now={now} />
  );
}

/** The lab: server state, where the files are, experiments, missions, log and inspector. */
export function LabView({
  title,
  lab,
  snapshot,
  curl,
  ran = new Map(),
  flash,
  question,
  message,
  focus,
  zoom,
  logOffset,
  inspector,
  inspectorOffset,
  missionPage = [],
  missionPageOffset = 0,
  inspectorTitle: asked,
  below = "view",
  now = Date.now(),
  layout,
  width,
  height,
}: LabViewProps) {
  const theme = useTheme();
  const badge = stateBadge(snapshot, theme);

  let notice: LabMessage;
  const running = snapshot.running;
  if (question) {
    notice = { text: question, color: theme.status.warning, bold: true };
  } else if (running) {
    const p = running.progress;
    notice = {
      text: `Running ${experimentTitle(lab, running.experimentId)}${snapshot.queued ? ` (then ${snapshot.queued.join(" ")})` : ""}${p ? `  ${progressBar(p.done, p.total, theme, !p.label)}${p.label ? `  ${p.label}` : ""}` : "…"}`,
      color: theme.status.info,
    };
  } else if (message) {
    notice = message;
  } else if (flash) {
    notice = { text: `${theme.symbols.met} ${flash}`, color: theme.status.success, bold: true };
  } else if (snapshot.state === "failed") {
    notice = {
      text: "The server is not running: press s to start it again, or Esc to go back.",
      color: theme.status.error,
      bold: true,
    };
  } else if (snapshot.state === "stopped" && snapshot.error) {
    notice = {
      text: "The server stopped: press s to start it again, or Esc to go back.",
      color: theme.status.warning,
      bold: true,
    };
  } else if (snapshot.lastResult) {
    const r = snapshot.lastResult;
    const mark = r.ok ? theme.symbols.correct : theme.symbols.wrong;
    const full = `${mark} ${experimentTitle(lab, r.experimentId)}: ${r.summary}`;
    const key = lab.experiments.find((e) => e.id === r.experimentId)?.key;
    const verdict = r.prediction ? `${predictionVerdict(r.prediction, theme)} · ` : "";
    notice = {
      // The title is in the list and on the inspector; the result matters more when both don't fit.
      text:
        `${verdict}${full}`.length <= width || key === undefined
          ? `${verdict}${full}`
          : `${verdict}${mark} Experiment ${key}: ${r.summary}`,
      color: r.ok ? undefined : theme.status.error,
    };
  } else {
    notice = {
      text: "Press a digit to run an experiment, or send your own requests with curl.",
      color: theme.text.secondary,
    };
  }

  const inspectorTitle =
    asked ??
    (snapshot.state === "failed"
      ? "What to do"
      : snapshot.lastResult
        ? `Inspector: ${experimentTitle(lab, snapshot.lastResult.experimentId)}`
        : "Inspector");
  const header = (
    <Header title={`Lab · ${title}`} right={badge.text} rightColor={badge.color} width={width} />
  );
  const noticeLine = (
    <Text color={notice.color} bold={notice.bold} wrap="truncate-end">
      {notice.text}
    </Text>
  );

  if (zoom) {
    const met = snapshot.missions.filter((m) => m.met).length;
    return (
      <Box flexDirection="column" width={width} height={height} overflow="hidden">
        {header}
        {noticeLine}
        {zoom === "log" ? (
          <LogPane
            logs={snapshot.logs}
            offset={logOffset}
            lines={layout.zoomLines}
            focused
            width={width}
            wrapped
          />
        ) : zoom === "view" ? (
          <LiveView snapshot={snapshot} lines={layout.zoomLines} focused width={width} now={now} />
        ) : (
          <InspectorPane
            title={
              zoom === "missions" ? `Missions ${met}/${snapshot.missions.length}` : inspectorTitle
            }
            rows={zoom === "missions" ? missionPage : inspector}
            offset={zoom === "missions" ? missionPageOffset : inspectorOffset}
            lines={layout.zoomLines}
            focused
            width={width}
          />
        )}
      </Box>
    );
  }

  const head = labHeadRows(lab, snapshot, curl, width, theme);
  const missions = snapshot.missions;
  const met = missions.filter((m) => m.met).length;
  const { listRows, experimentsWidth, missionsWidth } = layout;

  const experiments = lab.experiments;
  const expCap = experiments.length > listRows ? Math.max(0, listRows - 1) : listRows;
  const shownExperiments = experiments.slice(0, expCap);
  const hiddenExperiments = experiments.slice(expCap);

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {header}
      {numbered(head).map(({ id, line }) => (
        <Labelled key={`head-${id}`} label={line.label} color={line.color}>
          {line.text}
        </Labelled>
      ))}
      {noticeLine}
      <Box height={1}>
        <Box width={experimentsWidth + LAB_COLUMN_GAP}>
          <Text bold>Experiments</Text>
        </Box>
        <Text bold wrap="truncate-end">
          Missions {met}/{missions.length}
        </Text>
      </Box>
      <Box height={listRows}>
        <Box
          flexDirection="column"
          width={experimentsWidth + LAB_COLUMN_GAP}
          paddingRight={LAB_COLUMN_GAP}
        >
          {shownExperiments.map((exp) =>
            experimentRow(exp, snapshot, ran, experimentsWidth, theme),
          )}
          {hiddenExperiments.length > 0 && (
            <Text color={theme.text.secondary} wrap="truncate-end">
              +{hiddenExperiments.length} more: {hiddenExperiments.map((e) => e.key).join(" ")}
            </Text>
          )}
        </Box>
        <Box flexDirection="column" width={missionsWidth}>
          {missionColumn(missions, missionsWidth, listRows, theme)}
        </Box>
      </Box>
      <LogPane
        logs={snapshot.logs}
        offset={logOffset}
        lines={layout.logLines}
        focused={focus === "log"}
        width={width}
      />
      {layout.viewLines > 0 && !(layout.shared && below === "inspector") && (
        <LiveView
          snapshot={snapshot}
          lines={layout.viewLines}
          focused={focus === "view"}
          width={width}
          now={now}
        />
      )}
      {!(layout.shared && below === "view") && (
        <InspectorPane
          title={inspectorTitle}
          rows={inspector}
          offset={inspectorOffset}
          lines={layout.inspectorLines}
          focused={focus === "inspector"}
          width={width}
        />
      )}
    </Box>
  );
}
