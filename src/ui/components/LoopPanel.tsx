import { Box, Text } from "ink";
import { connectionsText, delayText, handshakeLines, type LoopView } from "../../lab/loop.js";
import { printable, truncate } from "../text.js";
import { type Theme, useTheme } from "../theme.js";
import { TIMELINE_GLYPHS, Timeline, timelineWindowMs } from "./Timeline.js";

const SPARK = "▁▂▃▄▅▆▇█";
const GAUGE_COLUMNS = 16;
/** The delay gauge reads 1 ms at its left end and 1 s at its right, on a log scale. */
const DELAY_FLOOR_MS = 1;
const DELAY_DECADES = 3;
/** The connections gauge is full at 10,000 (or the peak, when more), on a log scale. */
const CONNECTIONS_FULL = 10_000;

/** Where a delay sits on the gauge, 0 to 1. */
export function delayFraction(ms: number): number {
  if (ms <= DELAY_FLOOR_MS) return 0;
  return Math.min(1, Math.log10(ms / DELAY_FLOOR_MS) / DELAY_DECADES);
}

export function connectionsFraction(n: number, peak: number): number {
  if (n <= 0) return 0;
  return Math.min(1, Math.log10(1 + n) / Math.log10(1 + Math.max(CONNECTIONS_FULL, peak)));
}

/**
 * The server reports its loop every 250 ms; when those reports stop while it listens, its loop
 * is blocked: for how long so far (0 while it reports).
 */
export function blockedFor(view: LoopView, now: number): number {
  const last = view.delay?.at;
  if (last === undefined) return 0;
  const silent = now - last;
  return silent >= SILENT_MS ? silent : 0;
}

/** Three reports missed: not a slow tick any more. */
const SILENT_MS = 750;

/** "█████░░░░░" of `columns` cells. */
export function bar(fraction: number, columns = GAUGE_COLUMNS): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * columns);
  return "█".repeat(filled) + "░".repeat(columns - filled);
}

/** The delays as a sparkline of at most `columns` cells, newest at the right. */
export function sparkline(delays: { maxMs: number }[], columns: number): string {
  if (columns <= 0) return "";
  const shown = delays.slice(-columns);
  return shown
    .map(
      (d) => SPARK[Math.min(SPARK.length - 1, Math.floor(delayFraction(d.maxMs) * SPARK.length))],
    )
    .join("");
}

function delayColor(ms: number, theme: Theme): string | undefined {
  if (ms >= 100) return theme.status.error;
  if (ms >= 10) return theme.status.warning;
  return theme.status.success;
}

const COUNT_LEGEND = `reqs: requests in flight, + ten or more  ${TIMELINE_GLYPHS.blocked} loop blocked`;
const LEGEND = `${TIMELINE_GLYPHS.request}${TIMELINE_GLYPHS.requestNext} request  ${TIMELINE_GLYPHS.error} 5xx  ${TIMELINE_GLYPHS.blocked} loop blocked`;

/**
 * The event loop at a glance: the connections it holds and how late it runs (gauges, with the
 * last seconds as a sparkline), the last WebSocket handshake worked out, and a timeline with the
 * loop's blocked periods above one lane per concurrent request.
 */
export function LoopPanel({
  view,
  now,
  width,
  height,
  live = true,
}: {
  view: LoopView;
  now: number;
  width: number;
  height: number;
  /** The server is listening, so a silence means its loop is stuck, not that it stopped. */
  live?: boolean;
}) {
  const theme = useTheme();
  if (height <= 0) return null;
  const silentMs = live ? blockedFor(view, now) : 0;
  const label = (text: string) => text.padEnd(12);
  const gaugeWidth = width >= 70 ? GAUGE_COLUMNS : Math.max(6, Math.floor(width / 6));
  const c = view.connections;
  const connectionsBar = bar(
    connectionsFraction(c?.websockets ?? 0, view.peakWebsockets),
    gaugeWidth,
  );
  const delay = view.delay;
  const delayMs = silentMs > 0 ? silentMs : (delay?.maxMs ?? 0);
  const delayLine =
    silentMs > 0
      ? `BLOCKED: the loop has not run for ${delayText(silentMs)}`
      : delay
        ? `p99 ${delayText(delay.p99Ms)} · max ${delayText(delay.maxMs)}`
        : "not measured yet";
  const sparkRoom = width - 12 - gaugeWidth - 2 - delayLine.length - 3;
  const spark = sparkRoom >= 8 ? sparkline(view.delays, Math.min(40, sparkRoom)) : "";
  const gauges = Math.min(2, height);
  const rest = height - gauges;
  const windowStart = now - timelineWindowMs(Math.max(1, width - 5));
  const [measuredLoop, ...requestLanes] = view.lanes;
  // While it is blocked the server sends nothing: its silence is drawn as a block still running.
  const loopLane =
    measuredLoop && silentMs > 0 && view.delay
      ? {
          ...measuredLoop,
          bars: [
            ...measuredLoop.bars,
            { target: "blocked", start: view.delay.at, outcome: "blocked" as const },
          ],
        }
      : measuredLoop;
  const recent = requestLanes.filter((lane) => (lane.bars.at(-1)?.end ?? 0) >= windowStart);
  const lanes = loopLane ? [loopLane, ...recent] : recent;
  const timelineWanted = lanes.length + 1;
  const handshakeRoom = view.handshake ? Math.max(0, rest - Math.min(timelineWanted, 3)) : 0;
  const shake = handshakeLines(view, handshakeRoom >= 6 ? 6 : handshakeRoom >= 1 ? 1 : 0);
  const timelineLines = rest - shake.length;
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text>{label("Connections")}</Text>
        <Text color={theme.status.info}>{connectionsBar}</Text>
        <Text> {truncate(connectionsText(view), Math.max(0, width - 13 - gaugeWidth))}</Text>
      </Text>
      {gauges > 1 && (
        <Text wrap="truncate-end">
          <Text>{label("Loop delay")}</Text>
          <Text color={delayColor(delayMs, theme)}>{bar(delayFraction(delayMs), gaugeWidth)}</Text>
          <Text> {delayLine}</Text>
          {spark && <Text color={theme.text.secondary}>{`   ${spark}`}</Text>}
        </Text>
      )}
      {shake.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the lines are positional
        <Text key={i} color={i === 0 ? undefined : theme.text.secondary} wrap="truncate-end">
          {truncate(printable(line), width)}
        </Text>
      ))}
      {timelineLines > 0 &&
        (timelineLines >= lanes.length + 1 ? (
          <Timeline
            lanes={lanes}
            now={now}
            width={width}
            height={timelineLines}
            legend={LEGEND}
            empty="No request yet."
          />
        ) : (
          <Timeline
            lanes={lanes.slice(0, 1)}
            counts={{ label: "reqs", lanes: lanes.slice(1) }}
            now={now}
            width={width}
            height={timelineLines}
            legend={COUNT_LEGEND}
          />
        ))}
    </Box>
  );
}
