import { Box } from "ink";
import { createContext, type ReactNode, useContext, useLayoutEffect } from "react";
import type { Scope } from "../keys.js";
import { StatusBar } from "./StatusBar.js";

/**
 * Receives the digit count of the screen shown, so that the help overlay (drawn by the app,
 * over a hidden screen) writes the same digit range as the screen's status bar.
 */
export const ScreenDigitsContext = createContext<
  ((digits: number | undefined) => void) | undefined
>(undefined);

export interface ScreenFrameProps {
  scope: Scope;
  /** The screen's state, for the status bar's keys. */
  state?: string;
  /** How many digit keys act on the screen now (experiments, choices); 0 when none does. */
  digits?: number;
  width: number;
  /** Including the status bar. */
  height: number;
  children: ReactNode;
}

export const STATUS_BAR_LINES = 1;

/** A screen's body above the status bar; the body is clipped to its height. */
export function ScreenFrame({ scope, state, digits, width, height, children }: ScreenFrameProps) {
  const reportDigits = useContext(ScreenDigitsContext);
  useLayoutEffect(() => {
    reportDigits?.(digits);
  }, [reportDigits, digits]);
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
      <StatusBar scope={scope} state={state} digits={digits} width={width} />
    </Box>
  );
}
