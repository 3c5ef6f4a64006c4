import { useState } from "react";
import { formatScore } from "../../course/quiz.js";
import type { LoadedCourse } from "../../course/schema.js";
import {
  type CourseResults,
  courseResults,
  defaultSummaryPath,
  formatDuration,
  isoDay,
} from "../../progress/completion.js";
import { nextStep } from "../../progress/next-step.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { type ClassroomLink, useClassroom } from "../hooks/use-classroom.js";
import { useKeys } from "../hooks/use-keys.js";
import {
  describeRoute,
  type LessonScreen,
  lessonRoute,
  type Route,
  stepRoute,
  summarize,
} from "../route.js";
import { clamp, plural } from "../text.js";
import { CourseMapView, type MapEntry } from "./CourseMapView.js";

export interface CourseMapScreenProps {
  course: LoadedCourse;
  progress: ProgressStore;
  notice?: string;
  /** The classroom join client, when the learner joined one. */
  classroom?: ClassroomLink;
  width: number;
  height: number;
  isActive: boolean;
  onNavigate: (route: Route) => void;
  onQuit: () => void;
}

/** The items after the lessons: the final exam when the course has one, the summary once complete. */
function mapEntries(
  course: LoadedCourse,
  results: CourseResults,
  progress: ProgressStore,
): MapEntry[] {
  const entries: MapEntry[] = [];
  const { exam } = results;
  if (exam) {
    const tried = exam.attempts > 0;
    const attempts = plural(exam.attempts, "attempt");
    entries.push({
      key: "exam",
      label: exam.title,
      state: exam.passed ? "passed" : tried ? "not passed" : "new",
      tone: exam.passed ? "success" : tried ? "warning" : "secondary",
      stats: [
        `best ${exam.best === null ? "-" : formatScore(exam.best)}`,
        plural(exam.questionCount, "question"),
      ],
      detail: [
        { text: exam.title, bold: true },
        {
          text: `${plural(exam.questionCount, "question")} · pass mark ${formatScore(exam.passMark)} · open at any time (e)`,
          dim: true,
        },
        {
          text: `Questions from every lesson's quiz, and scenarios that mix them. Passing it and every lesson's quiz completes ${course.course.title}.`,
        },
        { text: "" },
        {
          text: !tried
            ? "Not taken yet."
            : `Best ${formatScore(exam.best ?? 0)} in ${attempts}${exam.passedAt ? `, first passed on ${isoDay(exam.passedAt)}` : ""}.`,
        },
      ],
    });
  }
  if (results.complete) {
    entries.push({
      key: "completion",
      label: "Course complete: your summary",
      state: "done",
      tone: "success",
      stats: ["", `missions ${results.missionsMet}/${results.missionCount}`],
      detail: [
        { text: "Course complete", bold: true },
        {
          text: `${results.missionsMet} of ${results.missionCount} missions met · ${formatDuration(results.timeMs)} spent`,
          dim: true,
        },
        {
          text: `Scores per lesson and exam, missions and time spent. Opening it (s) writes your summary to ${defaultSummaryPath(progress)}`,
        },
      ],
    });
  }
  return entries;
}

export function CourseMapScreen({
  course,
  progress,
  notice,
  classroom,
  width,
  height,
  isActive,
  onNavigate,
  onQuit,
}: CourseMapScreenProps) {
  const classroomStatus = useClassroom(classroom);
  // "Continue" once the learner has been somewhere, and only while there is something left to do.
  const step = progress.data.last ? nextStep(course.lessons, progress) : undefined;
  const resume = step && stepRoute(step);
  const resumeLesson = step?.lesson;
  const offset = resume ? 1 : 0;
  const results = courseResults(course, progress);
  const entries = mapEntries(course, results, progress);
  const count = course.lessons.length + offset + entries.length;
  const [selected, setSelected] = useState(() => {
    if (resume) return 0;
    const next = course.lessons.findIndex((l) => progress.lessonState(l) !== "done");
    if (next >= 0) return next;
    // Every lesson done: the exam while it is not passed.
    return results.exam && !results.exam.passed ? course.lessons.length : 0;
  });
  const index = clamp(selected, 0, count - 1);
  const lessonAt = (i: number) =>
    resume && i === 0 ? resumeLesson : course.lessons[Math.max(0, i - offset)];
  const entryAt = (i: number) => entries[i - offset - course.lessons.length];
  const openEntry = (key: string | undefined) => {
    if (key === "exam" && course.exam) onNavigate({ screen: "exam" });
    else if (key === "completion" && results.complete) onNavigate({ screen: "completion" });
  };

  const open = (screen: LessonScreen) => {
    const lesson = lessonAt(index);
    if (lesson) onNavigate(lessonRoute(lesson, screen, progress));
  };

  const mapState = course.exam
    ? results.complete
      ? "exam-complete"
      : "exam"
    : results.complete
      ? "complete"
      : undefined;
  useKeys(
    "map",
    ({ action }) => {
      switch (action) {
        case "up":
          setSelected(clamp(index - 1, 0, count - 1));
          break;
        case "down":
          setSelected(clamp(index + 1, 0, count - 1));
          break;
        case "open":
          if (resume && index === 0) onNavigate(resume);
          else if (entryAt(index)) openEntry(entryAt(index)?.key);
          else open("reader");
          break;
        case "exam":
          openEntry("exam");
          break;
        case "summary":
          openEntry("completion");
          break;
        case "lab":
          open("lab");
          break;
        case "quiz":
          open("quiz");
          break;
        case "quit":
          onQuit();
          break;
      }
    },
    { isActive, state: mapState },
  );

  const lessons = course.lessons.map((l) => summarize(l, progress));
  const detailLesson = lessonAt(index);
  return (
    <ScreenFrame scope="map" state={mapState} width={width} height={height}>
      <CourseMapView
        title={course.course.title}
        notice={notice}
        continueLabel={
          resume && resumeLesson
            ? `Continue: ${resumeLesson.meta.title} — ${describeRoute(resume, resumeLesson)}`
            : undefined
        }
        lessons={lessons}
        entries={entries}
        selected={index}
        detail={lessons.find((s) => s.lesson === detailLesson)}
        complete={results.complete}
        classroom={classroomStatus}
        width={width}
        height={height - STATUS_BAR_LINES}
      />
    </ScreenFrame>
  );
}
