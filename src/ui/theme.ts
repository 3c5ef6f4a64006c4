import { createContext, useContext } from "react";
import { colorFromEnv } from "../course/markdown.js";

type Color = string | undefined;

/** Semantic tokens: screens ask for a role ("success"), never for a colour ("green"). */
export interface Theme {
  name: "default" | "no-color";
  /** Whether text may carry colour escapes (markdown, highlighted code). */
  color: boolean;
  text: { primary: Color; secondary: Color; accent: Color; link: Color; code: Color };
  status: { success: Color; warning: Color; error: Color; info: Color };
  ui: { focus: Color; border: Color; key: Color };
  symbols: {
    pointer: string;
    met: string;
    unmet: string;
    correct: string;
    wrong: string;
    running: string;
    barFull: string;
    barEmpty: string;
    bullet: string;
    warning: string;
    rule: string;
  };
}

export const defaultTheme: Theme = {
  name: "default",
  color: true,
  text: { primary: undefined, secondary: "gray", accent: "cyan", link: "blue", code: "yellow" },
  status: { success: "green", warning: "yellow", error: "red", info: "cyan" },
  ui: { focus: "cyan", border: "gray", key: "cyan" },
  symbols: {
    pointer: "›",
    met: "✔",
    unmet: "○",
    correct: "✔",
    wrong: "✘",
    running: "…",
    barFull: "█",
    barEmpty: "░",
    bullet: "•",
    warning: "!",
    rule: "─",
  },
};

export const noColorTheme: Theme = {
  name: "no-color",
  color: false,
  text: {
    primary: undefined,
    secondary: undefined,
    accent: undefined,
    link: undefined,
    code: undefined,
  },
  status: { success: undefined, warning: undefined, error: undefined, info: undefined },
  ui: { focus: undefined, border: undefined, key: undefined },
  symbols: {
    pointer: ">",
    met: "[x]",
    unmet: "[ ]",
    correct: "[x]",
    wrong: "[!]",
    running: "...",
    barFull: "#",
    barEmpty: "-",
    bullet: "*",
    warning: "!",
    rule: "-",
  },
};

export function themeFromEnv(env: NodeJS.ProcessEnv = process.env): Theme {
  return colorFromEnv(env) ? defaultTheme : noColorTheme;
}

export const ThemeContext = createContext<Theme>(themeFromEnv());

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
