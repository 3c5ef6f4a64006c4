import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { render } from "ink-testing-library";
import { createElement, Fragment, type ReactElement } from "react";
import { loadCourse } from "../../src/course/loader.js";
import type { LoadedCourse } from "../../src/course/schema.js";
import { ProgressStore } from "../../src/progress/store.js";
import { App, type AppProps } from "../../src/ui/App.js";
import { noColorTheme, type Theme, ThemeContext } from "../../src/ui/theme.js";

export const FIXTURE_PACK = resolve(import.meta.dirname, "../fixtures/packs/valid");

const KEYS = {
  up: "\u001B[A",
  down: "\u001B[B",
  right: "\u001B[C",
  left: "\u001B[D",
  pageUp: "\u001B[5~",
  pageDown: "\u001B[6~",
  end: "\u001B[F",
  enter: "\r",
  escape: "\u001B",
  tab: "\t",
  space: " ",
  ctrlC: "\u0003",
} as const;

export type KeyName = keyof typeof KEYS;

/** Long enough for Ink to subscribe its input hooks and to flush a lone Escape. */
const TICK_MS = 25;

export const tick = (ms = TICK_MS) => new Promise<void>((done) => setTimeout(done, ms));

export interface Screen {
  /** The last frame without colour escapes. */
  frame(): string;
  /** Writes a key (a name from KEYS, or literal text such as "j" or "2") and waits a tick. */
  press(key: KeyName | (string & {})): Promise<void>;
  /**
   * Waits until the frame contains `text` (or the predicate holds), then a tick more so that the
   * new screen's input hooks are listening; fails with the last frame.
   */
  waitFor(check: string | ((frame: string) => boolean), timeoutMs?: number): Promise<string>;
  resize(columns: number, rows: number): Promise<void>;
  unmount(): void;
}

function setSize(stream: object, columns: number, rows: number): void {
  Object.defineProperty(stream, "columns", { value: columns, configurable: true, writable: true });
  Object.defineProperty(stream, "rows", { value: rows, configurable: true, writable: true });
}

export interface RenderOptions {
  columns?: number;
  rows?: number;
  /** False renders with a stdin that cannot be put in raw mode, like a pipe. */
  tty?: boolean;
}

/** Renders at a given terminal size (ink-testing-library's own stdout is 100 columns, no rows). */
export async function renderAt(
  tree: ReactElement,
  { columns = 80, rows = 24, tty = true }: RenderOptions = {},
): Promise<Screen> {
  const instance = render(createElement(Fragment));
  setSize(instance.stdout, columns, rows);
  instance.stdin.isTTY = tty;
  instance.rerender(tree);
  await tick();
  const frame = () => stripVTControlCharacters(instance.lastFrame() ?? "");
  return {
    frame,
    async press(key) {
      instance.stdin.write(key in KEYS ? KEYS[key as KeyName] : key);
      await tick();
    },
    async waitFor(check, timeoutMs = 5000) {
      const ok = typeof check === "string" ? (f: string) => f.includes(check) : check;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = frame();
        if (ok(current)) {
          await tick();
          return current;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `Timed out waiting for ${typeof check === "string" ? JSON.stringify(check) : "a frame"}; last frame:\n${current}`,
          );
        }
        await tick(20);
      }
    },
    async resize(newColumns, newRows) {
      setSize(instance.stdout, newColumns, newRows);
      instance.stdout.emit("resize");
      await tick();
    },
    unmount: () => instance.unmount(),
  };
}

/** Lines of a frame, to check that it stays below the terminal's height. */
export function frameLines(frame: string): string[] {
  return frame.split("\n");
}

export interface TempHome {
  home: string;
  progress: ProgressStore;
  cleanup(): void;
}

/** A progress store in a fresh temporary folder. */
export function tempProgress(): TempHome {
  const home = mkdtempSync(join(tmpdir(), "lw-ui-"));
  return {
    home,
    progress: ProgressStore.open({ home }),
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

let fixture: Promise<LoadedCourse> | undefined;

export function fixtureCourse(): Promise<LoadedCourse> {
  fixture ??= loadCourse(FIXTURE_PACK);
  return fixture;
}

export interface OpenedApp {
  screen: Screen;
  course: LoadedCourse;
  progress: ProgressStore;
  home: string;
  /** How many times the app asked to quit (q on the map, Ctrl+C). */
  quits: () => number;
}

const opened: (() => void)[] = [];

/**
 * Renders the whole app over a course (the fixture pack unless given) and a progress store in a
 * temporary home. `closeApps()` in afterEach unmounts it and removes the home.
 */
export async function openApp(
  options: RenderOptions & {
    course?: LoadedCourse;
    start?: AppProps["start"];
    progress?: (home: string) => ProgressStore;
    /** The port labs ask for, as with `lab --port N`. */
    port?: number;
    /** A classroom link made once the progress home exists (a join client, for one). */
    classroom?: (home: string, progress: ProgressStore) => NonNullable<AppProps["classroom"]>;
  } = {},
): Promise<OpenedApp> {
  const course = options.course ?? (await fixtureCourse());
  const home = mkdtempSync(join(tmpdir(), "lw-ui-"));
  const progress = options.progress ? options.progress(home) : ProgressStore.open({ home });
  let quits = 0;
  const props: AppProps = {
    course,
    progress,
    onQuit: () => {
      quits++;
    },
  };
  if (options.start) props.start = options.start;
  if (options.port !== undefined) props.port = options.port;
  if (options.classroom) props.classroom = options.classroom(home, progress);
  const screen = await renderAt(createElement(App, props), options);
  opened.push(() => {
    screen.unmount();
    rmSync(home, { recursive: true, force: true });
  });
  return { screen, course, progress, home, quits: () => quits };
}

export function closeApps(): void {
  for (const close of opened.splice(0)) close();
}

const renderedParts: (() => void)[] = [];

/**
 * Renders one component at a given width (Ink lays out to the stdout's columns) with a theme,
 * and returns the frame without escapes. `unmountParts()` in afterEach cleans up.
 */
export function frameOf(tree: ReactElement, columns: number, theme: Theme = noColorTheme): string {
  const wrapped = () => createElement(ThemeContext.Provider, { value: theme }, tree);
  const instance = render(wrapped());
  Object.defineProperty(instance.stdout, "columns", { value: columns, configurable: true });
  instance.rerender(wrapped());
  renderedParts.push(() => instance.unmount());
  return stripVTControlCharacters(instance.lastFrame() ?? "");
}

export function unmountParts(): void {
  for (const unmount of renderedParts.splice(0)) unmount();
}

/** A frame's lines; none for an empty frame. */
export function lines(frame: string): string[] {
  return frame === "" ? [] : frame.split("\n");
}
