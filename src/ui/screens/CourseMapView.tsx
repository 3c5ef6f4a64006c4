import { Box, Text } from "ink";
import type { ClassroomStatus } from "../../classroom/client.js";
import { formatScore } from "../../course/quiz.js";
import { STATE_LABEL } from "../../progress/summary.js";
import type { LessonState } from "../../progress/types.js";
import { Header } from "../components/Header.js";
import type { LessonSummary } from "../route.js";
import { clamp, numbered, padTo, plural, truncate, wrap } from "../text.js";
import { type Theme, useTheme } from "../theme.js";

function stateColor(state: LessonState, theme: Theme): string | undefined {
  if (state === "done") return theme.status.success;
  if (state === "in-progress") return theme.status.warning;
  return theme.text.secondary;
}

export interface DetailLine {
  text: string;
  bold?: boolean;
  dim?: boolean;
}

/** An item after the lessons: the final exam, the completion summary. */
export interface MapEntry {
  key: string;
  label: string;
  /** In the lessons' state column, e.g. "passed". */
  state: string;
  tone: "success" | "warning" | "secondary";
  /** In the lessons' stats columns. */
  stats: string[];
  /** Shown below the list while the entry is selected. */
  detail: DetailLine[];
}

export interface CourseMapViewProps {
  title: string;
  notice?: string;
  /** "Continue: <lesson> — <where>", the first item when there is a last position. */
  continueLabel?: string;
  lessons: LessonSummary[];
  /** After the lessons. */
  entries?: MapEntry[];
  /** Index into [continue?, ...lessons, ...entries]. */
  selected: number;
  /** The lesson whose summary and objectives are shown. */
  detail?: LessonSummary;
  /** Every quiz (and the exam) passed: the header says so rather than counting done lessons. */
  complete?: boolean;
  /** How the classroom link goes, when the learner joined one: shown under the header. */
  classroom?: ClassroomStatus;
  width: number;
  height: number;
}

const POINTER_WIDTH = 2;

const STATE_WIDTH = 11;
const QUIZ_WIDTH = 9;
const MISSIONS_WIDTH = 13;
const PAGES_WIDTH = 11;

function statsColumns(s: LessonSummary, withPages: boolean): string[] {
  const columns = [
    padTo(STATE_LABEL[s.state], STATE_WIDTH),
    padTo(`quiz ${s.quizBest === null ? "-" : formatScore(s.quizBest)}`, QUIZ_WIDTH),
    `missions ${s.missionsMet}/${s.missionCount}`,
  ];
  if (withPages) columns[2] = padTo(columns[2] ?? "", MISSIONS_WIDTH);
  if (withPages) columns.push(`pages ${s.pagesRead}/${s.pageCount}`);
  return columns;
}

/** Width of the stats after a lesson's title, with or without the pages column. */
function statsWidth(withPages: boolean): number {
  return withPages
    ? STATE_WIDTH + 1 + QUIZ_WIDTH + 1 + MISSIONS_WIDTH + 1 + PAGES_WIDTH
    : STATE_WIDTH + 1 + QUIZ_WIDTH + 1 + MISSIONS_WIDTH;
}

/** Joins items with `separator` into rows of at most `width`, breaking only between items. */
function joinWrapped(items: string[], separator: string, width: number): string[] {
  const rows: string[] = [];
  let row = "";
  for (const item of items) {
    if (row !== "" && row.length + separator.length + item.length > width) {
      rows.push(row);
      row = item;
    } else {
      row = row === "" ? item : `${row}${separator}${item}`;
    }
  }
  if (row !== "") rows.push(row);
  return rows;
}

function detailLines(
  s: LessonSummary,
  width: number,
  bullet: string,
  pagesRead: boolean,
): DetailLine[] {
  const { meta, lab } = s.lesson;
  const pages = plural(s.pageCount, "page") + (pagesRead ? `, ${s.pagesRead} read` : "");
  const facts = [
    meta.server,
    `about ${meta.minutes} min`,
    pages,
    plural(lab.experiments.length, "experiment"),
    plural(lab.missions.length, "mission"),
  ];
  const lines: DetailLine[] = [
    { text: meta.title, bold: true },
    ...joinWrapped(facts, " · ", width).map((text) => ({ text, dim: true })),
    ...wrap(meta.summary, width).map((text) => ({ text })),
    { text: "" },
    { text: "You will:", dim: true },
  ];
  for (const objective of meta.objectives) {
    for (const text of wrap(`${bullet} ${objective}`, width)) lines.push({ text });
  }
  return lines;
}

/** The course map: every lesson with its progress, and the selected lesson's details. */
export function CourseMapView({
  title,
  notice,
  continueLabel,
  lessons,
  entries = [],
  selected,
  detail,
  complete = false,
  classroom,
  width,
  height,
}: CourseMapViewProps) {
  const theme = useTheme();
  const done = lessons.filter((l) => l.state === "done").length;
  const noticeLines = notice ? wrap(`${theme.symbols.warning} ${notice}`, width).slice(0, 2) : [];
  const offset = continueLabel === undefined ? 0 : 1;
  const itemCount = lessons.length + offset + entries.length;
  const listHeight = clamp(height - 3 - noticeLines.length - 6, Math.min(3, itemCount), itemCount);
  const first = clamp(
    selected - Math.floor(listHeight / 2),
    0,
    Math.max(0, itemCount - listHeight),
  );
  const detailsHeight = Math.max(0, height - 3 - noticeLines.length - listHeight);
  // The pages column goes before any title is cut short; the pages read move to the details.
  const longestTitle = Math.max(
    0,
    ...lessons.map((l, i) => `${i + 1}. ${l.lesson.meta.title}`.length),
  );
  const withPages = POINTER_WIDTH + longestTitle + 1 + statsWidth(true) <= width;
  const titleWidth = Math.max(10, width - POINTER_WIDTH - 1 - statsWidth(withPages));

  const rows = [];
  for (let i = first; i < Math.min(itemCount, first + listHeight); i++) {
    const isSelected = i === selected;
    const pointer = isSelected ? `${theme.symbols.pointer} ` : "  ";
    if (i < offset && continueLabel !== undefined) {
      rows.push(
        <Text
          key="continue"
          bold={isSelected}
          color={isSelected ? theme.text.accent : undefined}
          wrap="truncate-end"
        >
          {pointer}
          {truncate(continueLabel, width - POINTER_WIDTH)}
        </Text>,
      );
      continue;
    }
    const entry = entries[i - offset - lessons.length];
    if (entry) {
      const tone =
        entry.tone === "success"
          ? theme.status.success
          : entry.tone === "warning"
            ? theme.status.warning
            : theme.text.secondary;
      const [first = "", ...others] = entry.stats;
      rows.push(
        <Text key={entry.key} wrap="truncate-end">
          <Text bold={isSelected} color={isSelected ? theme.text.accent : undefined}>
            {pointer}
            {padTo(entry.label, titleWidth)}{" "}
          </Text>
          <Text color={tone}>{padTo(entry.state, STATE_WIDTH)} </Text>
          <Text color={theme.text.secondary}>
            {[padTo(first, QUIZ_WIDTH), ...others].join(" ").trimEnd()}
          </Text>
        </Text>,
      );
      continue;
    }
    const s = lessons[i - offset];
    if (!s) continue;
    const [state, quiz, ...rest] = statsColumns(s, withPages);
    rows.push(
      <Text key={s.lesson.id} wrap="truncate-end">
        <Text bold={isSelected} color={isSelected ? theme.text.accent : undefined}>
          {pointer}
          {padTo(`${i - offset + 1}. ${s.lesson.meta.title}`, titleWidth)}{" "}
        </Text>
        <Text color={stateColor(s.state, theme)}>{state} </Text>
        <Text color={theme.text.secondary}>{[quiz, ...rest].join(" ")}</Text>
      </Text>,
    );
  }

  const selectedEntry = entries[selected - offset - lessons.length];
  const details = numbered(
    detail
      ? detailLines(detail, width - 2, theme.symbols.bullet, !withPages)
      : (selectedEntry?.detail ?? []).flatMap((line) =>
          line.text === "" ? [line] : wrap(line.text, width - 2).map((text) => ({ ...line, text })),
        ),
  ).slice(0, detailsHeight);

  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header
        title={title}
        right={
          complete
            ? `course complete${done < lessons.length ? ` · ${done} of ${lessons.length} labs finished` : ""}`
            : `${done} of ${lessons.length} lessons done`
        }
        width={width}
      />
      {numbered(noticeLines).map(({ id, line }) => (
        <Text key={`notice-${id}`} color={theme.status.warning} wrap="truncate-end">
          {line}
        </Text>
      ))}
      {classroom ? (
        <Text
          color={classroom.ok ? theme.text.secondary : theme.status.warning}
          wrap="truncate-end"
        >
          {classroom.text}
        </Text>
      ) : (
        <Text> </Text>
      )}
      {rows}
      <Text> </Text>
      {details.map(({ id, line }) => (
        <Text
          key={`detail-${id}`}
          bold={line.bold}
          color={line.dim ? theme.text.secondary : undefined}
          wrap="truncate-end"
        >
          {"  "}
          {line.text === "" ? " " : line.text}
        </Text>
      ))}
    </Box>
  );
}
