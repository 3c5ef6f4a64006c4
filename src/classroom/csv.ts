import { describeStep } from "./protocol.js";
import { missionsMet, type RoomData } from "./room.js";

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. A text that
 * a spreadsheet would run as a formula (starting with = + - @, a tab or a CR) gets a leading '.
 */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "number" ? String(value) : value;
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(fields: (string | number | null | undefined)[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}

function iso(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : "";
}

function percent(score: number | undefined): string {
  return score === undefined ? "" : String(Math.round(score * 100));
}

/**
 * The room as CSV: one row per learner, then per lesson its missions met and the best quiz score
 * in percent, then, for a course with a final exam, its best score, attempts and whether it is
 * passed (last, so that the earlier columns keep their places). CRLF line ends; a UTF-8 byte
 * order mark so that spreadsheets read names right.
 */
export function roomCsv(room: RoomData): string {
  const lessons = room.course.lessons;
  const withExam = room.course.exam !== undefined;
  const header = [
    "name",
    "joined",
    "last active",
    "lesson",
    "step",
    "missions met",
    "missions in course",
    ...lessons.flatMap((l) => [`${l.id} missions`, `${l.id} quiz best %`, `${l.id} quiz passed`]),
    ...(withExam ? ["exam best %", "exam attempts", "exam passed"] : []),
  ];
  const total = lessons.reduce((n, l) => n + l.missions.length, 0);
  const rows = [...room.learners]
    .sort((a, b) => a.name.localeCompare(b.name) || a.joinedAt - b.joinedAt)
    .map((learner) => {
      const at = learner.position;
      const lesson = at ? lessons.find((l) => l.id === at.lesson) : undefined;
      const met = lessons.reduce((n, l) => {
        const state = learner.lessons[l.id];
        return n + (state ? missionsMet(room.course, l.id, state) : 0);
      }, 0);
      return [
        learner.name,
        iso(learner.joinedAt),
        iso(learner.lastActive),
        at?.lesson ?? "",
        describeStep(at, lesson?.pages),
        met,
        total,
        ...lessons.flatMap((l) => {
          const state = Object.hasOwn(learner.lessons, l.id) ? learner.lessons[l.id] : undefined;
          return [
            state ? missionsMet(room.course, l.id, state) : 0,
            percent(state?.quiz?.best),
            state?.quiz ? (state.quiz.passed ? "yes" : "no") : "",
          ];
        }),
        ...(withExam
          ? [
              percent(learner.exam?.best),
              learner.exam?.attempts ?? 0,
              learner.exam ? (learner.exam.passed ? "yes" : "no") : "",
            ]
          : []),
      ];
    });
  return `\ufeff${[header, ...rows].map(csvLine).join("")}`;
}
