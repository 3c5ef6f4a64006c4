import { afterEach, describe, expect, test } from "vitest";
import { closeApps, openApp } from "./helpers.js";

afterEach(closeApps);

describe("quiz", () => {
  test("t on the map opens the quiz of the selected lesson", async () => {
    const { screen } = await openApp();
    await screen.waitFor("Fixture course");
    await screen.press("down");
    await screen.press("t");
    const frame = await screen.waitFor("Quiz · Beta");
    expect(frame).toContain("question 1 of 1");
    expect(frame).toContain("What does gunicorn's master process do?");
  });

  test("a wrong answer shows the right one, the explanation and its source", async () => {
    const { screen } = await openApp({ start: { lessonId: "alpha", screen: "quiz" } });
    let frame = await screen.waitFor("Which port does http.server use by default?");
    expect(frame).toContain("question 1 of 2");
    expect(frame).toMatch(/1\. 80\n/);
    expect(frame).toContain("2. 8000");
    expect(frame).toContain("3. 8080");

    await screen.press("1");
    frame = screen.frame();
    expect(frame).toContain("Not quite.");
    expect(frame).toContain("The answer is 2. 8000");
    expect(frame).toContain("It listens on 8000 unless told otherwise.");
    expect(frame).toContain("Source: http.server documentation");
    expect(frame).toContain("https://docs.python.org/3/library/http.server.html");
    expect(frame).toContain("Enter: next question");
  });

  test("keys drive it to the score, the review of missed questions and a retake", async () => {
    const { screen, progress } = await openApp({ start: { lessonId: "alpha", screen: "quiz" } });
    await screen.waitFor("Which port");

    await screen.press("3");
    expect(screen.frame()).toContain("Not quite.");
    await screen.press("enter");
    let frame = await screen.waitFor("question 2 of 2");
    expect(frame).toContain("Which address does it bind when given no --bind?");
    await screen.press("down");
    expect(screen.frame()).toMatch(/> +2\. 127\.0\.0\.1 only/);
    await screen.press("up");
    expect(screen.frame()).toMatch(/> +1\. all interfaces/);
    await screen.press("enter");
    expect(screen.frame()).toContain("Correct.");
    expect(screen.frame()).toContain("Enter: see your score");
    await screen.press("enter");

    frame = await screen.waitFor("Score: 50% (1 of 2 correct)");
    expect(frame).toContain("Not passed yet: the pass mark is 70%.");
    expect(frame).toContain("To review:");
    expect(frame).toContain("1. Which port does http.server use by default?");
    expect(frame).toContain("You answered: 8080");
    expect(frame).toContain("Answer: 8000");
    expect(frame).not.toContain("2. Which address");
    expect(progress.lesson("alpha")?.quiz).toMatchObject({
      best: 0.5,
      last: 0.5,
      attempts: 1,
      passed: false,
    });

    await screen.press("r");
    frame = await screen.waitFor("question 1 of 2");
    await screen.press("2");
    await screen.press("enter");
    await screen.press("1");
    await screen.press("enter");
    frame = await screen.waitFor("Score: 100% (2 of 2 correct)");
    expect(frame).toContain("Passed: the pass mark is 70%.");
    expect(frame).not.toContain("To review:");
    expect(progress.lesson("alpha")?.quiz).toMatchObject({
      best: 1,
      last: 1,
      attempts: 2,
      passed: true,
    });

    await screen.press("enter");
    frame = await screen.waitFor("Fixture course");
    expect(frame).toMatch(/1\. Alpha.*quiz 100%/);
  });

  test("Esc leaves the quiz for the map", async () => {
    const { screen } = await openApp({ start: { lessonId: "beta", screen: "quiz" } });
    await screen.waitFor("Quiz · Beta");
    await screen.press("escape");
    await screen.waitFor("Fixture course");
  });
});
