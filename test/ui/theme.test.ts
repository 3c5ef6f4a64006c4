import { describe, expect, test } from "vitest";
import { defaultTheme, noColorTheme, themeFromEnv } from "../../src/ui/theme.js";

describe("theme", () => {
  test("NO_COLOR or FORCE_COLOR=0 picks the no-colour theme, with text marks instead of glyphs", () => {
    expect(themeFromEnv({ NO_COLOR: "1" })).toBe(noColorTheme);
    expect(themeFromEnv({ FORCE_COLOR: "0" })).toBe(noColorTheme);
    expect(themeFromEnv({})).toBe(defaultTheme);
    expect(noColorTheme.symbols.met).toBe("[x]");
    expect(noColorTheme.symbols.unmet).toBe("[ ]");
    expect(Object.values(noColorTheme.text).every((c) => c === undefined)).toBe(true);
    expect(Object.values(noColorTheme.status).every((c) => c === undefined)).toBe(true);
  });
});
