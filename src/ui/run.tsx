import { type Instance, render } from "ink";
import type { LoadedCourse } from "../course/schema.js";
import { installExitHandlers, onShutdown, shutdown } from "../lab/supervisor.js";
import type { ProgressStore } from "../progress/store.js";
import { App } from "./App.js";
import type { ClassroomLink } from "./hooks/use-classroom.js";
import { ThemeContext, themeFromEnv } from "./theme.js";

export interface RunTuiOptions {
  course: LoadedCourse;
  progress: ProgressStore;
  start?: { lessonId: string; screen: "reader" | "lab" | "quiz" };
  /** Opens the final exam first. */
  exam?: boolean;
  port?: number;
  host?: string;
  /** The classroom join client, when the learner joined one: the map shows how it goes. */
  classroom?: ClassroomLink;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

/**
 * Runs the Ink app until the learner quits. Quitting (q on the map, Ctrl+C anywhere) unmounts
 * Ink and goes through `shutdown(0)`, which stops every lab server before the process exits.
 */
export async function runTui(opts: RunTuiOptions): Promise<void> {
  installExitHandlers();
  const theme = themeFromEnv();
  let instance: Instance | undefined;
  let quitting: Promise<never> | undefined;
  const close = () => {
    instance?.clear();
    instance?.unmount();
  };
  const quit = () => {
    if (quitting) return;
    close();
    quitting = shutdown(0);
  };

  instance = render(
    <ThemeContext.Provider value={theme}>
      <App
        course={opts.course}
        progress={opts.progress}
        start={opts.start}
        startExam={opts.exam}
        port={opts.port}
        host={opts.host}
        classroom={opts.classroom}
        onQuit={quit}
      />
    </ThemeContext.Provider>,
    {
      stdin: opts.stdin ?? process.stdin,
      stdout: opts.stdout ?? process.stdout,
      exitOnCtrlC: false,
      patchConsole: true,
    },
  );
  const removeHook = onShutdown(close);
  try {
    await instance.waitUntilExit();
  } finally {
    removeHook();
  }
  if (quitting) await quitting;
}
