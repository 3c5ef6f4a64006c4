import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import { copyValid, edit, PACKS, problems, removeTemps } from "./packs.js";

afterEach(removeTemps);

const EXAM = `passMark: 0.5
questions:
  - from: alpha/bind
  - id: own
    prompt: Which one?
    choices: [One, Two]
    answer: 1
    explanation: The second.
    source:
      title: Fixture source
      url: https://docs.python.org/3/
`;

/** A copy of the valid pack with an exam, for one test to break. */
function packWithExam(exam = EXAM): string {
  const pack = copyValid();
  edit(join(pack, "course.yaml"), "  - beta\n", "  - beta\nexam: exam.yaml\n");
  writeFileSync(join(pack, "exam.yaml"), exam);
  return pack;
}

describe("an exam in a lesson pack", () => {
  it("loads with each picked question resolved from its lesson's quiz, in the file's order", async () => {
    const course = await loadCourse(join(PACKS, "exam-valid"));
    expect(course.course.exam).toBe("exam.yaml");
    const exam = course.exam;
    expect(exam?.title).toBe("Fixture exam");
    expect(exam?.passMark).toBe(0.75);
    expect(exam?.questions.map((q) => q.id)).toEqual([
      "alpha/port",
      "mixed-scenario",
      "beta/workers",
      "second-scenario",
    ]);
    const [port, mixed, workers] = exam?.questions ?? [];
    const alphaPort = course.lessons[0]?.quiz.questions.find((q) => q.id === "port");
    expect(port).toEqual({ ...alphaPort, id: "alpha/port", lessonId: "alpha" });
    expect(workers?.lessonId).toBe("beta");
    expect(workers?.prompt).toBe("What does gunicorn's master process do?");
    expect(mixed).toEqual({
      id: "mixed-scenario",
      prompt: "A scenario that mixes both lessons. Which answer is right?",
      choices: ["The first", "The second", "The third"],
      answer: 2,
      explanation: "The third choice is right, as both lessons show.",
      source: {
        title: "Fixture source",
        url: "https://docs.python.org/3/library/http.server.html",
      },
    });
    expect(mixed).not.toHaveProperty("lessonId");
  });

  it("is optional: a pack without one has no exam", async () => {
    const course = await loadCourse(join(PACKS, "valid"));
    expect(course.exam).toBeUndefined();
  });

  it("the title and pass mark have defaults", async () => {
    const course = await loadCourse(packWithExam());
    expect(course.exam?.title).toBe("Final exam");
    expect(course.exam?.passMark).toBe(0.5);
    const bare = await loadCourse(packWithExam(EXAM.replace("passMark: 0.5\n", "")));
    expect(bare.exam?.passMark).toBe(0.7);
  });
});

describe("exam problems, as file:line: message", () => {
  it("references that do not resolve, mixed forms, half-written questions, duplicates", async () => {
    expect(await problems(join(PACKS, "exam-broken"))).toEqual([
      'exam-broken/exam.yaml:3: questions[0].from: there is no lesson "gamma" in course.yaml (lessons: alpha, beta)',
      'exam-broken/exam.yaml:4: questions[1].from: alpha/quiz.yaml has no question "portt" (its questions: port, bind)',
      'exam-broken/exam.yaml:5: questions[2].from: "alpha-port" is not valid: write it as lesson-id/question-id, e.g. gunicorn/master-role',
      'exam-broken/exam.yaml:7: questions[3]: a picked question holds only "from"; remove "prompt" (or remove "from" to write the whole question here)',
      'exam-broken/exam.yaml:8: questions[4]: missing fields "answer", "explanation", "source" (a question written in the exam needs id, prompt, choices, answer, explanation, source; or pick one with from: lesson-id/question-id)',
      "exam-broken/exam.yaml:14: questions[5].answer: 2 is out of range (2 choices, so 0-1; answers count from 0)",
      'exam-broken/exam.yaml:19: questions[6].from: "beta/workers" is used twice (pick each question once)',
      "exam-broken/exam.yaml:20: questions[7]: write a whole question (id, prompt, choices, answer, explanation, source) or pick one with from: lesson-id/question-id",
      'exam-broken/exam.yaml:21: questions[8]: unknown field "form" (did you mean "from"?)',
      "exam-broken/exam.yaml:21: questions[8]: write a whole question (id, prompt, choices, answer, explanation, source) or pick one with from: lesson-id/question-id",
    ]);
  });

  it("an exam file course.yaml names that is not there", async () => {
    const pack = packWithExam();
    rmSync(join(pack, "exam.yaml"));
    expect(await problems(pack)).toEqual([
      'pack/course.yaml:6: exam: there is no file "exam.yaml" next to course.yaml (write it, or remove the exam line)',
    ]);
  });

  it("an exam file course.yaml does not name", async () => {
    const pack = copyValid();
    writeFileSync(join(pack, "exam.yaml"), EXAM);
    expect(await problems(pack)).toEqual([
      'pack/course.yaml:3: the pack holds exam.yaml, but course.yaml has no line "exam: exam.yaml" (add it, or move the file out of the pack)',
    ]);
  });

  it("an exam named outside the pack", async () => {
    const pack = packWithExam();
    edit(join(pack, "course.yaml"), "exam: exam.yaml", "exam: ../exam.yaml");
    expect(await problems(pack)).toEqual([
      'pack/course.yaml:6: exam: "../exam.yaml" is not valid: the exam is a YAML file next to course.yaml, named like exam.yaml',
    ]);
  });

  it("a question renamed in a lesson's quiz breaks the exam that picks it", async () => {
    const pack = packWithExam();
    edit(join(pack, "alpha", "quiz.yaml"), "- id: bind", "- id: bind-address");
    expect(await problems(pack)).toEqual([
      'pack/exam.yaml:3: questions[0].from: alpha/quiz.yaml has no question "bind" (its questions: port, bind-address)',
    ]);
  });

  it("a lesson whose quiz has problems is reported once, not again through the exam", async () => {
    const pack = packWithExam();
    edit(join(pack, "alpha", "quiz.yaml"), "answer: 0", "answer: 7");
    const found = await problems(pack);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^pack\/alpha\/quiz\.yaml:\d+: questions\[1\]\.answer: 7 is out of range/,
    );
  });

  it("control characters in the exam, as anywhere in a pack", async () => {
    const pack = packWithExam(EXAM.replace("Which one?", '"Which \\u001b[31mone?"'));
    expect(await problems(pack)).toEqual([
      "pack/exam.yaml:5: questions[1].prompt: contains the control character U+001B (escape): lesson packs may hold no control characters other than newline and tab",
    ]);
  });
});

describe("the built-in exam", () => {
  it("spans the course: at least 25 questions, half picked from the lessons, 12 or more scenarios", async () => {
    const course = await loadCourse();
    const questions = course.exam?.questions ?? [];
    expect(questions.length).toBeGreaterThanOrEqual(25);
    const picked = questions.filter((q) => q.lessonId !== undefined);
    const written = questions.filter((q) => q.lessonId === undefined);
    expect(written.length).toBeGreaterThanOrEqual(12);
    expect(picked.length).toBeGreaterThanOrEqual(Math.floor(questions.length / 2) - 2);
    expect(new Set(picked.map((q) => q.lessonId)).size).toBeGreaterThanOrEqual(6);
    for (const q of written) {
      expect(q.source.url, q.id).toMatch(/^https:\/\//);
      expect(q.explanation.length, q.id).toBeGreaterThan(150);
    }
  });

  it("spreads the right answers over every position", async () => {
    const questions = (await loadCourse()).exam?.questions ?? [];
    const counts = [0, 0, 0, 0];
    for (const q of questions) counts[q.answer] = (counts[q.answer] ?? 0) + 1;
    for (const count of counts)
      expect(count).toBeGreaterThanOrEqual(Math.floor(questions.length / 4) - 2);
  });
});
