import { Box, Text } from "ink";
import { Header } from "../components/Header.js";
import { numbered } from "../text.js";
import { useTheme } from "../theme.js";

export interface ReaderViewProps {
  title: string;
  /** "page 2 of 5" or the file being shown. */
  position: string;
  /** Rendered lines of the page; undefined while it is being rendered. */
  lines: string[] | undefined;
  /** Columns left blank before the lines. */
  indent?: number;
  offset: number;
  hint: string;
  width: number;
  height: number;
}

export const READER_CHROME_LINES = 2;

/** A lesson page or a Python file; only the lines that fit are rendered. */
export function ReaderView({
  title,
  position,
  lines,
  indent = 2,
  offset,
  hint,
  width,
  height,
}: ReaderViewProps) {
  const theme = useTheme();
  const bodyHeight = Math.max(0, height - READER_CHROME_LINES);
  const visible = numbered(lines ?? []).slice(offset, offset + bodyHeight);
  const total = lines?.length ?? 0;
  const more =
    total > bodyHeight
      ? `lines ${offset + 1}-${Math.min(total, offset + bodyHeight)} of ${total}${offset + bodyHeight < total ? " ↓" : ""}`
      : "";
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header title={title} right={position} width={width} />
      <Box flexDirection="column" height={bodyHeight} paddingLeft={indent} overflow="hidden">
        {lines === undefined ? (
          <Text color={theme.text.secondary}>Rendering…</Text>
        ) : (
          visible.map(({ id, line }) => (
            <Text key={id} wrap="truncate-end">
              {line === "" ? " " : line}
            </Text>
          ))
        )}
      </Box>
      <Box width={width} height={1}>
        <Box flexGrow={1}>
          <Text bold color={theme.text.accent} wrap="truncate-end">
            {hint}
          </Text>
        </Box>
        <Text color={theme.text.secondary}>{more}</Text>
      </Box>
    </Box>
  );
}
