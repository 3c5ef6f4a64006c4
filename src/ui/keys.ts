import type { Key } from "ink";

/**
 * Where a binding works: "global" everywhere, the others on one screen (or the help overlay, or
 * the "please enlarge" message shown while the terminal is too small).
 */
export type Scope =
  | "global"
  | "map"
  | "reader"
  | "lab"
  | "quiz"
  | "exam"
  | "completion"
  | "help"
  | "small";

export type KeyAction =
  | "quit"
  | "help"
  | "back"
  | "up"
  | "down"
  | "pageUp"
  | "pageDown"
  | "top"
  | "bottom"
  | "open"
  | "next"
  | "prev"
  | "code"
  | "lab"
  | "quiz"
  | "run"
  | "focus"
  | "zoom"
  | "missions"
  | "unzoom"
  | "reset"
  | "confirm"
  | "cancel"
  | "choose"
  | "answer"
  | "retake"
  | "start"
  | "edit"
  | "exam"
  | "summary"
  | "write";

type KeyName =
  | "up"
  | "down"
  | "left"
  | "right"
  | "pageUp"
  | "pageDown"
  | "home"
  | "end"
  | "return"
  | "escape"
  | "tab";

export type KeySpec =
  | { name: KeyName }
  | { char: string }
  | { ctrl: string }
  | { digits: readonly [number, number] };

export interface KeyBinding {
  scope: Scope;
  action: KeyAction;
  keys: readonly KeySpec[];
  /** How the keys are written in the help overlay. */
  label: string;
  description: string;
  /** Short text for the status bar; the binding stays out of the status bar without it. */
  status?: string;
  /** Key label in the status bar when it differs from `label` (e.g. "↑↓" for a pair). */
  statusLabel?: string;
  /** The screen states the binding works in (e.g. the quiz's "asking"); all when absent. */
  when?: readonly string[];
  /**
   * Help lists the binding under this short heading, after the screen's other keys (e.g. "when
   * asked" for the answers to a question); with them when absent.
   */
  group?: string;
}

const up: KeySpec[] = [{ name: "up" }, { char: "k" }];
const down: KeySpec[] = [{ name: "down" }, { char: "j" }];
const back: KeySpec[] = [{ name: "escape" }, { char: "q" }];

export const KEY_BINDINGS: readonly KeyBinding[] = [
  {
    scope: "global",
    action: "help",
    keys: [{ char: "?" }],
    label: "?",
    description: "show or hide the keys",
    status: "help",
  },
  {
    scope: "global",
    action: "quit",
    keys: [{ ctrl: "c" }],
    label: "Ctrl+C",
    description: "quit from anywhere (stops the lab server)",
  },

  {
    scope: "map",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "move up",
    status: "move",
    statusLabel: "↑↓",
  },
  { scope: "map", action: "down", keys: down, label: "↓ j", description: "move down" },
  {
    scope: "map",
    action: "open",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "open the lesson where you left it, or continue",
    status: "open",
  },
  {
    scope: "map",
    action: "lab",
    keys: [{ char: "l" }],
    label: "l",
    description: "open the lesson's lab",
    status: "lab",
  },
  {
    scope: "map",
    action: "quiz",
    keys: [{ char: "t" }],
    label: "t",
    description: "take the lesson's quiz (test)",
    status: "quiz",
  },
  {
    scope: "map",
    action: "exam",
    keys: [{ char: "e" }],
    label: "e",
    description: "take the final exam (open at any time)",
    status: "exam",
    when: ["exam", "exam-complete"],
  },
  {
    scope: "map",
    action: "summary",
    keys: [{ char: "s" }],
    label: "s",
    description: "the course completion summary (once the course is complete)",
    status: "summary",
    when: ["complete", "exam-complete"],
  },
  {
    scope: "map",
    action: "quit",
    keys: [{ char: "q" }],
    label: "q",
    description: "quit",
    status: "quit",
  },

  {
    scope: "reader",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "scroll up",
    status: "scroll",
    statusLabel: "↑↓",
  },
  { scope: "reader", action: "down", keys: down, label: "↓ j", description: "scroll down" },
  {
    scope: "reader",
    action: "pageDown",
    keys: [{ name: "pageDown" }, { char: " " }],
    label: "PgDn Space",
    description: "scroll a screen down; at the end, next page",
  },
  {
    scope: "reader",
    action: "pageUp",
    keys: [{ name: "pageUp" }],
    label: "PgUp",
    description: "scroll a screen up",
  },
  {
    scope: "reader",
    action: "next",
    keys: [{ name: "right" }, { char: "n" }],
    label: "→ n",
    description: "next page",
    status: "page",
    statusLabel: "←→",
  },
  {
    scope: "reader",
    action: "prev",
    keys: [{ name: "left" }, { char: "p" }],
    label: "← p",
    description: "previous page",
  },
  {
    scope: "reader",
    action: "next",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "next page",
    when: ["page"],
  },
  {
    scope: "reader",
    action: "lab",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "open the lab (on the last page)",
    status: "open the lab",
    when: ["last"],
  },
  {
    scope: "reader",
    action: "code",
    keys: [{ char: "c" }],
    label: "c",
    description: "show the lesson's Python files, or back to its pages",
    status: "code",
  },
  {
    scope: "reader",
    action: "lab",
    keys: [{ char: "l" }],
    label: "l",
    description: "open the lab",
    status: "lab",
    when: ["page", "code"],
  },
  {
    scope: "reader",
    action: "quiz",
    keys: [{ char: "t" }],
    label: "t",
    description: "take the quiz",
  },
  {
    scope: "reader",
    action: "back",
    keys: back,
    label: "Esc q",
    description: "back to the course map",
    status: "back",
    statusLabel: "Esc",
  },

  {
    scope: "lab",
    action: "confirm",
    keys: [{ char: "y" }],
    label: "y",
    description: "yes, reset the workspace files",
    status: "yes",
    when: ["confirm"],
    group: "when asked to reset",
  },
  {
    scope: "lab",
    action: "cancel",
    keys: [{ char: "n" }, { name: "escape" }],
    label: "n",
    description: "no, keep the workspace files as they are (Esc says no too)",
    status: "no",
    when: ["confirm"],
    group: "when asked to reset",
  },
  {
    scope: "lab",
    action: "choose",
    keys: [{ digits: [1, 5] }],
    label: "1-5",
    description: "your prediction; then the experiment runs",
    status: "predict",
    when: ["predict"],
    group: "when asked to predict",
  },
  {
    scope: "lab",
    action: "cancel",
    keys: [{ name: "escape" }],
    label: "Esc",
    description: "no prediction: the experiment does not run",
    status: "cancel",
    when: ["predict"],
    group: "when asked to predict",
  },
  {
    scope: "lab",
    action: "run",
    keys: [{ digits: [1, 9] }],
    label: "1-9",
    description: "run that experiment (some ask for your prediction first)",
    status: "run",
    when: ["overview", "zoomed", "stopped"],
  },
  {
    scope: "lab",
    action: "edit",
    keys: [{ char: "e" }],
    label: "e",
    description: "open the lab's file in your editor ($VISUAL or $EDITOR)",
    when: ["overview", "zoomed", "stopped"],
  },
  {
    scope: "lab",
    action: "start",
    keys: [{ char: "s" }],
    label: "s",
    description: "start the server again after it stopped",
    status: "start",
    when: ["stopped"],
  },
  {
    scope: "lab",
    action: "focus",
    keys: [{ name: "tab" }],
    label: "Tab",
    description: "move focus to the next pane (log, live view, inspector)",
    status: "focus",
  },
  {
    scope: "lab",
    action: "zoom",
    keys: [{ char: "z" }],
    label: "z",
    description: "show the focused pane over the whole lab, or the whole lab again",
    status: "zoom",
  },
  {
    scope: "lab",
    action: "missions",
    keys: [{ char: "m" }],
    label: "m",
    description: "show every mission with its hint, or the whole lab again",
    status: "missions",
  },
  {
    scope: "lab",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "scroll the focused pane (or the missions) up",
    status: "scroll",
    statusLabel: "↑↓",
  },
  {
    scope: "lab",
    action: "down",
    keys: down,
    label: "↓ j",
    description: "scroll the focused pane (or the missions) down",
  },
  {
    scope: "lab",
    action: "pageUp",
    keys: [{ name: "pageUp" }],
    label: "PgUp",
    description: "scroll the focused pane a screen up",
  },
  {
    scope: "lab",
    action: "pageDown",
    keys: [{ name: "pageDown" }],
    label: "PgDn",
    description: "scroll the focused pane a screen down",
  },
  {
    scope: "lab",
    action: "bottom",
    keys: [{ name: "end" }],
    label: "End",
    description: "follow the newest log lines again",
  },
  {
    scope: "lab",
    action: "reset",
    keys: [{ char: "R" }],
    label: "R",
    description: "reset the workspace to the lab's original files (asks first)",
  },
  {
    scope: "lab",
    action: "quiz",
    keys: [{ char: "t" }],
    label: "t",
    description: "stop the server and take the quiz",
    status: "quiz",
  },
  {
    scope: "lab",
    action: "back",
    keys: back,
    label: "Esc q",
    description: "stop the server and go back to the map",
    status: "back",
    statusLabel: "Esc",
    when: ["overview", "stopped"],
  },
  {
    scope: "lab",
    action: "unzoom",
    keys: back,
    label: "Esc q",
    description: "from a zoomed pane or the missions, back to the whole lab",
    status: "whole lab",
    statusLabel: "Esc",
    when: ["zoomed"],
  },

  {
    scope: "quiz",
    action: "choose",
    keys: [{ digits: [1, 9] }],
    label: "1-9",
    description: "answer with that choice",
    status: "answer",
    when: ["asking"],
  },
  {
    scope: "quiz",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "previous choice",
    status: "move",
    statusLabel: "↑↓",
    when: ["asking"],
  },
  {
    scope: "quiz",
    action: "down",
    keys: down,
    label: "↓ j",
    description: "next choice",
    when: ["asking"],
  },
  {
    scope: "quiz",
    action: "answer",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "answer with the highlighted choice",
    when: ["asking"],
  },
  {
    scope: "quiz",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "scroll up (after answering)",
    status: "scroll",
    statusLabel: "↑↓",
    when: ["feedback", "done"],
  },
  {
    scope: "quiz",
    action: "down",
    keys: down,
    label: "↓ j",
    description: "scroll down (after answering)",
    when: ["feedback", "done"],
  },
  {
    scope: "quiz",
    action: "next",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "then the next question, or the score",
    status: "next",
    when: ["feedback"],
  },
  {
    scope: "quiz",
    action: "retake",
    keys: [{ char: "r" }],
    label: "r",
    description: "retake the quiz (after the score)",
    status: "retake",
    when: ["done"],
  },
  {
    scope: "quiz",
    action: "back",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "after the score, back to the course map",
    status: "map",
    when: ["done"],
  },
  {
    scope: "quiz",
    action: "back",
    keys: back,
    label: "Esc q",
    description: "back to the course map",
    status: "back",
    statusLabel: "Esc",
  },

  {
    scope: "exam",
    action: "choose",
    keys: [{ digits: [1, 9] }],
    label: "1-9",
    description: "answer with that choice",
    status: "answer",
    when: ["asking"],
  },
  {
    scope: "exam",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "previous choice",
    status: "move",
    statusLabel: "↑↓",
    when: ["asking"],
  },
  {
    scope: "exam",
    action: "down",
    keys: down,
    label: "↓ j",
    description: "next choice",
    when: ["asking"],
  },
  {
    scope: "exam",
    action: "answer",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "answer with the highlighted choice",
    when: ["asking"],
  },
  {
    scope: "exam",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "scroll up (after answering)",
    status: "scroll",
    statusLabel: "↑↓",
    when: ["feedback", "done", "complete"],
  },
  {
    scope: "exam",
    action: "down",
    keys: down,
    label: "↓ j",
    description: "scroll down (after answering)",
    when: ["feedback", "done", "complete"],
  },
  {
    scope: "exam",
    action: "next",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "then the next question, or the score",
    status: "next",
    when: ["feedback"],
  },
  {
    scope: "exam",
    action: "summary",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "after a pass that completes the course, your completion summary",
    status: "summary",
    when: ["complete"],
  },
  {
    scope: "exam",
    action: "back",
    keys: [{ name: "return" }],
    label: "Enter",
    description: "after the score, back to the course map",
    status: "map",
    when: ["done"],
  },
  {
    scope: "exam",
    action: "retake",
    keys: [{ char: "r" }],
    label: "r",
    description: "retake the exam (after the score)",
    status: "retake",
    when: ["done", "complete"],
  },
  {
    scope: "exam",
    action: "back",
    keys: back,
    label: "Esc q",
    description: "back to the course map (an exam left unfinished is not scored)",
    status: "back",
    statusLabel: "Esc",
  },

  {
    scope: "completion",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "scroll up",
    status: "scroll",
    statusLabel: "↑↓",
  },
  { scope: "completion", action: "down", keys: down, label: "↓ j", description: "scroll down" },
  {
    scope: "completion",
    action: "pageUp",
    keys: [{ name: "pageUp" }],
    label: "PgUp",
    description: "scroll a screen up",
  },
  {
    scope: "completion",
    action: "pageDown",
    keys: [{ name: "pageDown" }, { char: " " }],
    label: "PgDn Space",
    description: "scroll a screen down",
  },
  {
    scope: "completion",
    action: "write",
    keys: [{ char: "w" }],
    label: "w",
    description: "write the summary file again (Markdown, yours to keep)",
    status: "write again",
  },
  {
    scope: "completion",
    action: "back",
    keys: [...back, { name: "return" }],
    label: "Esc q Enter",
    description: "back to the course map",
    status: "map",
    statusLabel: "Esc",
  },

  {
    scope: "small",
    action: "quit",
    keys: [{ char: "q" }],
    label: "q",
    description: "quit",
  },

  {
    scope: "help",
    action: "up",
    keys: up,
    label: "↑ k",
    description: "scroll up",
    status: "scroll",
    statusLabel: "↑↓",
  },
  { scope: "help", action: "down", keys: down, label: "↓ j", description: "scroll down" },
  {
    scope: "help",
    action: "back",
    keys: back,
    label: "Esc q",
    description: "close the help",
    status: "close",
    statusLabel: "Esc",
  },
];

const NAMED: Record<KeyName, keyof Key> = {
  up: "upArrow",
  down: "downArrow",
  left: "leftArrow",
  right: "rightArrow",
  pageUp: "pageUp",
  pageDown: "pageDown",
  home: "home",
  end: "end",
  return: "return",
  escape: "escape",
  tab: "tab",
};

function matches(spec: KeySpec, input: string, key: Key): boolean {
  if ("name" in spec) return key[NAMED[spec.name]] === true;
  if ("ctrl" in spec) return key.ctrl && input === spec.ctrl;
  if (key.ctrl || key.meta) return false;
  if ("char" in spec) return input === spec.char;
  const digit = /^[0-9]$/.test(input) ? Number(input) : Number.NaN;
  return digit >= spec.digits[0] && digit <= spec.digits[1];
}

function applies(binding: KeyBinding, scope: Scope, state: string | undefined): boolean {
  return (
    binding.scope === scope &&
    (binding.when === undefined || (state !== undefined && binding.when.includes(state)))
  );
}

export interface ResolvedKey {
  action: KeyAction;
  /** The digit pressed, for "run" and "choose". */
  digit?: number;
}

/** The action a key press means in this scope and screen state, if any. */
export function resolveKey(
  scope: Scope,
  input: string,
  key: Key,
  state?: string,
  bindings: readonly KeyBinding[] = KEY_BINDINGS,
): ResolvedKey | undefined {
  for (const binding of bindings) {
    if (!applies(binding, scope, state)) continue;
    const spec = binding.keys.find((s) => matches(s, input, key));
    if (!spec) continue;
    return "digits" in spec
      ? { action: binding.action, digit: Number(input) }
      : { action: binding.action };
  }
  return undefined;
}

/**
 * How a binding's keys are written when the screen says how many digits act on it now (e.g. 4
 * choices: "1-4"); undefined when none does, so the binding is not offered.
 */
function bindingLabel(binding: KeyBinding, digits: number | undefined): string | undefined {
  const spec = binding.keys.find((k) => "digits" in k);
  if (!spec || !("digits" in spec) || digits === undefined) return binding.label;
  const [low, high] = spec.digits;
  const last = Math.min(high, low + digits - 1);
  if (last < low) return undefined;
  return last === low ? String(low) : `${low}-${last}`;
}

export interface StatusItem {
  keys: string;
  text: string;
}

/**
 * The status bar's entries: this screen's (in its state), then the global ones. `digits` is how
 * many digit keys do something on the screen now (experiments, choices).
 */
export function statusItems(scope: Scope, state?: string, digits?: number): StatusItem[] {
  const items: StatusItem[] = [];
  for (const from of [scope, "global"] as const) {
    for (const b of KEY_BINDINGS) {
      if (b.status === undefined || !applies(b, from, from === scope ? state : undefined)) continue;
      const label = bindingLabel(b, digits);
      if (label === undefined) continue;
      items.push({ keys: b.statusLabel ?? label, text: b.status });
    }
  }
  return items;
}

export interface HelpEntry {
  keys: string;
  description: string;
}

export interface HelpSection {
  title: string;
  entries: HelpEntry[];
}

const SCOPE_TITLES: Record<Scope, string> = {
  global: "Everywhere",
  map: "Course map",
  reader: "Reader",
  lab: "Lab",
  quiz: "Quiz",
  exam: "Final exam",
  completion: "Course complete",
  help: "Help",
  small: "Terminal too small",
};

/**
 * The help overlay's content for a screen, generated from the same table as the input. Each key
 * is listed once: bindings of the same keys in different states share one entry, their
 * descriptions joined; bindings with a `group` follow under their own heading.
 */
export function helpSections(scope: Scope, digits?: number): HelpSection[] {
  const sections: HelpSection[] = [];
  const section = (title: string): HelpSection => {
    let found = sections.find((s) => s.title === title);
    if (!found) {
      found = { title, entries: [] };
      sections.push(found);
    }
    return found;
  };
  for (const s of [scope, "global" as const]) {
    section(SCOPE_TITLES[s]);
    for (const b of KEY_BINDINGS) {
      if (b.scope !== s) continue;
      const keys = bindingLabel(b, digits);
      if (keys === undefined) continue;
      const { entries } = section(b.group ? `${SCOPE_TITLES[s]}, ${b.group}` : SCOPE_TITLES[s]);
      const same = entries.find((e) => e.keys === keys);
      if (!same) entries.push({ keys, description: b.description });
      else if (!same.description.split("; ").includes(b.description))
        same.description = `${same.description}; ${b.description}`;
    }
  }
  return sections;
}

/** The keys that quit while the terminal is too small, as the message there writes them. */
export function quitKeysWhenSmall(): string {
  return KEY_BINDINGS.filter(
    (b) => b.action === "quit" && (b.scope === "global" || b.scope === "small"),
  )
    .map((b) => b.label)
    .join(" or ");
}
