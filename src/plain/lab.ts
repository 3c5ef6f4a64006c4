import { join } from "node:path";
import { safeText } from "../course/control.js";
import type { Lesson } from "../course/schema.js";
import { withAddress } from "../lab/address.js";
import { connectionsText, delayText, handshakeLines } from "../lab/loop.js";
import { optionWords } from "../lab/options.js";
import type { ExperimentResult, LabSessionSnapshot, LogLine } from "../lab/types.js";
import type { PlainContext } from "./run.js";
import { wrap } from "./wrap.js";

/** Lines of a request or response shown after an experiment; the rest is counted. */
const EXCHANGE_LINES = 40;
/** How long after an experiment the server's own log lines are waited for. */
const SETTLE_MS = 100;

function logLine(line: LogLine): string {
  const text = safeText(line.text);
  return line.stream === "lab" ? `  (lab) ${text}` : `  | ${text}`;
}

/** Bytes sent or received, one quoted line each, with control characters made visible. */
function quoted(prefix: string, text: string): string[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const shown = lines.slice(0, EXCHANGE_LINES).map((l) => `${prefix}${safeText(l)}`);
  if (lines.length > EXCHANGE_LINES) {
    shown.push(`${prefix}... (${lines.length - EXCHANGE_LINES} more lines)`);
  }
  return shown;
}

function resultLines(title: string, result: ExperimentResult): string[] {
  const out: string[] = [];
  const p = result.prediction;
  if (p) {
    out.push(
      p.correct
        ? `You predicted ${p.chosen}: right.`
        : `You predicted ${p.chosen}; the answer is ${p.answer}.`,
    );
  }
  out.push(`${result.ok ? "Result" : "Failed"}: ${title}: ${result.summary}`);
  const ex = result.exchange;
  if (ex) {
    out.push("Sent:", ...quoted("  > ", ex.request || "(nothing)"));
    out.push("Received:", ...quoted("  < ", ex.response || "(nothing)"));
    if (ex.note) out.push(ex.note);
  }
  return out;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** The worker table as text: pid, state, requests served, the current request, age. */
export function workerLines(snap: LabSessionSnapshot, now = Date.now()): string[] {
  const view = snap.workers;
  if (!view) return [];
  const { live, busy, served, respawns, timeouts } = view.stats;
  const out = [
    `Workers: ${live} live, ${busy} busy, ${served} served, ${respawns} respawned, ${timeouts} timed out`,
  ];
  for (const row of view.rows) {
    const current = row.current
      ? `${row.current.method} ${safeText(row.current.target)} for ${age(now - row.current.startedAt)}`
      : "";
    const gone =
      row.state === "exited"
        ? `exited${row.reason ? ` (${row.reason}${row.signal ? `, ${row.signal}` : ""})` : ""}`
        : row.state;
    out.push(
      `  pid ${String(row.pid).padEnd(7)} ${gone.padEnd(10)} ${String(row.served).padStart(4)} served  age ${age((row.endedAt ?? now) - row.bootedAt).padEnd(6)} ${current}`.trimEnd(),
    );
  }
  return out;
}

/** The event loop as text: connections, delay, and the last handshake step by step. */
export function loopLines(snap: LabSessionSnapshot): string[] {
  const view = snap.loop;
  if (!view) return [];
  const out = [`Connections: ${connectionsText(view)}`];
  const d = view.delay;
  out.push(
    d
      ? `Loop delay: p50 ${delayText(d.p50Ms)}, p99 ${delayText(d.p99Ms)}, max ${delayText(d.maxMs)} (last ${d.windowMs / 1000} s)`
      : "Loop delay: not measured yet",
  );
  const worst = view.delays.reduce((m, x) => Math.max(m, x.maxMs), 0);
  if (view.delays.length > 0) out.push(`Worst delay in the last minute: ${delayText(worst)}`);
  out.push(...handshakeLines(view, 6).map((line) => safeText(line)));
  return out;
}

/** Server log lines printed during one experiment, at most. */
const LOG_LINES_PER_RUN = 20;

function secondsText(ms: number | undefined): string {
  return ms === undefined ? "?" : `${(ms / 1000).toFixed(2)} s`;
}

/** The reloads as text: each one's outcome and timings, then the reloaders compared. */
export function reloadLines(snap: LabSessionSnapshot): string[] {
  const view = snap.reloads;
  if (!view) return [];
  const out: string[] = [];
  for (const row of view.rows) {
    const what =
      row.state === "failed"
        ? `failed: ${safeText(row.error ?? "the app did not load")}`
        : row.state === "ready"
          ? `live ${secondsText(row.latencyMs)} after the save (down ${secondsText(row.downtimeMs)})`
          : "restarting...";
    out.push(`  #${row.reload} ${row.reloader} ${safeText(row.file)}: ${what}`);
  }
  if (out.length === 0) out.push("  No reload yet: save the app file (or run an edit experiment).");
  const compare = (["stat", "events"] as const).map((name) => {
    const s = view.stats.byReloader[name];
    return s ? `${name}: median ${secondsText(s.medianMs)} (n=${s.n})` : `${name}: no sample yet`;
  });
  return [`Reloads, save to live: ${compare.join(", ")}`, ...out];
}

function missionLines(snap: LabSessionSnapshot, width: number): string[] {
  return snap.missions.map((m) => {
    const count = m.needed > 1 ? ` (${Math.min(m.progress, m.needed)} of ${m.needed})` : "";
    const line = `  [${m.met ? "x" : " "}] ${m.title}${count}`;
    return m.met ? line : `${line}\n${wrap(`Hint: ${m.hint}`, width, "      ")}`;
  });
}

function overview(
  ctx: PlainContext,
  lesson: Lesson,
  snap: LabSessionSnapshot,
  curl?: string,
): void {
  const { io } = ctx;
  io.say();
  const details = [snap.pid !== undefined ? `pid ${snap.pid}` : "", optionWords(snap.options)];
  const about = snap.pid !== undefined ? ` (${details.filter(Boolean).join(", ")})` : "";
  io.say(`Server: ${snap.url ?? "(not listening)"}${about}`);
  if (curl) io.say(`Try it yourself: ${curl}`);
  if (snap.workspace)
    io.say(`Workspace (the files it serves; edit them freely): ${snap.workspace}`);
  // The intro refers to "the URL shown above".
  io.say();
  io.say(wrap(withAddress(lesson.lab.intro, snap.host, snap.port), ctx.width));
  io.say("Experiments:");
  for (const e of lesson.lab.experiments) {
    io.say(`  ${e.key}. ${e.title}${e.predict ? " (asks for your prediction first)" : ""}`);
    if (!e.predict) io.say(wrap(withAddress(e.explain, snap.host, snap.port), ctx.width, "     "));
  }
  io.say("Missions:");
  io.say(missionLines(snap, ctx.width).join("\n"));
}

/** The lesson's lab: the server runs until the learner goes back, or input ends. */
export async function runLab(ctx: PlainContext, lesson: Lesson): Promise<void> {
  const { io, progress } = ctx;
  const { LabSession } = await import("../lab/session.js");
  const lab = lesson.lab;
  const session = new LabSession({
    lessonId: lesson.id,
    lab,
    python: lesson.python,
    progress,
    ...(ctx.port !== undefined ? { port: ctx.port } : {}),
    ...(ctx.host !== undefined ? { host: ctx.host } : {}),
  });
  progress.setPosition({ lessonId: lesson.id, screen: "lab", page: 0 });

  let lastSeq = session.snapshot().logs.at(-1)?.seq ?? 0;
  let shownState = session.snapshot().state;
  let shownQuarter = -1;
  // During one experiment at most LOG_LINES_PER_RUN server lines are printed (10,000
  // connections log 10,000 lines); the rest are counted and said once it is over.
  let shownInRun = 0;
  let heldBack = 0;
  const unsubscribe = session.subscribe((snap) => {
    const lines: string[] = [];
    for (const line of snap.logs) {
      if (line.seq <= lastSeq) continue;
      if (snap.running && line.stream !== "lab" && shownInRun >= LOG_LINES_PER_RUN) heldBack++;
      else {
        lines.push(logLine(line));
        if (snap.running) shownInRun++;
      }
    }
    lastSeq = snap.logs.at(-1)?.seq ?? lastSeq;
    if (!snap.running) {
      if (heldBack > 0) lines.push(`  (${heldBack} more log lines, like the ones above)`);
      heldBack = 0;
      shownInRun = 0;
    }
    const p = snap.running?.progress;
    if (p && p.total > 0) {
      const quarter = Math.floor((4 * p.done) / p.total);
      if (quarter > shownQuarter && quarter < 4)
        lines.push(`  ... ${p.label || `${p.done} of ${p.total}`}`);
      shownQuarter = Math.max(shownQuarter, quarter);
    } else if (!snap.running) {
      shownQuarter = -1;
    }
    if (snap.state !== shownState) {
      if (
        (snap.state === "failed" || snap.state === "stopped") &&
        shownState === "listening" &&
        snap.error
      ) {
        lines.push(`The server stopped: ${snap.error.message}`);
        if (snap.error.hint) lines.push(snap.error.hint);
      }
      shownState = snap.state;
    }
    io.notify(lines);
  });
  const offMet = session.onMissionMet((missions) => {
    io.notify(missions.map((m) => `Mission met: ${m.title}`));
  });

  let listened = false;
  try {
    io.say();
    io.say(
      `Lab: ${lesson.meta.title} (${lab.sandbox} sandbox${lab.flavour ? `, ${lab.flavour}` : ""})`,
    );
    io.say("Starting the server...");
    await session.start();
    const started = session.snapshot();
    if (started.state !== "listening") {
      io.say(`The server could not start: ${started.error?.message ?? started.state}`);
      if (started.error?.hint) io.say(started.error.hint);
      return;
    }
    listened = true;
    overview(ctx, lesson, started, session.curlCommand());

    const keys = lab.experiments.map((e) => e.key);
    const range = `${Math.min(...keys)}-${Math.max(...keys)}`;
    for (;;) {
      const workers =
        lab.sandbox === "prefork"
          ? ", w: workers"
          : lab.sandbox === "dev-reload"
            ? ", r: reloads"
            : lab.sandbox === "async"
              ? ", l: event loop"
              : "";
      const editable = lab.edit ? ", e: the file to edit" : "";
      const answer = (
        await io.ask(
          `Lab [${range}: run an experiment, m: missions${workers}${editable}, s: start again, h: overview, b: back]:`,
        )
      ).toLowerCase();
      if (answer === "b" || answer === "q" || answer === "back") return;
      if (answer === "") continue;
      if (answer === "e" && lab.edit) {
        const workspace = session.snapshot().workspace;
        io.say(
          workspace
            ? `Open ${join(workspace, lab.edit)} in your editor, change it and save: the log shows what the server does.`
            : "The workspace is not ready yet.",
        );
        continue;
      }
      if (answer === "r" && lab.sandbox === "dev-reload") {
        io.say(reloadLines(session.snapshot()).join("\n"));
        continue;
      }
      if (answer === "l" && lab.sandbox === "async") {
        io.say(loopLines(session.snapshot()).join("\n"));
        continue;
      }
      if (answer === "w" && lab.sandbox === "prefork") {
        io.say(workerLines(session.snapshot()).join("\n"));
        continue;
      }
      if (answer === "s") {
        const state = session.snapshot().state;
        if (state === "stopped" || state === "failed") {
          io.say("Starting the server again...");
          await session.start();
          const again = session.snapshot();
          io.say(
            again.state === "listening"
              ? `Server: ${again.url ?? ""} (pid ${again.pid ?? "?"})`
              : `The server could not start: ${again.error?.message ?? again.state}`,
          );
        } else {
          io.say("The server is already running.");
        }
        continue;
      }
      if (answer === "m") {
        io.say("Missions:");
        io.say(missionLines(session.snapshot(), ctx.width).join("\n"));
        continue;
      }
      if (answer === "h" || answer === "?") {
        overview(ctx, lesson, session.snapshot(), session.curlCommand());
        continue;
      }
      const exp = /^\d$/.test(answer)
        ? lab.experiments.find((e) => e.key === Number(answer))
        : undefined;
      if (!exp) {
        io.say(`Type an experiment's number (${range}), m, h or b.`);
        continue;
      }
      let guess: number | undefined;
      if (exp.predict) {
        io.say(wrap(`Predict first: ${exp.predict.prompt}`, ctx.width));
        exp.predict.choices.forEach((choice, i) => {
          io.say(`  ${i + 1}. ${choice}`);
        });
        const n = exp.predict.choices.length;
        for (;;) {
          const said = (await io.ask(`Your prediction [1-${n}, b: no prediction, no run]:`))
            .trim()
            .toLowerCase();
          if (said === "b" || said === "q") break;
          const k = Number(said);
          if (Number.isInteger(k) && k >= 1 && k <= n) {
            guess = k - 1;
            break;
          }
          io.say(`Type a number from 1 to ${n}, or b.`);
        }
        if (guess === undefined) {
          io.say(`No prediction, so experiment ${exp.key} did not run.`);
          continue;
        }
      }
      io.say(`Running ${exp.key}. ${exp.title} ...`);
      const result = await session.runExperiment(exp.key, guess);
      if (!result) io.say("Another experiment is still running.");
      else {
        io.say(resultLines(exp.title, result).join("\n"));
        // Kept back until now, so that it does not give the answer away.
        if (exp.predict) {
          const snap = session.snapshot();
          io.say(wrap(withAddress(exp.explain, snap.host, snap.port), ctx.width));
        }
      }
      // The server logs an exchange on its own stream, a moment after answering it.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    }
  } finally {
    // Stopped first, so that lines and missions arriving meanwhile are still printed.
    await session.stop();
    unsubscribe();
    offMet();
    if (listened) io.say("Lab closed; its server is stopped.");
  }
}
