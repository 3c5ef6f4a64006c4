import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadCourse } from "../../src/course/loader.js";
import { eventMatches, MissionTracker, originOf } from "../../src/lab/missions.js";
import { copyValid, edit, problems, removeTemps } from "./packs.js";

afterEach(removeTemps);

const PREDICT = `  - key: 3
    id: guess-first
    title: Guess, then fetch
    explain: Fetch the index page after a guess.
    predict:
      prompt: How fast?
      choices: ["fast", "slow"]
      answer: ANSWER
    action:
      kind: request
      path: /
`;

describe("predict-then-observe steps", () => {
  it("load with their prompt, choices and answer", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "missions:\n",
      `${PREDICT.replace("ANSWER", "1")}missions:\n`,
    );
    const course = await loadCourse(dir);
    const exp = course.lessons[0]?.lab.experiments.find((e) => e.id === "guess-first");
    expect(exp?.predict).toEqual({ prompt: "How fast?", choices: ["fast", "slow"], answer: 1 });
  });

  it("report an answer outside the choices at its line", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "missions:\n",
      `${PREDICT.replace("ANSWER", "2")}missions:\n`,
    );
    const found = await problems(dir);
    expect(found).toEqual([
      expect.stringMatching(
        /alpha\/lab\.yaml:\d+: experiments\[2\]\.predict\.answer: 2 is out of range \(2 choices, so 0-1/,
      ),
    ]);
  });
});

describe("worker actions", () => {
  it("are refused in a lab whose sandbox has no workers, naming the ones that do", async () => {
    const dir = copyValid();
    edit(
      join(dir, "alpha", "lab.yaml"),
      "missions:\n",
      `  - key: 3
    id: add-worker
    title: TTIN
    explain: Add a worker.
    action: { kind: signal, signal: TTIN }
  - key: 4
    id: kill-one
    title: Kill a worker
    explain: Kill one.
    action: { kind: kill-worker }
  - key: 5
    id: compare
    title: One vs two
    explain: Compare.
    action: { kind: burst, path: /, count: 4, workers: [1, 2] }
missions:
`,
    );
    const found = await problems(dir);
    expect(found).toEqual([
      expect.stringMatching(
        /experiments\[2\]\.action\.kind: "signal" needs a sandbox with a master and workers \(prefork, proxy\), not static/,
      ),
      expect.stringMatching(
        /experiments\[3\]\.action\.kind: "kill-worker" needs a sandbox with a master and workers \(prefork, proxy\), not static/,
      ),
      expect.stringMatching(
        /experiments\[4\]\.action\.workers: worker counts need a sandbox with workers \(prefork, proxy\), not static/,
      ),
    ]);
  });

  it("take only the signals a master handles", async () => {
    const dir = copyValid();
    edit(join(dir, "alpha", "lab.yaml"), "sandbox: static\n", "sandbox: prefork\n");
    edit(
      join(dir, "alpha", "lab.yaml"),
      "missions:\n",
      `  - key: 3
    id: stop-it
    title: STOP
    explain: Stop.
    action: { kind: signal, signal: STOP }
missions:
`,
    );
    const found = await problems(dir);
    expect(found.some((p) => /experiments\[2\]\.action\.signal/.test(p))).toBe(true);
  });
});

describe("missions over worker and signal events", () => {
  const mission = {
    id: "ttin-yourself",
    title: "Add a worker with your own kill -TTIN",
    hint: "kill -TTIN <master pid>",
    when: {
      event: "signal" as const,
      from: "learner" as const,
      match: { signal: "TTIN" },
      count: 1,
    },
  };

  it("count a real signal as the learner's and a control message as the lab's", () => {
    const fromOs = { type: "signal" as const, signal: "TTIN", via: "os" as const, pid: 10 };
    const fromLab = { ...fromOs, via: "ipc" as const };
    expect(originOf(fromOs)).toBe("learner");
    expect(originOf(fromLab)).toBe("lab");
    expect(eventMatches(mission, fromLab)).toBe(false);
    expect(eventMatches(mission, fromOs)).toBe(true);
    expect(eventMatches(mission, { ...fromOs, signal: "TTOU" })).toBe(false);
  });

  it("count distinct workers from the request events' worker pid", () => {
    const tracker = new MissionTracker(
      [
        {
          id: "three-workers",
          title: "Three different workers answer",
          hint: "send a few requests",
          when: { event: "request", from: "any", match: {}, count: 3, distinct: "worker" },
        },
      ],
      [],
    );
    const request = (worker: number) => ({
      type: "request" as const,
      id: worker,
      time: "",
      remote: "127.0.0.1",
      method: "GET",
      target: "/",
      path: "/",
      version: "HTTP/1.1",
      status: 200,
      reason: "OK",
      requestHeaders: {},
      responseHeaders: {},
      bytes: 10,
      durationMs: 1,
      worker,
    });
    expect(tracker.push(request(11))).toEqual([]);
    expect(tracker.push(request(11))).toEqual([]);
    expect(tracker.push(request(12))).toEqual([]);
    expect(tracker.push(request(13))).toEqual(["three-workers"]);
  });
});
