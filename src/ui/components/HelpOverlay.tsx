import { Box, Text } from "ink";
import { useState } from "react";
import { useKeys } from "../hooks/use-keys.js";
import { type HelpSection, helpSections, type Scope } from "../keys.js";
import { clamp, padTo, wrap } from "../text.js";
import { useTheme } from "../theme.js";
import { Header } from "./Header.js";
import { ScreenDigitsContext, ScreenFrame, STATUS_BAR_LINES } from "./ScreenFrame.js";

type HelpLine =
  | { kind: "title"; text: string }
  | { kind: "entry"; keys: string; description: string }
  | { kind: "blank" };

const KEYS_WIDTH = 12;

/** The help's lines at `width`: a description too long for its row goes on below its keys. */
export function helpLines(sections: HelpSection[], width: number): HelpLine[] {
  const lines: HelpLine[] = [];
  const room = Math.max(1, width - KEYS_WIDTH - 2);
  for (const section of sections) {
    if (lines.length > 0) lines.push({ kind: "blank" });
    lines.push({ kind: "title", text: section.title });
    for (const entry of section.entries) {
      for (const [i, description] of wrap(entry.description, room).entries())
        lines.push({ kind: "entry", keys: i === 0 ? entry.keys : "", description });
    }
  }
  return lines;
}

export interface HelpViewProps {
  scope: Scope;
  /** How many digit keys act on the screen under the help (experiments, choices). */
  digits?: number;
  offset: number;
  width: number;
  height: number;
}

export function HelpView({ scope, digits, offset, width, height }: HelpViewProps) {
  const theme = useTheme();
  const lines = helpLines(helpSections(scope, digits), width);
  const bodyHeight = height - 2;
  const visible = lines.slice(offset, offset + bodyHeight);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header title="Keys" right="? or Esc closes this help" width={width} />
      <Text> </Text>
      {visible.map((line, i) => {
        const key = `${offset + i}`;
        if (line.kind === "blank") return <Text key={key}> </Text>;
        if (line.kind === "title")
          return (
            <Text key={key} bold wrap="truncate-end">
              {line.text}
            </Text>
          );
        return (
          <Text key={key} wrap="truncate-end">
            {"  "}
            <Text bold color={theme.ui.key}>
              {padTo(line.keys, KEYS_WIDTH)}
            </Text>
            {line.description}
          </Text>
        );
      })}
    </Box>
  );
}

export interface HelpOverlayProps {
  scope: Scope;
  digits?: number;
  width: number;
  height: number;
  isActive: boolean;
  onClose: () => void;
}

/** The keys of the current screen and the global ones, generated from the key table. */
export function HelpOverlay({ scope, digits, width, height, isActive, onClose }: HelpOverlayProps) {
  const [offset, setOffset] = useState(0);
  const viewHeight = height - STATUS_BAR_LINES;
  const maxOffset = Math.max(
    0,
    helpLines(helpSections(scope, digits), width).length - (viewHeight - 2),
  );
  useKeys(
    "help",
    ({ action }) => {
      if (action === "back") onClose();
      else if (action === "up") setOffset((o) => clamp(o - 1, 0, maxOffset));
      else if (action === "down") setOffset((o) => clamp(o + 1, 0, maxOffset));
    },
    { isActive },
  );
  // The help's own frame does not stand for the screen under it.
  return (
    <ScreenDigitsContext.Provider value={undefined}>
      <ScreenFrame scope="help" width={width} height={height}>
        <HelpView scope={scope} digits={digits} offset={offset} width={width} height={viewHeight} />
      </ScreenFrame>
    </ScreenDigitsContext.Provider>
  );
}
