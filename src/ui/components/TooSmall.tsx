import { Box, Text } from "ink";
import { MIN_COLUMNS, MIN_ROWS } from "../hooks/use-terminal-size.js";
import { quitKeysWhenSmall } from "../keys.js";
import { numbered, wrap } from "../text.js";
import { useTheme } from "../theme.js";

export interface TooSmallProps {
  columns: number;
  rows: number;
}

/** Shown instead of the app until the terminal is at least 80x24; never taller than it. Only quitting works here. */
export function TooSmall({ columns, rows }: TooSmallProps) {
  const theme = useTheme();
  const message = `Please enlarge the terminal to at least ${MIN_COLUMNS}x${MIN_ROWS} (now ${columns}x${rows}). ${quitKeysWhenSmall()} quits.`;
  const lines = wrap(message, Math.max(1, columns)).slice(0, Math.max(1, rows - 1));
  return (
    <Box flexDirection="column" width={columns}>
      {numbered(lines).map(({ id, line }) => (
        <Text key={id} color={theme.status.warning} wrap="truncate-end">
          {line}
        </Text>
      ))}
    </Box>
  );
}
