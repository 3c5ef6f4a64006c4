import { Text } from "ink";
import { truncate } from "../text.js";
import { useTheme } from "../theme.js";

export interface RuleProps {
  title: string;
  width: number;
  focused?: boolean;
  /** Shown at the right end of the rule (e.g. "12 lines above"). */
  right?: string;
}

/** A pane's heading: a line with its title, highlighted when the pane has the focus. */
export function Rule({ title, width, focused = false, right }: RuleProps) {
  const theme = useTheme();
  const { rule, pointer } = theme.symbols;
  const head = `${rule} ${focused ? `${pointer} ` : ""}${title} `;
  const tail = right ? ` ${right} ${rule}` : "";
  const fill = Math.max(0, width - head.length - tail.length);
  return (
    <Text bold={focused} color={focused ? theme.ui.focus : theme.ui.border} wrap="truncate-end">
      {truncate(head + rule.repeat(fill) + tail, width)}
    </Text>
  );
}
