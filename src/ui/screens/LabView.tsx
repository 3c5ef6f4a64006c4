import { Box, Text } from "ink";
import type { ReactNode } from "react";
import type { Experiment, Lab } from "../../course/schema.js";
import type { LabSessionSnapshot, LogLine, MissionStatus } from "../../lab/types.js";
import { Header } from "../components/Header.js";
import { Rule } from "../components/Rule.js";
import { numbered, padTo, plural, printable, printableLines, truncate, wrap } from "../text.js";
import { type Theme, useTheme } from "../theme.js";
import type { LabLayout } from "./lab-layout.js";

export type LabPane = "log" | "inspector";

export interface InspectorRow {
  left: string;
  /** Present for a request/response pair shown side by side. */
  right?: string;
  color?: string;
}

const LABEL_WIDTH = 8;
const BAR_WIDTH = 20;

function experimentTitle(lab: Lab, id: string | undefined): string {
  const exp = lab.experiments.find((e) => e.id === id);
  return exp ? `${exp.key} ${exp.title}` : (id ?? "");
}

export function progressBar(done: number, total: number, theme: Theme): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * BAR_WIDTH) : 0;
  return `[${theme.symbols.barFull.repeat(filled)}${theme.symbols.barEmpty.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
}

/** What the inspector shows: the last exchange, the last result, or the lab's introduction. */
export function inspectorRows(
  lab: Lab,
  snapshot: LabSessionSnapshot,
  width: number,
  theme: Theme,
): InspectorRow[] {
  const result = snapshot.lastResult;
  if (!result) {
    const keys = lab.experiments.map((e) => e.key);
    return [
      ...wrap(lab.intro, width).map((left) => ({ left })),
      { left: "" },
      ...wrap(
        `Press ${Math.min(...keys)}-${Math.max(...keys)} to run an experiment; its request and response appear here.`,
        width,
      ).map((left) => ({ left, color: theme.text.secondary })),
    ];
  }
  const rows: InspectorRow[] = [];
  const exchange = result.exchange;
  if (exchange?.note)
    rows.push(...wrap(exchange.note, width).map((left) => ({ left, color: theme.text.secondary })));
  if (exchange) {
    const request = printableLines(exchange.request);
    const response = printableLines(exchange.response);
    for (let i = 0; i < Math.max(request.length, response.length); i++) {
      rows.push({ left: request[i] ?? "", right: response[i] ?? "" });
    }
    return rows;
  }
  rows.push(...wrap(result.summary, width).map((left) => ({ left })));
  for (const [key, value] of Object.entries(result.values))
    rows.push({ left: `${key}: ${String(value)}`, color: theme.text.secondary });
  return rows;
}

function stateBadge(snapshot: LabSessionSnapshot, theme: Theme): { text: string; color?: string } {
  switch (snapshot.state) {
    case "listening":
      return { text: "● listening", color: theme.status.success };
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

export interface LabViewProps {
  title: string;
  lab: Lab;
  snapshot: LabSessionSnapshot;
  curl?: string;
  /** A mission just met, shown for a few seconds. */
  flash?: string;
  focus: LabPane;
  /** What the inspector shows, from `inspectorRows`. */
  inspector: InspectorRow[];
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

function experimentCell(
  exp: Experiment,
  snapshot: LabSessionSnapshot,
  width: number,
  theme: Theme,
) {
  const { running, correct, wrong } = theme.symbols;
  const markWidth = Math.max(running.length, correct.length, wrong.length);
  let mark = "";
  let color: string | undefined;
  if (snapshot.running?.experimentId === exp.id) {
    mark = running;
    color = theme.status.info;
  } else if (snapshot.lastResult?.experimentId === exp.id) {
    mark = snapshot.lastResult.ok ? correct : wrong;
    color = snapshot.lastResult.ok ? theme.status.success : theme.status.error;
  }
  const titleWidth = Math.max(1, width - String(exp.key).length - markWidth - 3);
  return (
    <Text key={exp.id} wrap="truncate-end">
      <Text bold color={theme.ui.key}>
        {exp.key}
      </Text>
      {` ${padTo(exp.title, titleWidth)} `}
      <Text color={color}>{mark.padEnd(markWidth)}</Text>
    </Text>
  );
}

function missionRow(m: MissionStatus, isNext: boolean, width: number, theme: Theme) {
  const count = m.needed > 1 ? ` ${Math.min(m.progress, m.needed)}/${m.needed}` : "";
  const mark = m.met ? theme.symbols.met : theme.symbols.unmet;
  return (
    <Text key={m.id} wrap="truncate-end">
      <Text color={m.met ? theme.status.success : theme.text.secondary}>{mark} </Text>
      <Text
        color={m.met ? theme.text.secondary : isNext ? theme.text.accent : undefined}
        bold={isNext}
      >
        {truncate(m.title, Math.max(1, width - mark.length - 1 - count.length))}
      </Text>
      <Text color={theme.text.secondary}>{count}</Text>
    </Text>
  );
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

/** The lab: server state, where the files are, experiments, missions, log and inspector. */
export function LabView({
  title,
  lab,
  snapshot,
  curl,
  flash,
  focus,
  logOffset,
  inspector,
  inspectorOffset,
  layout,
  width,
  height,
}: LabViewProps) {
  const theme = useTheme();
  const badge = stateBadge(snapshot, theme);
  const half = Math.floor((width - 2) / 2);

  let server: { text: string; color?: string };
  let second: { label: string; text: string; color?: string };
  switch (snapshot.state) {
    case "listening":
      server = {
        text: `listening on ${snapshot.url ?? "?"}${snapshot.pid ? `  (pid ${snapshot.pid})` : ""}`,
      };
      break;
    case "starting":
      server = { text: `starting the ${lab.sandbox} sandbox…`, color: theme.status.warning };
      break;
    case "failed":
      server = {
        text: `failed: ${snapshot.error?.message ?? "the sandbox stopped"}`,
        color: theme.status.error,
      };
      break;
    default:
      server = {
        text: snapshot.state === "stopping" ? "stopping…" : "stopped",
        color: theme.text.secondary,
      };
  }
  if (snapshot.state === "failed" && snapshot.error?.hint) {
    second = { label: "Hint", text: snapshot.error.hint, color: theme.status.warning };
  } else if (snapshot.workspace) {
    second = { label: "Files", text: `${snapshot.workspace}  (edit them in your own editor)` };
  } else {
    second = {
      label: "Files",
      text: snapshot.state === "starting" ? "preparing your copy of the lab's files…" : "none",
      color: theme.text.secondary,
    };
  }

  let notice: { text: string; color?: string; bold?: boolean };
  const running = snapshot.running;
  if (running) {
    const p = running.progress;
    notice = {
      text: `Running ${experimentTitle(lab, running.experimentId)}${p ? `  ${progressBar(p.done, p.total, theme)}${p.label ? `  ${p.label}` : ""}` : "…"}`,
      color: theme.status.info,
    };
  } else if (flash) {
    notice = { text: `${theme.symbols.met} ${flash}`, color: theme.status.success, bold: true };
  } else if (snapshot.lastResult) {
    const r = snapshot.lastResult;
    notice = {
      text: `${r.ok ? theme.symbols.correct : theme.symbols.wrong} ${experimentTitle(lab, r.experimentId)}: ${r.summary}`,
      color: r.ok ? undefined : theme.status.error,
    };
  } else {
    notice = {
      text: "Run an experiment with its digit, or send your own requests with curl or a browser.",
      color: theme.text.secondary,
    };
  }

  const allMet = snapshot.missions.length > 0 && snapshot.missions.every((m) => m.met);
  const nextMission = snapshot.missions.find((m) => !m.met);
  const met = snapshot.missions.filter((m) => m.met).length;

  const expCols = layout.experimentColumns;
  const expWidth = expCols === 2 ? Math.floor(half / 2) : half;
  const experimentRows: ReactNode[] = [];
  for (let row = 0; row < layout.listRows; row++) {
    const cells = [];
    for (let col = 0; col < expCols; col++) {
      const exp = lab.experiments[col * layout.listRows + row];
      if (exp)
        cells.push(
          <Box key={exp.id} width={expWidth}>
            {experimentCell(exp, snapshot, expWidth, theme)}
          </Box>,
        );
    }
    experimentRows.push(
      <Box key={`e${row}`} height={1}>
        {cells.length > 0 ? cells : <Text> </Text>}
      </Box>,
    );
  }
  const missionCap =
    snapshot.missions.length > layout.listRows ? layout.listRows - 1 : layout.listRows;
  const shownMissions = snapshot.missions.slice(0, Math.max(0, missionCap));
  const hiddenMissions = snapshot.missions.length - shownMissions.length;

  const logs = snapshot.logs;
  const logEnd = Math.max(0, logs.length - logOffset);
  const visibleLogs = logs.slice(Math.max(0, logEnd - layout.logLines), logEnd);

  const visibleRows = numbered(inspector).slice(
    inspectorOffset,
    inspectorOffset + layout.inspectorLines,
  );
  const colWidth = Math.floor((width - 3) / 2);
  const inspectorTitle = snapshot.lastResult
    ? `Inspector: ${experimentTitle(lab, snapshot.lastResult.experimentId)}`
    : "Inspector";
  const rowsBelow = inspector.length - inspectorOffset - layout.inspectorLines;

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header title={`Lab · ${title}`} right={badge.text} rightColor={badge.color} width={width} />
      <Labelled label="Server" color={server.color}>
        {server.text}
      </Labelled>
      <Labelled label={second.label} color={second.color}>
        {second.text}
      </Labelled>
      <Labelled label="Try" color={curl ? theme.text.code : theme.text.secondary}>
        {curl ?? "the curl command appears once the server listens"}
      </Labelled>
      <Text color={notice.color} bold={notice.bold} wrap="truncate-end">
        {notice.text}
      </Text>
      <Box height={1}>
        <Box width={half + 2}>
          <Text bold>Experiments</Text>
        </Box>
        <Text bold>
          Missions {met}/{snapshot.missions.length}
        </Text>
      </Box>
      <Box height={layout.listRows}>
        <Box flexDirection="column" width={half + 2}>
          {experimentRows}
        </Box>
        <Box flexDirection="column" width={width - half - 2}>
          {shownMissions.map((m) => missionRow(m, m === nextMission, width - half - 2, theme))}
          {hiddenMissions > 0 && <Text color={theme.text.secondary}>+{hiddenMissions} more</Text>}
        </Box>
      </Box>
      {allMet ? (
        <Text color={theme.status.success} bold wrap="truncate-end">
          All missions met. Press t to take the quiz.
        </Text>
      ) : (
        <Text color={theme.text.secondary} wrap="truncate-end">
          {nextMission ? `Hint: ${nextMission.hint}` : " "}
        </Text>
      )}
      <Rule
        title="Log"
        width={width}
        focused={focus === "log"}
        right={logOffset > 0 ? `${plural(logOffset, "newer line")} below, End follows` : undefined}
      />
      <Box flexDirection="column" height={layout.logLines} overflow="hidden">
        {visibleLogs.length === 0 ? (
          <Text color={theme.text.secondary}>No output yet.</Text>
        ) : (
          visibleLogs.map((line) => logLine(line, theme))
        )}
      </Box>
      <Rule
        title={inspectorTitle}
        width={width}
        focused={focus === "inspector"}
        right={rowsBelow > 0 ? `${plural(rowsBelow, "more line")} ↓` : undefined}
      />
      <Box flexDirection="column" height={layout.inspectorLines} overflow="hidden">
        {visibleRows.map(({ id, line: row }) =>
          row.right === undefined ? (
            <Text key={id} color={row.color} wrap="truncate-end">
              {row.left || " "}
            </Text>
          ) : (
            <Box key={id} height={1}>
              <Box width={colWidth}>
                <Text wrap="truncate-end">{row.left || " "}</Text>
              </Box>
              <Text color={theme.ui.border}> │ </Text>
              <Box width={colWidth}>
                <Text wrap="truncate-end">{row.right || " "}</Text>
              </Box>
            </Box>
          ),
        )}
      </Box>
    </Box>
  );
}
