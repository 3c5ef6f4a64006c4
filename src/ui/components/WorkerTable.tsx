import { Box, Text } from "ink";
import { exitLabel, type WorkerRow } from "../../lab/workers.js";
import { type Cell, fitCells } from "../cells.js";
import { padTo, printable, truncate } from "../text.js";
import { type Theme, useTheme } from "../theme.js";

/** Marks a worker that died in the middle of things (timeout, kill, crash), with or without colour. */
export const DIED = "✕";

const GAP = "  ";
const STATE_WIDTH = 7; // "booting", "exiting"
const SERVED_WIDTH = 6; // "SERVED"
const AGE_WIDTH = 6; // "59m59s"
/** Below this many columns for the request, the age column goes. */
const MIN_CURRENT_WITH_AGE = 24;
/** The request column stops growing here, so that its running time stays near the target. */
const MAX_CURRENT = 48;
/** Below this many columns for the request, its running time goes. */
const MIN_CURRENT_WITH_ELAPSED = 14;

/** "0.4s", "2.3s", "12s", "3m04s", "1h02m": short enough for a table cell. */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) ? Math.max(0, ms) : 0;
  if (safe < 10_000) return `${(Math.floor(safe / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(safe / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A worker gone because something went wrong, as opposed to being asked to stop. */
export function diedBadly(row: Pick<WorkerRow, "reason" | "signal" | "code">): boolean {
  switch (row.reason) {
    case "timeout":
    case "killed":
    case "crash":
    case "boot-failed":
      return true;
    case undefined:
      return row.signal !== undefined || (row.code !== undefined && row.code !== 0);
    default:
      return false;
  }
}

function stateColor(row: WorkerRow, theme: Theme): string | undefined {
  switch (row.state) {
    case "busy":
      return theme.status.warning;
    case "idle":
      return theme.status.success;
    case "booting":
      return theme.status.info;
    case "exiting":
      return theme.status.warning;
    default:
      return theme.text.secondary;
  }
}

export interface WorkerTableColumns {
  pid: number;
  age: boolean;
  elapsed: boolean;
  current: number;
}

/** Which columns fit in `width`: the age goes first, then the request's running time. */
export function workerTableColumns(rows: readonly WorkerRow[], width: number): WorkerTableColumns {
  const pid = Math.max(3, ...rows.map((r) => String(r.pid).length));
  const fixed = pid + GAP.length + STATE_WIDTH + GAP.length + SERVED_WIDTH + GAP.length;
  let current = width - fixed - AGE_WIDTH - GAP.length;
  let age = true;
  if (current < MIN_CURRENT_WITH_AGE) {
    age = false;
    current = width - fixed;
  }
  return {
    pid,
    age,
    elapsed: current >= MIN_CURRENT_WITH_ELAPSED,
    current: Math.max(0, Math.min(MAX_CURRENT, current)),
  };
}

/** The request column: what the worker is doing, or why it went away and when. */
function currentCell(row: WorkerRow, now: number, cols: WorkerTableColumns, theme: Theme): Cell[] {
  const width = cols.current;
  if (width <= 0) return [];
  if (row.current) {
    const what = printable(`${row.current.method} ${row.current.target}`);
    if (!cols.elapsed) return [{ text: padTo(what, width) }];
    const elapsed = formatDuration(now - row.current.startedAt);
    const room = Math.max(0, width - elapsed.length - 1);
    return [
      { text: `${padTo(what, room)} ` },
      { text: padTo(elapsed, width - room - 1), color: theme.status.warning },
    ];
  }
  if (row.state === "exited" || row.state === "exiting" || row.reason) {
    const bad = diedBadly(row);
    const ago =
      row.state === "exited" && row.endedAt !== undefined && cols.elapsed
        ? `, ${formatDuration(now - row.endedAt)} ago`
        : "";
    const why = `${bad ? `${DIED} ` : ""}${printable(exitLabel(row))}${ago}`;
    return [{ text: padTo(why, width), color: bad ? theme.status.error : theme.text.secondary }];
  }
  return [{ text: padTo(row.state === "idle" ? "-" : "", width), color: theme.text.secondary }];
}

function rowCells(row: WorkerRow, now: number, cols: WorkerTableColumns, theme: Theme): Cell[] {
  const cells: Cell[] = [
    { text: `${String(row.pid).padStart(cols.pid)}${GAP}` },
    { text: `${padTo(row.state, STATE_WIDTH)}${GAP}`, color: stateColor(row, theme) },
    { text: `${truncate(String(row.served), SERVED_WIDTH).padStart(SERVED_WIDTH)}${GAP}` },
  ];
  if (cols.age) {
    const age = row.state === "exited" ? "" : formatDuration(now - row.bootedAt);
    cells.push({ text: `${padTo(age, AGE_WIDTH)}${GAP}`, color: theme.text.secondary });
  }
  cells.push(...currentCell(row, now, cols, theme));
  return cells;
}

export interface WorkerTableProps {
  rows: WorkerRow[];
  now: number;
  width: number;
  /** Lines it may take, the header included. */
  height: number;
}

/**
 * One line per worker process: pid, state, requests served, age and the request it is on (with
 * how long it has been running); workers that exited a moment ago stay, dimmed, with why.
 */
export function WorkerTable({ rows, now, width, height }: WorkerTableProps) {
  const theme = useTheme();
  if (height <= 0 || width <= 0) return null;
  const cols = workerTableColumns(rows, width);
  const header: Cell[] = [
    { text: `${"PID".padStart(cols.pid)}${GAP}` },
    { text: `${padTo("STATE", STATE_WIDTH)}${GAP}` },
    { text: `${"SERVED".padStart(SERVED_WIDTH)}${GAP}` },
    ...(cols.age ? [{ text: `${padTo("AGE", AGE_WIDTH)}${GAP}` }] : []),
    { text: "REQUEST" },
  ];
  const room = height - 1;
  const shown = rows.length > room ? rows.slice(0, Math.max(0, room - 1)) : rows;
  const hidden = rows.length - shown.length;
  return (
    <Box flexDirection="column" width={width}>
      <Text bold color={theme.text.secondary} wrap="truncate-end">
        {fitCells(header, width)
          .map((c) => c.text)
          .join("")}
      </Text>
      {rows.length === 0 && room > 0 && (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {truncate("No workers yet.", width)}
        </Text>
      )}
      {shown.map((row) => {
        const gone = row.state === "exited";
        return (
          <Text key={row.pid} dimColor={gone && theme.color} wrap="truncate-end">
            {fitCells(rowCells(row, now, cols, theme), width).map((cell, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional columns
              <Text key={i} color={cell.color} bold={cell.bold}>
                {cell.text}
              </Text>
            ))}
          </Text>
        );
      })}
      {hidden > 0 && room > 0 && (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {truncate(`… ${hidden} more`, width)}
        </Text>
      )}
    </Box>
  );
}
