import { useState } from "react";
import type { LoadedCourse } from "../../course/schema.js";
import { nextStep } from "../../progress/next-step.js";
import type { ProgressStore } from "../../progress/store.js";
import { ScreenFrame, STATUS_BAR_LINES } from "../components/ScreenFrame.js";
import { useKeys } from "../hooks/use-keys.js";
import {
  describeRoute,
  type LessonScreen,
  lessonRoute,
  type Route,
  stepRoute,
  summarize,
} from "../route.js";
import { clamp } from "../text.js";
import { CourseMapView } from "./CourseMapView.js";

export interface CourseMapScreenProps {
  course: LoadedCourse;
  progress: ProgressStore;
  notice?: string;
  width: number;
  height: number;
  isActive: boolean;
  onNavigate: (route: Route) => void;
  onQuit: () => void;
}

export function CourseMapScreen({
  course,
  progress,
  notice,
  width,
  height,
  isActive,
  onNavigate,
  onQuit,
}: CourseMapScreenProps) {
  // "Continue" once the learner has been somewhere, and only while there is something left to do.
  const step = progress.data.last ? nextStep(course.lessons, progress) : undefined;
  const resume = step && stepRoute(step);
  const resumeLesson = step?.lesson;
  const offset = resume ? 1 : 0;
  const count = course.lessons.length + offset;
  const [selected, setSelected] = useState(() => {
    if (resume) return 0;
    const next = course.lessons.findIndex((l) => progress.lessonState(l) !== "done");
    return Math.max(0, next);
  });
  const index = clamp(selected, 0, count - 1);
  const lessonAt = (i: number) =>
    resume && i === 0 ? resumeLesson : course.lessons[Math.max(0, i - offset)];

  const open = (screen: LessonScreen) => {
    const lesson = lessonAt(index);
    if (lesson) onNavigate(lessonRoute(lesson, screen, progress));
  };

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
          else open("reader");
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
    { isActive },
  );

  const lessons = course.lessons.map((l) => summarize(l, progress));
  const detailLesson = lessonAt(index);
  return (
    <ScreenFrame scope="map" width={width} height={height}>
      <CourseMapView
        title={course.course.title}
        notice={notice}
        continueLabel={
          resume && resumeLesson
            ? `Continue: ${resumeLesson.meta.title} — ${describeRoute(resume, resumeLesson)}`
            : undefined
        }
        lessons={lessons}
        selected={index}
        detail={lessons.find((s) => s.lesson === detailLesson)}
        width={width}
        height={height - STATUS_BAR_LINES}
      />
    </ScreenFrame>
  );
}
