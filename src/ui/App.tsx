import { Box } from "ink";
import { type ReactNode, useCallback, useEffect, useRef, useState } from "react";
import type { LoadedCourse } from "../course/schema.js";
import { LabSession } from "../lab/session.js";
import {
  completionMarkdown,
  courseResults,
  defaultSummaryPath,
  writeCompletionSummary,
} from "../progress/completion.js";
import type { ProgressStore } from "../progress/store.js";
import { HelpOverlay } from "./components/HelpOverlay.js";
import { ScreenDigitsContext } from "./components/ScreenFrame.js";
import { TooSmall } from "./components/TooSmall.js";
import { useActiveTime } from "./hooks/use-active-time.js";
import type { ClassroomLink } from "./hooks/use-classroom.js";
import { useKeys } from "./hooks/use-keys.js";
import type { CreateLabSession } from "./hooks/use-lab-session.js";
import { MIN_COLUMNS, MIN_ROWS, useTerminalSize } from "./hooks/use-terminal-size.js";
import type { Scope } from "./keys.js";
import { isLessonRoute, type LessonScreen, lessonRoute, type Route } from "./route.js";
import { CompletionScreen } from "./screens/CompletionScreen.js";
import { CourseMapScreen } from "./screens/CourseMapScreen.js";
import { ExamScreen } from "./screens/ExamScreen.js";
import { LabScreen } from "./screens/LabScreen.js";
import { QuizScreen } from "./screens/QuizScreen.js";
import { ReaderScreen } from "./screens/ReaderScreen.js";

export interface AppProps {
  course: LoadedCourse;
  progress: ProgressStore;
  start?: { lessonId: string; screen: LessonScreen };
  /** Opens the final exam first (`learn-webservers exam`); `start` wins when both are given. */
  startExam?: boolean;
  port?: number;
  host?: string;
  createLabSession?: CreateLabSession;
  /** The classroom join client, when the learner joined one. */
  classroom?: ClassroomLink;
  /** The one way out: the caller unmounts Ink and shuts down. */
  onQuit: () => void;
}

const newLabSession: CreateLabSession = (options) => new LabSession(options);

function initialRoute(
  course: LoadedCourse,
  progress: ProgressStore,
  start: AppProps["start"],
  startExam: boolean,
): Route {
  const lesson = start && course.lessons.find((l) => l.id === start.lessonId);
  if (lesson && start) return lessonRoute(lesson, start.screen, progress);
  return startExam && course.exam ? { screen: "exam" } : { screen: "map" };
}

/** Writes the completion summary once the course is complete; the notice says where. */
function completionNotice(course: LoadedCourse, progress: ProgressStore): string {
  const path = defaultSummaryPath(progress);
  try {
    writeCompletionSummary(completionMarkdown(courseResults(course, progress)), path);
    return `Course complete: your summary is in ${path}. Press s to see it.`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return `Course complete, but your summary could not be written to ${path} (${code}); press s to try again.`;
  }
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
  startExam = false,
  port,
  host,
  createLabSession = newLabSession,
  classroom,
  onQuit,
}: AppProps) {
  const { columns, rows } = useTerminalSize();
  const [route, setRoute] = useState<Route>(() => initialRoute(course, progress, start, startExam));
  const [helpOpen, setHelpOpen] = useState(false);
  // The digit count of the screen shown, for the help's digit range (as in its status bar).
  const [screenDigits, setScreenDigits] = useState<number>();
  const [notice, setNotice] = useState(() => takeNotice(progress));
  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;

  // A problem met on another screen waits here to be shown on the map.
  const pendingNotice = useRef<string | undefined>(undefined);
  const onMap = route.screen === "map";
  // The summary is written, and the map says where, when the course becomes complete.
  const [completeAtStart] = useState(() => courseResults(course, progress).complete);
  const wasComplete = useRef(completeAtStart);

  const navigate = useCallback(
    (next: Route) => {
      setHelpOpen(false);
      setRoute(next);
      if (next.screen === "map") {
        let completed: string | undefined;
        if (!wasComplete.current && courseResults(course, progress).complete) {
          wasComplete.current = true;
          completed = completionNotice(course, progress);
        }
        setNotice(takeNotice(progress) ?? pendingNotice.current ?? completed);
        pendingNotice.current = undefined;
      } else {
        if (next.screen === "completion") wasComplete.current = true;
        setNotice(undefined);
      }
    },
    [course, progress],
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
    if (!isLessonRoute(route)) return;
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

  const markActive = useActiveTime(
    progress,
    isLessonRoute(route)
      ? { lessonId: route.lessonId }
      : route.screen === "exam"
        ? "exam"
        : undefined,
    report,
  );
  // A request or a reload the learner causes from their own terminal counts as activity in a lab.
  const createActiveLabSession = useCallback<CreateLabSession>(
    (options) => {
      const session = createLabSession(options);
      let previous = session.snapshot();
      session.subscribe((next) => {
        if (
          next.requests !== previous.requests ||
          next.reloads?.version !== previous.reloads?.version
        )
          markActive();
        previous = next;
      });
      return session;
    },
    [createLabSession, markActive],
  );

  const height = rows - 1;
  const screenActive = !helpOpen && !tooSmall;
  const lesson = isLessonRoute(route)
    ? course.lessons.find((l) => l.id === route.lessonId)
    : undefined;
  const exam = route.screen === "exam" ? course.exam : undefined;
  const scope: Scope = lesson
    ? (route.screen as Scope)
    : exam
      ? "exam"
      : route.screen === "completion"
        ? "completion"
        : "map";

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
        createSession={createActiveLabSession}
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
  } else if (exam) {
    screen = (
      <ExamScreen
        course={course}
        exam={exam}
        progress={progress}
        width={columns}
        height={height}
        isActive={screenActive}
        onBack={toMap}
        onSummary={() => navigate({ screen: "completion" })}
        onError={report}
      />
    );
  } else if (route.screen === "completion") {
    screen = (
      <CompletionScreen
        course={course}
        progress={progress}
        width={columns}
        height={height}
        isActive={screenActive}
        onBack={toMap}
      />
    );
  } else {
    screen = (
      <CourseMapScreen
        course={course}
        progress={progress}
        notice={notice}
        classroom={classroom}
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
