import { Box } from "ink";
import type { ReactNode } from "react";
import type { Scope } from "../keys.js";
import { StatusBar } from "./StatusBar.js";

export interface ScreenFrameProps {
  scope: Scope;
  /** The screen's state, for the status bar's keys. */
  state?: string;
  width: number;
  /** Including the status bar. */
  height: number;
  children: ReactNode;
}

export const STATUS_BAR_LINES = 1;

/** A screen's body above the status bar; the body is clipped to its height. */
export function ScreenFrame({ scope, state, width, height, children }: ScreenFrameProps) {
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box
        flexDirection="column"
        width={width}
        height={height - STATUS_BAR_LINES}
        overflow="hidden"
      >
        {children}
      </Box>
      <StatusBar scope={scope} state={state} width={width} />
    </Box>
  );
}
