import { Box } from "ink";
import { type ReactNode, useCallback, useEffect, useRef, useState } from "react";
import type { LoadedCourse } from "../course/schema.js";
import { LabSession } from "../lab/session.js";
import type { ProgressStore } from "../progress/store.js";
import { HelpOverlay } from "./components/HelpOverlay.js";
import { ScreenDigitsContext } from "./components/ScreenFrame.js";
import { TooSmall } from "./components/TooSmall.js";
import { useKeys } from "./hooks/use-keys.js";
import type { CreateLabSession } from "./hooks/use-lab-session.js";
import { MIN_COLUMNS, MIN_ROWS, useTerminalSize } from "./hooks/use-terminal-size.js";
import type { Scope } from "./keys.js";
import { type LessonScreen, lessonRoute, type Route } from "./route.js";
import { CourseMapScreen } from "./screens/CourseMapScreen.js";
import { LabScreen } from "./screens/LabScreen.js";
import { QuizScreen } from "./screens/QuizScreen.js";
import { ReaderScreen } from "./screens/ReaderScreen.js";

export interface AppProps {
  course: LoadedCourse;
  progress: ProgressStore;
  start?: { lessonId: string; screen: LessonScreen };
  port?: number;
  host?: string;
  createLabSession?: CreateLabSession;
  /** The one way out: the caller unmounts Ink and shuts down. */
  onQuit: () => void;
}

const newLabSession: CreateLabSession = (options) => new LabSession(options);

function initialRoute(
  course: LoadedCourse,
  progress: ProgressStore,
  start: AppProps["start"],
): Route {
  const lesson = start && course.lessons.find((l) => l.id === start.lessonId);
  return lesson && start ? lessonRoute(lesson, start.screen, progress) : { screen: "map" };
}

/** Takes the store's one-time notice (e.g. a corrupt progress file set aside). */
function takeNotice(progress: ProgressStore): string | undefined {
  const notice = progress.notice;
  progress.notice = undefined;
  return notice;
}

/** Holds the navigation state; the screens render themselves. Output never reaches the last row. */
export function App({
  course,
  progress,
  start,
  port,
  host,
  createLabSession = newLabSession,
  onQuit,
}: AppProps) {
  const { columns, rows } = useTerminalSize();
  const [route, setRoute] = useState<Route>(() => initialRoute(course, progress, start));
  const [helpOpen, setHelpOpen] = useState(false);
  // The digit count of the screen shown, for the help's digit range (as in its status bar).
  const [screenDigits, setScreenDigits] = useState<number>();
  const [notice, setNotice] = useState(() => takeNotice(progress));
  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;

  // A problem met on another screen waits here to be shown on the map.
  const pendingNotice = useRef<string | undefined>(undefined);
  const onMap = route.screen === "map";

  const navigate = useCallback(
    (next: Route) => {
      setHelpOpen(false);
      setRoute(next);
      if (next.screen === "map") {
        setNotice(takeNotice(progress) ?? pendingNotice.current);
        pendingNotice.current = undefined;
      } else {
        setNotice(undefined);
      }
    },
    [progress],
  );
  const toMap = useCallback(() => navigate({ screen: "map" }), [navigate]);
  const report = useCallback(
    (message: string) => {
      if (onMap) setNotice(message);
      else pendingNotice.current = message;
    },
    [onMap],
  );

  useEffect(() => {
    if (route.screen === "map") return;
    try {
      progress.setPosition({
        lessonId: route.lessonId,
        screen: route.screen,
        page: route.screen === "reader" ? route.page : 0,
      });
    } catch (err) {
      report(`Could not save your place: ${err instanceof Error ? err.message : String(err)}`);
    }
  }, [route, progress, report]);

  useKeys(
    "global",
    ({ action }) => {
      if (action === "quit") onQuit();
      else if (action === "help" && !tooSmall) setHelpOpen((open) => !open);
    },
    { isActive: true },
  );
  useKeys(
    "small",
    ({ action }) => {
      if (action === "quit") onQuit();
    },
    { isActive: tooSmall },
  );

  const height = rows - 1;
  const screenActive = !helpOpen && !tooSmall;
  const lesson =
    route.screen === "map" ? undefined : course.lessons.find((l) => l.id === route.lessonId);
  const scope: Scope = lesson ? (route.screen as Scope) : "map";

  let screen: ReactNode;
  if (route.screen === "reader" && lesson) {
    screen = (
      <ReaderScreen
        key={lesson.id}
        lesson={lesson}
        progress={progress}
        page={route.page}
        width={columns}
        height={height}
        isActive={screenActive}
        onNavigate={navigate}
        onBack={toMap}
        onError={report}
      />
    );
  } else if (route.screen === "lab" && lesson) {
    screen = (
      <LabScreen
        key={lesson.id}
        lesson={lesson}
        progress={progress}
        createSession={createLabSession}
        port={port}
        host={host}
        width={columns}
        height={height}
        isActive={screenActive}
        onBack={toMap}
        onQuiz={() => navigate({ screen: "quiz", lessonId: lesson.id })}
      />
    );
  } else if (route.screen === "quiz" && lesson) {
    screen = (
      <QuizScreen
        key={lesson.id}
        lesson={lesson}
        progress={progress}
        width={columns}
        height={height}
        isActive={screenActive}
        onBack={toMap}
        onError={report}
      />
    );
  } else {
    screen = (
      <CourseMapScreen
        course={course}
        progress={progress}
        notice={notice}
        width={columns}
        height={height}
        isActive={screenActive}
        onNavigate={navigate}
        onQuit={onQuit}
      />
    );
  }

  return (
    <Box flexDirection="column" width={columns}>
      {tooSmall && <TooSmall columns={columns} rows={rows} />}
      {!tooSmall && helpOpen && (
        <HelpOverlay
          scope={scope}
          digits={screenDigits}
          width={columns}
          height={height}
          isActive={helpOpen}
          onClose={() => setHelpOpen(false)}
        />
      )}
      {/* Hidden, not unmounted, so that a lab keeps its server while help is open or the window is small. */}
      <Box display={screenActive ? "flex" : "none"} flexDirection="column">
        <ScreenDigitsContext.Provider value={setScreenDigits}>
          {screen}
        </ScreenDigitsContext.Provider>
      </Box>
    </Box>
  );
}
