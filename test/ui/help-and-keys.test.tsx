import { afterEach, describe, expect, test } from "vitest";
import { helpSections, KEY_BINDINGS, type Scope, statusItems } from "../../src/ui/keys.js";
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

  test("in the quiz, the digits match the question's choices and each key is listed once", async () => {
    const { screen } = await openApp({ start: { lessonId: "alpha", screen: "quiz" } });
    await screen.waitFor("question 1 of 2");
    await screen.press("?");
    const frame = await screen.waitFor("Everywhere");
    expect(frame).toMatch(/^ {2}1-3 +answer with that choice$/m);
    expect(frame.match(/^ {2}Enter /gm)).toHaveLength(1);
    expect(frame.match(/^ {2}↑ k /gm)).toHaveLength(1);
    expect(frame).toMatch(/^ {2}↑ k +previous choice; scroll up \(after answering\)$/m);
    expect(frame).toMatch(/^ {2}Enter +answer with the highlighted choice; then the next/m);
  });

  test("the lab's y and n come after its other keys, under their own heading", () => {
    const sections = helpSections("lab", 8);
    expect(sections.map((s) => s.title)).toEqual([
      "Lab",
      "Lab, when asked to reset",
      "Lab, when asked to predict",
      "Everywhere",
    ]);
    expect(sections[0]?.entries[0]).toEqual({
      keys: "1-8",
      description: "run that experiment (some ask for your prediction first)",
    });
    expect(sections[1]?.entries.map((e) => e.keys)).toEqual(["y", "n"]);
    expect(sections[2]?.entries.map((e) => e.keys)).toEqual(["1-5", "Esc"]);
    expect(sections[0]?.entries.filter((e) => e.keys === "Esc q")).toEqual([
      {
        keys: "Esc q",
        description:
          "stop the server and go back to the map; from a zoomed pane or the missions, back to the whole lab",
      },
    ]);
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
    // The first question has three choices.
    expect(statusLine(screen.frame())).toContain("1-3 answer");
    await screen.press("1");
    expect(statusLine(screen.frame())).toContain("Enter next");
    expect(statusLine(screen.frame())).not.toContain("answer");
    await screen.press("enter");
    await screen.waitFor("question 2 of 2");
    expect(statusLine(screen.frame())).toMatch(/^1-2 answer {2}/);
  });

  test("the digit range is the count the screen gives, and goes when nothing answers to digits", () => {
    const run = (digits?: number) =>
      statusItems("lab", "overview", digits).find((i) => i.text === "run")?.keys;
    expect(run(8)).toBe("1-8");
    expect(run(1)).toBe("1");
    expect(run(0)).toBeUndefined();
    expect(run()).toBe("1-9");
    expect(statusItems("quiz", "asking", 4)[0]).toEqual({ keys: "1-4", text: "answer" });
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

  test("help lists each key once per heading (a key may mean another thing when asked)", () => {
    for (const scope of [...scopes, "small" as const]) {
      for (const section of helpSections(scope, 9)) {
        const keys = section.entries.flatMap((e) => e.keys.split(" "));
        expect(
          keys.filter((k, i) => keys.indexOf(k) !== i),
          `${scope}: ${section.title}`,
        ).toEqual([]);
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
