import { Box, Text } from "ink";
import type { ReloaderStats, ReloadRow, ReloadStats } from "../../lab/reloads.js";
import { type Cell, fitCells } from "../cells.js";
import { printable, truncate } from "../text.js";
import { type Theme, useTheme } from "../theme.js";

/** The reload bars' marks; each means one thing, so the picture reads the same without colour. */
export const RELOAD_GLYPHS = {
  /** The file was saved here (the start of every bar). */
  saved: "▏",
  /** Saved, not noticed by the reloader yet: the old code still answers. */
  waiting: "░",
  /** Noticed: the old app child stopped and the new one loads; nothing answers. */
  down: "▒",
  /** The new code answers. */
  live: "█",
  /** The new code did not load. */
  failed: "✕",
  /** The bar goes on past its room. */
  clipped: "»",
} as const;

export const NO_RELOAD_YET = "No reload yet: save the app file (or press an edit experiment).";

/** Milliseconds per bar cell to choose from, finest first. */
const SCALES = [10, 20, 50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000];
const GAP = "  ";
const RELOADER_WIDTH = 6; // "events"
const MIN_BAR = 8;
const MAX_BAR = 20;
const MAX_FILE = 16;
/**
 * The bars span at least this long: the stat reloader's default poll interval, so that a reload
 * the events reloader saw at once looks short even when no stat reload is there to compare.
 */
const MIN_SPAN_MS = 1_000;
/** The outcome column ("live +0.71 s") gets at least this much room, or less when all are shorter. */
const MIN_OUTCOME = 14;
/** A failed reload's error gets at least this much (the file name goes first), or its length. */
const MIN_ERROR = 24;

/** "0.62 s", "12.3 s", "125 s": seconds with two significant decimals while they matter. */
export function formatSeconds(ms: number): string {
  const s = Number.isFinite(ms) ? Math.max(0, ms) / 1000 : 0;
  if (s < 9.995) return `${s.toFixed(2)} s`;
  if (s < 99.95) return `${s.toFixed(1)} s`;
  return `${Math.round(s)} s`;
}

/** "12:00:01" on the learner's clock. */
export function formatClock(t: number): string {
  const d = new Date(t);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

type Kind = keyof typeof RELOAD_GLYPHS;

function kindColor(kind: Kind, theme: Theme): string | undefined {
  switch (kind) {
    case "down":
      return theme.status.warning;
    case "live":
      return theme.status.success;
    case "failed":
      return theme.status.error;
    default:
      return theme.text.secondary;
  }
}

/** Where a reload's phases fall, in ms after the save: the bar is drawn from these. */
interface Phases {
  /** When the reloader noticed the save (the end of the wait). */
  detect: number;
  /** When the bar ends: ready, failed, the last phase of an interrupted reload, or now. */
  end: number;
  /** Whether there is a restart (down) part. */
  restart: boolean;
  mark?: "live" | "failed";
}

function phasesOf(row: ReloadRow, now: number): Phases {
  const since = (t: number) => Math.max(0, t - row.savedAt);
  const known = [row.detectedAt, row.stoppedAt, row.readyAt, row.failedAt].filter(
    (t): t is number => t !== undefined,
  );
  let end: number;
  if (row.state === "ready" && row.readyAt !== undefined) end = since(row.readyAt);
  else if (row.state === "failed" && row.failedAt !== undefined) end = since(row.failedAt);
  else if (row.interrupted) end = known.length > 0 ? since(Math.max(...known)) : 0;
  else end = since(now);
  let detect: number;
  if (row.detectedAt !== undefined) detect = since(row.detectedAt);
  else if (row.state === "detecting") detect = end;
  else if (row.downtimeMs !== undefined) detect = Math.max(0, end - row.downtimeMs);
  else if (row.stoppedAt !== undefined) detect = since(row.stoppedAt);
  else detect = 0;
  const phases: Phases = { detect: Math.min(detect, end), end, restart: row.state !== "detecting" };
  if (row.state === "ready") phases.mark = "live";
  else if (row.state === "failed") phases.mark = "failed";
  return phases;
}

interface Run {
  kind: Kind;
  text: string;
}

/** The cells of a bar at `msPerCell`: the saved mark, the wait, the restart and the end mark. */
function barKinds(p: Phases, msPerCell: number): Kind[] {
  const cell = (ms: number) => Math.round(ms / msPerCell);
  const wait = p.restart ? cell(p.detect) : Math.max(1, cell(p.end));
  const down = p.restart ? Math.max(1, cell(p.end) - cell(p.detect)) : 0;
  const kinds: Kind[] = ["saved"];
  for (let i = 0; i < wait; i++) kinds.push("waiting");
  for (let i = 0; i < down; i++) kinds.push("down");
  if (p.mark) kinds.push(p.mark);
  return kinds;
}

/**
 * The finest scale at which every bar fits in `columns` cells and the bars span at least
 * `MIN_SPAN_MS` (the coarsest when none does). Each reloader's median latency must fit as well, so
 * that after the sandbox is restarted with the other reloader its bars keep the same scale and a
 * near-instant reload still looks short.
 */
function pickScale(phases: readonly Phases[], columns: number, stats: ReloadStats): number {
  const medians = [stats.byReloader.stat, stats.byReloader.events].flatMap((s) =>
    s ? [s.medianMs] : [],
  );
  const all: Phases[] = [
    ...phases,
    ...medians.map((end): Phases => ({ detect: 0, end, restart: true, mark: "live" })),
  ];
  for (const ms of SCALES) {
    if (ms * columns < MIN_SPAN_MS) continue;
    if (all.every((p) => barKinds(p, ms).length <= columns)) return ms;
  }
  return SCALES.at(-1) ?? 10_000;
}

function barRuns(p: Phases, msPerCell: number, columns: number): Run[] {
  let kinds = barKinds(p, msPerCell);
  if (kinds.length > columns) kinds = [...kinds.slice(0, Math.max(0, columns - 1)), "clipped"];
  const runs: Run[] = [];
  for (const kind of kinds) {
    const last = runs.at(-1);
    if (last?.kind === kind) last.text += RELOAD_GLYPHS[kind];
    else runs.push({ kind, text: RELOAD_GLYPHS[kind] });
  }
  const used = kinds.length;
  if (used < columns) runs.push({ kind: "saved", text: " ".repeat(columns - used) });
  return runs;
}

/** The texts of one row's columns, before they are fitted. */
interface RowTexts {
  id: string;
  file: string;
  clock: string;
  detectedLong: string;
  detectedShort: string;
  down: string;
  outcome: string;
  outcomeColor: "success" | "error" | "warning" | "secondary";
  /** A failed reload's error spans the down column too. */
  wide: boolean;
}

function rowTexts(row: ReloadRow, now: number): RowTexts {
  const detected =
    row.detectedAt !== undefined ? formatSeconds(row.detectedAt - row.savedAt) : undefined;
  const texts: RowTexts = {
    id: `#${row.reload}`,
    file: printable(row.file),
    clock: `saved ${formatClock(row.savedAt)}`,
    detectedLong: detected ? `detected +${detected}` : "",
    detectedShort: detected ? `seen +${detected}` : "",
    down: row.downtimeMs !== undefined ? `down ${formatSeconds(row.downtimeMs)}` : "",
    outcome: "",
    outcomeColor: "secondary",
    wide: false,
  };
  switch (row.state) {
    case "ready":
      texts.outcome = `live +${formatSeconds(row.latencyMs ?? (row.readyAt ?? now) - row.savedAt)}`;
      texts.outcomeColor = "success";
      break;
    case "failed": {
      const error = printable((row.error ?? "").split(/\r?\n/)[0]?.trim() || "failed");
      const answers = row.errorResponses ? `  (${row.errorResponses} × 5xx)` : "";
      texts.outcome = `${RELOAD_GLYPHS.failed} ${error}${answers}`;
      texts.outcomeColor = "error";
      texts.wide = true;
      break;
    }
    default:
      if (row.interrupted) texts.outcome = "interrupted";
      else {
        texts.outcome = row.state === "detecting" ? "detecting…" : "restarting…";
        texts.outcomeColor = "warning";
      }
  }
  return texts;
}

/** The columns that fit in the width, and their widths; 0 means the column is left out. */
interface Layout {
  idWidth: number;
  /** Bar cells; 0 when no bar fits. */
  bar: number;
  file: number;
  /** "saved 12:00:01". */
  clock: number;
  /** "detected +0.62 s" (long) rather than "seen +0.62 s". */
  long: boolean;
  detected: number;
  /** "down 0.09 s"; a failed reload's error takes this room too. */
  down: number;
  /** What is left for "live +0.71 s", "✕ SyntaxError: ..." or "restarting…". */
  outcome: number;
}

interface Choice {
  bar: boolean;
  file: boolean;
  clock: boolean;
  long: boolean;
  detected: boolean;
  down: boolean;
}

/** From the most to the least: the clock goes first, then the file, the long labels, the downtime... */
const CHOICES: Choice[] = [
  { bar: true, file: true, clock: true, long: true, detected: true, down: true },
  { bar: true, file: true, clock: false, long: true, detected: true, down: true },
  { bar: true, file: true, clock: false, long: false, detected: true, down: true },
  { bar: true, file: false, clock: false, long: false, detected: true, down: true },
  { bar: true, file: false, clock: false, long: false, detected: true, down: false },
  { bar: true, file: false, clock: false, long: false, detected: false, down: false },
  { bar: false, file: false, clock: false, long: false, detected: true, down: false },
  { bar: false, file: false, clock: false, long: false, detected: false, down: false },
];

function widest(texts: readonly string[]): number {
  return texts.reduce((max, t) => Math.max(max, t.length), 0);
}

function chooseLayout(rows: readonly RowTexts[], width: number): Layout {
  const idWidth = widest(rows.map((r) => r.id));
  const file = Math.min(MAX_FILE, widest(rows.map((r) => r.file)));
  const clock = widest(rows.map((r) => r.clock));
  const down = widest(rows.map((r) => r.down));
  /** The room the outcome column needs; a failed reload's error also has the down column's. */
  const outcomeNeed = (withDown: boolean, minError: number) =>
    rows.reduce((need, r) => {
      const own = Math.min(r.wide ? minError : MIN_OUTCOME, r.outcome.length);
      return Math.max(need, r.wide && withDown && down > 0 ? own - down - GAP.length : own);
    }, 0);
  for (const choice of CHOICES) {
    // With nothing left to drop but the bar, the error is cut shorter before the bar goes.
    const minError = choice.file || choice.detected ? MIN_ERROR : MIN_OUTCOME;
    const detected = choice.detected
      ? widest(rows.map((r) => (choice.long ? r.detectedLong : r.detectedShort)))
      : 0;
    const col = (on: boolean, w: number) => (on && w > 0 ? w : 0);
    const gapped = (w: number) => (w > 0 ? w + GAP.length : 0);
    const candidate: Layout = {
      idWidth,
      bar: 0,
      file: col(choice.file, file),
      clock: col(choice.clock, clock),
      long: choice.long,
      detected,
      down: col(choice.down, down),
      outcome: 0,
    };
    const fixed =
      idWidth +
      1 +
      RELOADER_WIDTH +
      1 +
      gapped(candidate.file) +
      gapped(candidate.clock) +
      gapped(candidate.detected) +
      gapped(candidate.down);
    const free = width - fixed - outcomeNeed(candidate.down > 0, minError);
    if (choice.bar) {
      const bar = free - GAP.length;
      if (bar < MIN_BAR) continue;
      candidate.bar = Math.min(MAX_BAR, bar);
    } else if (free < 0 && choice !== CHOICES.at(-1)) {
      continue; // the last choice is taken whatever the width: its outcome is cut
    }
    candidate.outcome = Math.max(0, width - fixed - gapped(candidate.bar));
    return candidate;
  }
  return { idWidth, bar: 0, file: 0, clock: 0, long: false, detected: 0, down: 0, outcome: 0 };
}

function pad(text: string, width: number): string {
  return truncate(text, width).padEnd(width);
}

function rowCells(
  row: ReloadRow,
  texts: RowTexts,
  phases: Phases,
  msPerCell: number,
  layout: Layout,
  theme: Theme,
): Cell[] {
  const cells: Cell[] = [
    { text: `${texts.id.padStart(layout.idWidth)} `, color: theme.text.secondary },
    { text: `${pad(row.reloader, RELOADER_WIDTH)} `, color: theme.text.accent },
  ];
  if (layout.bar > 0) {
    for (const run of barRuns(phases, msPerCell, layout.bar))
      cells.push({ text: run.text, color: kindColor(run.kind, theme) });
    cells.push({ text: GAP });
  }
  if (layout.file > 0) cells.push({ text: `${pad(texts.file, layout.file)}${GAP}` });
  if (layout.clock > 0)
    cells.push({ text: `${pad(texts.clock, layout.clock)}${GAP}`, color: theme.text.secondary });
  if (layout.detected > 0) {
    const text = layout.long ? texts.detectedLong : texts.detectedShort;
    cells.push({ text: `${pad(text, layout.detected)}${GAP}` });
  }
  let outcome = layout.outcome;
  if (layout.down > 0) {
    if (texts.wide) outcome += layout.down + GAP.length;
    else cells.push({ text: `${pad(texts.down, layout.down)}${GAP}` });
  }
  const color =
    texts.outcomeColor === "secondary" ? theme.text.secondary : theme.status[texts.outcomeColor];
  cells.push({ text: truncate(texts.outcome, outcome), color });
  return cells;
}

function cellsLength(cells: readonly Cell[]): number {
  return cells.reduce((n, c) => n + c.text.length, 0);
}

type Detail = "full" | "mid" | "short";

function reloaderCells(
  name: "stat" | "events",
  stats: ReloaderStats | undefined,
  detail: Detail,
  theme: Theme,
): Cell[] {
  const label = detail === "short" ? `${name} ` : `${name}: `;
  if (!stats)
    return [
      { text: label, color: theme.text.accent },
      { text: detail === "short" ? "-" : "no sample yet", color: theme.text.secondary },
    ];
  const range =
    detail === "full" && stats.n > 1
      ? `${formatSeconds(stats.minMs).replace(/ s$/, "")}–${formatSeconds(stats.maxMs)}, `
      : "";
  return [
    { text: label, color: theme.text.accent },
    { text: detail === "short" ? "" : "median " },
    { text: formatSeconds(stats.medianMs), color: theme.status.info },
    { text: ` (${range}n=${stats.n})`, color: theme.text.secondary },
  ];
}

/** "stat: median 0.58 s (n=3)   events: median 0.05 s (n=4)", as much of it as fits. */
function summaryCells(stats: ReloadStats, width: number, theme: Theme): Cell[] {
  const { stat, events } = stats.byReloader;
  const tail =
    stats.count > 0
      ? `   ${stats.count} ${stats.count === 1 ? "reload" : "reloads"}${stats.failed > 0 ? `, ${stats.failed} failed` : ""}`
      : "";
  const variant = (detail: Detail, prefix: boolean, withTail: boolean): Cell[] => [
    ...(prefix ? [{ text: "save → live  ", color: theme.text.secondary }] : []),
    ...reloaderCells("stat", stat, detail, theme),
    { text: detail === "short" ? "  " : "   " },
    ...reloaderCells("events", events, detail, theme),
    ...(withTail && tail ? [{ text: tail, color: theme.text.secondary }] : []),
  ];
  const variants = [
    variant("full", true, true),
    variant("mid", true, true),
    variant("mid", false, true),
    variant("mid", true, false),
    variant("mid", false, false),
    variant("short", false, false),
  ];
  return fitCells(variants.find((v) => cellsLength(v) <= width) ?? variants.at(-1) ?? [], width);
}

function legendText(msPerCell: number, width: number): string {
  const g = RELOAD_GLYPHS;
  const cell = formatSeconds(msPerCell).replace(/\.?0+ s$/, " s");
  const long = `${g.saved} saved  ${g.waiting} not noticed yet  ${g.down} down, restarting  ${g.live} live  ${g.failed} failed   a cell is ${cell}`;
  if (long.length <= width) return long;
  const short = `${g.saved}saved ${g.waiting}waiting ${g.down}down ${g.live}live ${g.failed}failed  cell ${cell}`;
  return truncate(short, width);
}

function hasSamples(stats: ReloadStats): boolean {
  return stats.byReloader.stat !== undefined || stats.byReloader.events !== undefined;
}

export interface ReloadTimelineProps {
  /** From `ReloadModel.reloads()`: oldest first. */
  rows: ReloadRow[];
  stats: ReloadStats;
  /** For the bars of reloads still in flight. */
  now: number;
  width: number;
  /** Lines it may take: the newest reloads, the comparison and, when there is room, a legend. */
  height: number;
}

/**
 * The reloads, newest at the bottom: a bar per reload on one time scale from the save (waiting for
 * the reloader to notice, down while the app child restarts, live or failed), then the numbers;
 * below them the latency of each reloader side by side. At most `height` lines of at most `width`
 * columns.
 */
export function ReloadTimeline({ rows, stats, now, width, height }: ReloadTimelineProps) {
  const theme = useTheme();
  if (height <= 0 || width <= 0) return null;

  if (rows.length === 0) {
    return (
      <Box flexDirection="column" width={width}>
        <Text color={theme.text.secondary} wrap="truncate-end">
          {truncate(NO_RELOAD_YET, width)}
        </Text>
        {height >= 2 && hasSamples(stats) && (
          <Text wrap="truncate-end">
            {summaryCells(stats, width, theme).map((cell, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
              <Text key={i} color={cell.color}>
                {cell.text}
              </Text>
            ))}
          </Text>
        )}
      </Box>
    );
  }

  // One line shows the newest reload; two add the comparison; a legend when there is room and
  // there are bars to explain.
  const summary = height >= 2;
  const plan = (legend: boolean) => {
    const room = height - (summary ? 1 : 0) - (legend ? 1 : 0);
    const shown = rows.slice(-room);
    const texts = shown.map((row) => rowTexts(row, now));
    return { legend, shown, texts, layout: chooseLayout(texts, width) };
  };
  let view = plan(height >= 3 && (height >= 6 || rows.length + 2 <= height));
  if (view.legend && view.layout.bar === 0) view = plan(false);
  const { legend, shown, texts } = view;
  const phases = shown.map((row) => phasesOf(row, now));
  const msPerCell = pickScale(phases, Math.max(1, view.layout.bar), stats);
  // The bar column keeps a second's room and its longest bar; what it does not need goes to the
  // outcome (a failed reload's error).
  const needed = Math.max(
    MIN_BAR,
    Math.ceil(MIN_SPAN_MS / msPerCell),
    ...phases.map((p) => barKinds(p, msPerCell).length),
  );
  const spare = view.layout.bar > 0 ? Math.max(0, view.layout.bar - needed) : 0;
  const layout = {
    ...view.layout,
    bar: view.layout.bar - spare,
    outcome: view.layout.outcome + spare,
  };

  return (
    <Box flexDirection="column" width={width}>
      {shown.map((row, i) => {
        const t = texts[i];
        const p = phases[i];
        if (!t || !p) return null;
        return (
          <Text key={`${row.reloader}-${row.reload}-${row.savedAt}`} wrap="truncate-end">
            {fitCells(rowCells(row, t, p, msPerCell, layout, theme), width).map((cell, j) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
              <Text key={j} color={cell.color}>
                {cell.text}
              </Text>
            ))}
          </Text>
        );
      })}
      {summary && (
        <Text wrap="truncate-end">
          {summaryCells(stats, width, theme).map((cell, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
            <Text key={i} color={cell.color}>
              {cell.text}
            </Text>
          ))}
        </Text>
      )}
      {legend && (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {legendText(msPerCell, width)}
        </Text>
      )}
    </Box>
  );
}
