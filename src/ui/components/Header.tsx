import { Box, Text } from "ink";
import { truncate } from "../text.js";
import { useTheme } from "../theme.js";

export interface HeaderProps {
  title: string;
  /** Shown at the right end (e.g. "page 2 of 5"). */
  right?: string;
  rightColor?: string;
  width: number;
}

/** The one-line title of a screen. */
export function Header({ title, right = "", rightColor, width }: HeaderProps) {
  const theme = useTheme();
  const rightText = truncate(right, Math.max(0, Math.floor(width / 2)));
  const titleWidth = Math.max(1, width - rightText.length - 2);
  return (
    <Box width={width} height={1}>
      <Box flexGrow={1}>
        <Text bold color={theme.text.accent} wrap="truncate-end">
          {truncate(title, titleWidth)}
        </Text>
      </Box>
      {rightText !== "" && (
        <Text color={rightColor ?? theme.text.secondary} wrap="truncate-end">
          {rightText}
        </Text>
      )}
    </Box>
  );
}
