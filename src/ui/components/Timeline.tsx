import { Box, Text } from "ink";
import { exitLabel, type TimelineBar, type WorkerLane } from "../../lab/workers.js";
import { printable, truncate } from "../text.js";
import { type Theme, useTheme } from "../theme.js";

/** The timeline's marks; each means one thing, so the picture reads the same without colour. */
export const TIMELINE_GLYPHS = {
  /** A request being handled (running or answered below 500). */
  request: "█",
  /** The same, for every other request on a lane, so back-to-back requests stay apart. */
  requestNext: "▓",
  /** A request answered with a 5xx status. */
  error: "▒",
  /** Where a request was cut short by the master's timeout. */
  timeout: "T",
  /** Where a request was cut short by a kill or a crash. */
  killed: "✕",
  /** The worker booted here. */
  boot: "▏",
  /** The worker process ended here. */
  exit: "■",
  /** The worker is alive and idle. */
  alive: "·",
  /** A tick on the time axis. */
  tick: "┆",
  /** The event loop was blocked: no callback, timer or request ran. */
  blocked: "░",
} as const;

/** Nice tick spacings, shortest first. */
const TICKS = [500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000];
/** Ticks are at least this many columns apart. */
const MIN_TICK_COLUMNS = 8;
const NOW = "now";

/** The default window for `barColumns` columns of bars: 10 s up to 99 columns, then 20 s, then 30 s. */
export function timelineWindowMs(barColumns: number): number {
  if (barColumns < 30) return 5_000;
  if (barColumns < 100) return 10_000;
  if (barColumns < 160) return 20_000;
  return 30_000;
}

/** "2s", "500ms", "1m", "90s". */
function formatSpan(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0 && ms >= 120_000) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`;
}

type Kind =
  | "empty"
  | "alive"
  | "boot"
  | "exit"
  | "ok"
  | "running"
  | "error"
  | "timeout"
  | "killed"
  | "blocked"
  | "reason";

/** Which mark wins when two land in the same column. */
const RANK: Record<Kind, number> = {
  empty: 0,
  alive: 1,
  boot: 2,
  exit: 3,
  ok: 4,
  running: 5,
  error: 6,
  blocked: 6,
  timeout: 7,
  killed: 7,
  reason: 8,
};

function kindColor(kind: Kind, theme: Theme): string | undefined {
  switch (kind) {
    case "ok":
      return theme.status.success;
    case "running":
    case "blocked":
      return theme.status.warning;
    case "error":
    case "timeout":
    case "killed":
      return theme.status.error;
    case "boot":
      return theme.status.info;
    default:
      return theme.text.secondary;
  }
}

const FILL: Record<TimelineBar["outcome"], Kind> = {
  running: "running",
  ok: "ok",
  error: "error",
  timeout: "ok",
  killed: "ok",
  blocked: "blocked",
};

function glyph(kind: Kind): string {
  switch (kind) {
    case "alive":
      return TIMELINE_GLYPHS.alive;
    case "boot":
      return TIMELINE_GLYPHS.boot;
    case "exit":
      return TIMELINE_GLYPHS.exit;
    case "ok":
    case "running":
      return TIMELINE_GLYPHS.request;
    case "error":
      return TIMELINE_GLYPHS.error;
    case "timeout":
      return TIMELINE_GLYPHS.timeout;
    case "killed":
      return TIMELINE_GLYPHS.killed;
    case "blocked":
      return TIMELINE_GLYPHS.blocked;
    default:
      return " ";
  }
}

interface Run {
  kind: Kind;
  text: string;
}

/** Maps times to the columns of the bars: `columns` cells ending at `now`. */
class Scale {
  readonly start: number;
  readonly msPerColumn: number;
  constructor(
    readonly now: number,
    readonly windowMs: number,
    readonly columns: number,
  ) {
    this.start = now - windowMs;
    this.msPerColumn = windowMs / columns;
  }
  column(t: number): number {
    const c = Math.floor((t - this.start) / this.msPerColumn);
    return Math.min(this.columns - 1, Math.max(0, c));
  }
}

/** One lane's cells, as runs of the same mark. */
function laneRuns(lane: WorkerLane, scale: Scale): Run[] {
  const n = scale.columns;
  const kinds: Kind[] = new Array<Kind>(n).fill("empty");
  const text: string[] = new Array<string>(n).fill(" ");
  const put = (c: number, kind: Kind, ch = glyph(kind)) => {
    if (c < 0 || c >= n || RANK[kind] < RANK[kinds[c] ?? "empty"]) return;
    kinds[c] = kind;
    text[c] = ch;
  };
  // Times a little after `now` (the events' clock ran ahead of the screen's) land in the last column.
  const from = scale.column(lane.bootedAt);
  const to = lane.endedAt !== undefined ? scale.column(lane.endedAt) : n - 1;
  for (let c = from; c <= to; c++) put(c, "alive");
  if (lane.bootedAt >= scale.start) put(from, "boot");
  for (const [i, bar] of lane.bars.entries()) {
    const end = bar.end ?? scale.now;
    if (end < scale.start) continue;
    const c0 = scale.column(bar.start);
    const c1 = Math.max(c0, scale.column(end));
    const fill = FILL[bar.outcome];
    const ch =
      (fill === "ok" || fill === "running") && i % 2 === 1
        ? TIMELINE_GLYPHS.requestNext
        : glyph(fill);
    for (let c = c0; c <= c1; c++) put(c, fill, ch);
    if (bar.outcome === "timeout" || bar.outcome === "killed") put(c1, bar.outcome);
  }
  if (lane.endedAt !== undefined && lane.endedAt >= scale.start) {
    let at = to;
    // A timeout or kill mark stays; the end of the process goes just after it.
    if (RANK[kinds[at] ?? "empty"] >= RANK.ok && at + 1 < n) at++;
    if (RANK[kinds[at] ?? "empty"] < RANK.timeout) {
      kinds[at] = "exit";
      text[at] = TIMELINE_GLYPHS.exit;
    }
    const why = printable(exitLabel(lane));
    const room = n - (at + 2);
    if (room >= 4) {
      const label = truncate(why, room);
      for (let i = 0; i < label.length; i++) put(at + 2 + i, "reason", label[i]);
    }
  }
  const runs: Run[] = [];
  for (let c = 0; c < n; c++) {
    const kind = kinds[c] ?? "empty";
    const last = runs.at(-1);
    if (last?.kind === kind) last.text += text[c];
    else runs.push({ kind, text: text[c] ?? " " });
  }
  if (runs.at(-1)?.kind === "empty") runs.pop();
  return runs;
}

/**
 * How many of the lanes' requests were in flight in each column: "·" none, 1-9, "+" ten or more.
 * For many short-lived lanes (the requests of an event loop) in one line.
 */
function countText(lanes: WorkerLane[], scale: Scale): string {
  const counts = new Array<number>(scale.columns).fill(0);
  for (const lane of lanes) {
    for (const bar of lane.bars) {
      const end = bar.end ?? scale.now;
      if (end < scale.start) continue;
      // A request counts in the columns whose middle it covers, so two back to back never add up.
      const c0 = scale.column(bar.start);
      const c1 = scale.column(end);
      let counted = false;
      for (let c = c0; c <= c1; c++) {
        const middle = scale.start + (c + 0.5) * scale.msPerColumn;
        if (middle < bar.start || middle >= end) continue;
        counts[c] = (counts[c] ?? 0) + 1;
        counted = true;
      }
      if (!counted) counts[c0] = Math.max(counts[c0] ?? 0, 1);
    }
  }
  return counts.map((n) => (n === 0 ? TIMELINE_GLYPHS.alive : n >= 10 ? "+" : String(n))).join("");
}

/** The axis below the bars: a tick every few seconds, labelled "-4s", and "now" at the right. */
function axisLine(scale: Scale, tickMs: number): string {
  const n = scale.columns;
  const chars = new Array<string>(n).fill(" ");
  let free = n; // columns from here on are taken
  if (n >= NOW.length + 1) {
    free = n - NOW.length;
    for (let i = 0; i < NOW.length; i++) chars[free + i] = NOW[i] ?? " ";
  }
  for (let k = 1; k * tickMs <= scale.windowMs; k++) {
    const c = Math.floor((scale.now - k * tickMs - scale.start) / scale.msPerColumn);
    if (c < 0 || c >= free) continue;
    chars[c] = TIMELINE_GLYPHS.tick;
    const label = `-${formatSpan(k * tickMs)}`;
    if (c + label.length < free - 1) {
      for (let i = 0; i < label.length; i++) chars[c + 1 + i] = label[i] ?? " ";
    }
    free = c;
  }
  return chars.join("").trimEnd();
}

function tickFor(scale: Scale): number {
  for (const t of TICKS) if (t / scale.msPerColumn >= MIN_TICK_COLUMNS) return t;
  return TICKS.at(-1) ?? 60_000;
}

export interface TimelineProps {
  /** From `WorkerModel.lanes(since)` with `since` at or before `now - windowMs`. */
  lanes: WorkerLane[];
  now: number;
  width: number;
  /** Lines it may take: lanes, the axis and, when there is room, a legend. */
  height: number;
  /** The time shown across the bars; by default from the width (`timelineWindowMs`). */
  windowMs?: number;
  /** What the marks mean, instead of the workers' legend. */
  legend?: string;
  /** Shown when there is no lane. */
  empty?: string;
  /** Lanes drawn as one line of in-flight counts below the others, labelled `label`. */
  counts?: { label: string; lanes: WorkerLane[] };
}

/** Lanes to draw when not all fit: live ones first, then those that ended most recently. */
function pickLanes(lanes: WorkerLane[], room: number): WorkerLane[] {
  if (lanes.length <= room) return lanes;
  const byInterest = [...lanes].sort((a, b) => {
    if ((a.endedAt === undefined) !== (b.endedAt === undefined))
      return a.endedAt === undefined ? -1 : 1;
    return (b.endedAt ?? 0) - (a.endedAt ?? 0) || b.bootedAt - a.bootedAt;
  });
  const kept = new Set(byInterest.slice(0, Math.max(0, room)));
  return lanes.filter((lane) => kept.has(lane));
}

/**
 * Requests over time, one lane per worker process (labelled with its pid): a bar from each
 * request's start to its end, running bars growing at the right edge, a mark where a worker
 * booted and where it ended, and why. At most `height` lines of at most `width` columns.
 */
export function Timeline({
  lanes,
  now,
  width,
  height,
  windowMs,
  legend,
  empty,
  counts,
}: TimelineProps) {
  const theme = useTheme();
  if (height <= 0 || width <= 0) return null;
  const countLines = counts && height >= 1 ? 1 : 0;
  const laneHeight = height - countLines;

  // The label column fits every pid and the "+N" note, so it does not depend on what is picked.
  const labelWidth = Math.max(
    3,
    String(lanes.length).length + 1,
    ...lanes.map((l) => (l.label ?? String(l.pid)).length),
    counts?.label.length ?? 0,
  );
  const columns = Math.max(1, width - labelWidth - 1);
  const span = windowMs === undefined ? timelineWindowMs(columns) : Math.max(1, windowMs);
  const scale = new Scale(now, span, columns);
  // Lanes that ended before the window opened are not drawn.
  const visible = lanes
    .filter((lane) => lane.endedAt === undefined || lane.endedAt >= scale.start)
    .sort((a, b) => a.index - b.index || a.bootedAt - b.bootedAt);
  // The axis goes before a live lane does: when the live workers fill every line, each still
  // shows (those that exited go first); with more live workers than lines, the axis says how
  // many are left out.
  const live = visible.filter((lane) => lane.endedAt === undefined).length;
  // Beside a counts line the axis needs a lane above it, or it would stand for nothing.
  const axis =
    (countLines === 0 || laneHeight >= 2) && (visible.length < laneHeight || live > laneHeight);
  const room = axis ? Math.max(0, laneHeight - 1) : laneHeight;
  const drawn = pickLanes(visible, room);
  const hidden = visible.length - drawn.length;
  const note = hidden > 0 ? `+${hidden}` : "";
  const tick = tickFor(scale);
  const lines = drawn.length + (drawn.length === 0 && room > 0 ? 1 : 0);
  const legendLine =
    lines + countLines + 2 > height
      ? undefined
      : legend !== undefined
        ? `${legend}  ${TIMELINE_GLYPHS.tick} ${formatSpan(tick)}, last ${formatSpan(scale.windowMs)}`
        : `${TIMELINE_GLYPHS.request}${TIMELINE_GLYPHS.requestNext} request  ${TIMELINE_GLYPHS.error} 5xx  ${TIMELINE_GLYPHS.timeout} timeout  ${TIMELINE_GLYPHS.killed} killed  ${TIMELINE_GLYPHS.boot} boot  ${TIMELINE_GLYPHS.exit} exit  ${TIMELINE_GLYPHS.tick} ${formatSpan(tick)}, last ${formatSpan(scale.windowMs)}`;
  const label = (text: string) => `${text.padStart(labelWidth)} `;
  return (
    <Box flexDirection="column" width={width}>
      {drawn.length === 0 && room > 0 && (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {truncate(`${label("")}${empty ?? "No workers yet."}`, width)}
        </Text>
      )}
      {drawn.map((lane) => (
        <Text key={lane.pid} wrap="truncate-end">
          <Text color={lane.endedAt === undefined ? undefined : theme.text.secondary}>
            {label(lane.label ?? String(lane.pid))}
          </Text>
          {laneRuns(lane, scale).map((run, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: runs are positional
            <Text key={i} color={kindColor(run.kind, theme)}>
              {run.text}
            </Text>
          ))}
        </Text>
      ))}
      {countLines > 0 && counts && (
        <Text wrap="truncate-end">
          {label(counts.label)}
          <Text color={theme.status.success}>{countText(counts.lanes, scale)}</Text>
        </Text>
      )}
      {axis && (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {truncate(`${label(note)}${axisLine(scale, tick)}`, width)}
        </Text>
      )}
      {legendLine !== undefined && (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {truncate(legendLine, width)}
        </Text>
      )}
    </Box>
  );
}
