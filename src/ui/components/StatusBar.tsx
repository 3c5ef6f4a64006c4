import { Box, Text } from "ink";
import { type Scope, type StatusItem, statusItems } from "../keys.js";
import { useTheme } from "../theme.js";

const GAP = 2;

function itemWidth(item: StatusItem): number {
  return item.keys.length + 1 + item.text.length;
}

/** Keeps the items that fit in `width`, dropping from the end but keeping the last (help). */
export function fitStatusItems(items: StatusItem[], width: number): StatusItem[] {
  const kept = [...items];
  const total = () =>
    kept.reduce((sum, item) => sum + itemWidth(item), 0) + GAP * (kept.length - 1);
  while (kept.length > 1 && total() > width) kept.splice(kept.length - 2, 1);
  return kept;
}

export interface StatusBarProps {
  scope: Scope;
  state?: string;
  /** How many digit keys act here now, for the range shown (e.g. "1-4"). */
  digits?: number;
  width: number;
}

/** The keys that work here, from the key table. */
export function StatusBar({ scope, state, digits, width }: StatusBarProps) {
  const theme = useTheme();
  const items = fitStatusItems(statusItems(scope, state, digits), width);
  return (
    <Box width={width} height={1}>
      <Text wrap="truncate-end">
        {items.map((item, i) => (
          <Text key={`${item.keys}-${item.text}`}>
            {i > 0 ? " ".repeat(GAP) : ""}
            <Text bold color={theme.ui.key}>
              {item.keys}
            </Text>
            <Text color={theme.text.secondary}> {item.text}</Text>
          </Text>
        ))}
      </Text>
    </Box>
  );
}
