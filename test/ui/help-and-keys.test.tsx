import { afterEach, describe, expect, test } from "vitest";
import { KEY_BINDINGS, type Scope, statusItems } from "../../src/ui/keys.js";
import { closeApps, openApp } from "./helpers.js";

afterEach(closeApps);

function statusLine(frame: string): string {
  return frame.split("\n").at(-1) ?? "";
}

describe("help overlay", () => {
  test("? lists the keys of the current screen and the global ones, from the key table", async () => {
    const { screen } = await openApp();
    await screen.waitFor("Fixture course");
    await screen.press("?");
    const frame = await screen.waitFor("Keys");
    expect(frame).toContain("Course map");
    expect(frame).toContain("Everywhere");
    for (const b of KEY_BINDINGS.filter((b) => b.scope === "map" || b.scope === "global")) {
      expect(frame).toMatch(new RegExp(`${literal(b.label)} +${literal(b.description)}`));
    }
    expect(statusLine(frame)).toContain("Esc close");
  });

  test("Esc or ? closes it, and the screen's keys are not seen while it is open", async () => {
    const { screen } = await openApp();
    await screen.waitFor("Fixture course");
    await screen.press("?");
    await screen.waitFor("Everywhere");
    await screen.press("down");
    await screen.press("escape");
    let frame = await screen.waitFor("Fixture course");
    expect(frame).toMatch(/^> 1\. Alpha/m);
    await screen.press("?");
    await screen.waitFor("Everywhere");
    await screen.press("?");
    frame = await screen.waitFor("Fixture course");
    expect(frame).not.toContain("Everywhere");
  });

  test("shows the reader's keys in the reader", async () => {
    const { screen } = await openApp({ start: { lessonId: "alpha", screen: "reader" } });
    await screen.waitFor("Alpha, page one");
    await screen.press("?");
    const frame = await screen.waitFor("Everywhere");
    expect(frame).toContain("Reader");
    expect(frame).toMatch(/→ n +next page/);
    expect(frame).toMatch(/c +show the lesson's Python files/);
    expect(frame).not.toContain("Course map");
  });
});

describe("status bar", () => {
  test("shows the keys that work on each screen, from the key table", async () => {
    const { screen } = await openApp();
    const frame = await screen.waitFor("Fixture course");
    const expected = statusItems("map").map((i) => `${i.keys} ${i.text}`);
    expect(statusLine(frame)).toBe(expected.join("  "));

    await screen.press("t");
    await screen.waitFor("Quiz · Alpha");
    expect(statusLine(screen.frame())).toContain("1-6 answer");
    await screen.press("1");
    expect(statusLine(screen.frame())).toContain("Enter next");
    expect(statusLine(screen.frame())).not.toContain("1-6 answer");
  });
});

describe("key table", () => {
  const scopes: Scope[] = ["map", "reader", "lab", "quiz", "help"];
  const states = [
    undefined,
    "page",
    "last",
    "code",
    "asking",
    "feedback",
    "done",
    "overview",
    "zoomed",
    "confirm",
  ];

  test("no key means two things in the same screen and state", () => {
    const signature = (k: object) => JSON.stringify(k);
    for (const scope of scopes) {
      for (const state of states) {
        const seen = new Map<string, string>();
        for (const b of KEY_BINDINGS) {
          const applies =
            (b.scope === scope || b.scope === "global") &&
            (b.when === undefined || (state !== undefined && b.when.includes(state)));
          if (!applies) continue;
          for (const key of b.keys) {
            const before = seen.get(signature(key));
            expect(before, `${scope}/${state}: ${signature(key)}`).toBeUndefined();
            seen.set(signature(key), b.action);
          }
        }
      }
    }
  });

  test("every screen's status bar offers help", () => {
    for (const scope of scopes) {
      expect(statusItems(scope).map((i) => i.keys)).toContain("?");
    }
  });
});

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
