import { describe, expect, it } from "vitest";
import { formatScore, scoreQuiz } from "../../src/course/quiz.js";
import type { Question, Quiz } from "../../src/course/schema.js";

function quiz(count: number, passMark = 0.7): Quiz {
  const questions: Question[] = Array.from({ length: count }, (_, i) => ({
    id: `q${i}`,
    prompt: `Question ${i}?`,
    choices: ["a", "b", "c"],
    answer: i % 3,
    explanation: "Because.",
    source: { title: "Docs", url: "https://docs.python.org/3/" },
  }));
  return { passMark, questions };
}

/** Answers that get the first `right` questions right and the rest wrong. */
function answers(q: Quiz, right: number): number[] {
  return q.questions.map((question, i) =>
    i < right ? question.answer : (question.answer + 1) % 3,
  );
}

describe("scoreQuiz", () => {
  it("passes at exactly the 70% pass mark", () => {
    const q = quiz(10);
    expect(scoreQuiz(q, answers(q, 7))).toEqual({
      correct: 7,
      total: 10,
      score: 0.7,
      passed: true,
      missed: [7, 8, 9],
    });
  });

  it("fails just below the pass mark", () => {
    const q = quiz(10);
    const result = scoreQuiz(q, answers(q, 6));
    expect(result.passed).toBe(false);
    expect(result.score).toBeCloseTo(0.6);
    expect(result.missed).toEqual([6, 7, 8, 9]);
  });

  it("fails 2 of 3 against 70% and passes it against a 2/3 mark", () => {
    const q = quiz(3);
    expect(scoreQuiz(q, answers(q, 2)).passed).toBe(false);
    expect(scoreQuiz({ ...q, passMark: 2 / 3 }, answers(q, 2)).passed).toBe(true);
  });

  it("counts unanswered questions as missed", () => {
    const q = quiz(4);
    const result = scoreQuiz(q, [q.questions[0]?.answer, undefined]);
    expect(result.correct).toBe(1);
    expect(result.missed).toEqual([1, 2, 3]);
    expect(result.score).toBe(0.25);
  });

  it("gives full marks for all correct and zero for none", () => {
    const q = quiz(5, 1);
    expect(scoreQuiz(q, answers(q, 5))).toMatchObject({ score: 1, passed: true, missed: [] });
    expect(scoreQuiz(q, [])).toMatchObject({ score: 0, passed: false, correct: 0 });
  });
});

describe("formatScore", () => {
  it("shows whole percentages", () => {
    expect(formatScore(0.8)).toBe("80%");
    expect(formatScore(1)).toBe("100%");
    expect(formatScore(0)).toBe("0%");
    expect(formatScore(0.29)).toBe("29%");
  });

  it("rounds down, so that a fail below 70% never shows as 70%", () => {
    expect(formatScore(0.699)).toBe("69%");
    expect(formatScore(2 / 3)).toBe("66%");
    expect(formatScore(0.7)).toBe("70%");
  });

  it("clamps odd input", () => {
    expect(formatScore(1.5)).toBe("100%");
    expect(formatScore(-1)).toBe("0%");
    expect(formatScore(Number.NaN)).toBe("0%");
  });
});
