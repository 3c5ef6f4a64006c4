import type {
  KillWorkerControl,
  MasterSignal,
  SandboxEvent,
  SignalControl,
  WorkerEvent,
} from "../../sandboxes/shared/protocol.js";
import type { ExperimentResult } from "./types.js";
import type { EventWatch } from "./watch.js";

type Values = Record<string, string | number | boolean>;

/** What the experiments that talk to a master and its workers need from the lab. */
export interface WorkerContext {
  /** Sends a control message to the sandbox; false when it is not running. */
  control(control: SignalControl | KillWorkerControl): boolean;
  watch(): EventWatch;
  /** Resolves true if the sandbox process exits within `ms`. */
  exited(ms: number): Promise<boolean>;
  /** Workers alive now, as the lab counts them from the sandbox's events. */
  liveWorkers(): number;
  /** Starts the sandbox again with the lab's current options. */
  startAgain(): Promise<void>;
}

const isWorker = (event: SandboxEvent): event is WorkerEvent => event.type === "worker";
/** The proxy's word that one of its app servers stopped. */
const isAppServerGone = (event: SandboxEvent) =>
  event.type === "error" && event.code === "EUPSTREAM";

/** How long after the last worker change a signal's effect counts as over. */
const SETTLE_QUIET_MS = 700;
const SETTLE_MAX_MS = 8_000;
const RESPAWN_WAIT_MS = 5_000;
/** Signals after which a Gunicorn master exits (uWSGI's TERM reloads instead). */
const STOPPING: readonly MasterSignal[] = ["TERM", "INT", "QUIT"];

function pids(events: readonly WorkerEvent[], state: WorkerEvent["state"]): number[] {
  return [...new Set(events.filter((e) => e.state === state).map((e) => e.pid))];
}

function list(items: number[]): string {
  return items.length <= 4
    ? items.join(", ")
    : `${items.slice(0, 3).join(", ")} and ${items.length - 3} more`;
}

/** "booted 2 (pids 11, 12); 3 exited (...)": what happened to the workers, in a few words. */
export function describeWorkerChanges(events: readonly SandboxEvent[]): {
  text: string;
  booted: number[];
  exited: number[];
} {
  const workers = events.filter(isWorker);
  const booted = pids(workers, "booting");
  const exited = pids(workers, "exited");
  const parts: string[] = [];
  if (booted.length > 0)
    parts.push(`${booted.length} booted (pid${booted.length > 1 ? "s" : ""} ${list(booted)})`);
  if (exited.length > 0) {
    const reasons = new Set(
      workers.filter((e) => e.state === "exited" && e.reason).map((e) => e.reason),
    );
    const why = reasons.size > 0 ? `, ${[...reasons].join("/")}` : "";
    parts.push(
      `${exited.length} exited (pid${exited.length > 1 ? "s" : ""} ${list(exited)}${why})`,
    );
  }
  return { text: parts.join("; "), booted, exited };
}

export async function signalAction(
  id: string,
  signal: MasterSignal,
  ctx: WorkerContext,
): Promise<ExperimentResult> {
  const watch = ctx.watch();
  try {
    if (!ctx.control({ type: "signal", signal })) {
      return notRunning(id);
    }
    const handled = await watch.wait(
      (e) => e.type === "signal" && e.signal === signal,
      RESPAWN_WAIT_MS,
    );
    if (!handled) {
      return {
        experimentId: id,
        ok: false,
        summary: `The master did not say it handled ${signal} within ${RESPAWN_WAIT_MS / 1000} s. Its log may say why.`,
        values: { signal },
      };
    }
    if (STOPPING.includes(signal)) {
      const stopped = await Promise.race([
        ctx.exited(SETTLE_MAX_MS),
        watch.settle(isWorker, 1_500, SETTLE_MAX_MS).then(() => false),
      ]);
      if (stopped) {
        const { text } = describeWorkerChanges(watch.events);
        await ctx.startAgain();
        return {
          experimentId: id,
          ok: true,
          summary: `${signal}: the master stopped${text ? ` (workers: ${text})` : ""}. The lab started the server again.`,
          values: { signal, stopped: true },
        };
      }
      // A master shutting down while the sandbox runs on: an app server behind the proxy, which
      // says so once that master is gone (after its requests in flight).
      if (watch.events.some((e) => isWorker(e) && e.reason === "shutdown")) {
        await watch.wait(isAppServerGone, SETTLE_MAX_MS);
      }
    } else {
      await watch.settle(isWorker, SETTLE_QUIET_MS, SETTLE_MAX_MS);
    }
    const { text, booted, exited } = describeWorkerChanges(watch.events);
    const live = ctx.liveWorkers();
    // Behind a proxy the signal goes to an app server, which may stop while the proxy runs on.
    const appServerStopped = watch.events.some(isAppServerGone);
    const values: Values = {
      signal,
      booted: booted.length,
      exited: exited.length,
      workers: live,
      ...(appServerStopped ? { appServerStopped: true } : { stopped: false }),
    };
    const what = text || "no worker changed";
    const now = `${live} worker${live === 1 ? "" : "s"} now`;
    return {
      experimentId: id,
      ok: true,
      summary: appServerStopped
        ? `${signal}: that app server's master stopped (workers: ${what}); the proxy runs on and passes requests to the app servers left, or answers 502. ${now} in all.`
        : `${signal}: ${what}. ${now}.`,
      values,
    };
  } finally {
    watch.stop();
  }
}

export async function killWorkerAction(
  id: string,
  signal: "SIGKILL" | "SIGTERM",
  ctx: WorkerContext,
): Promise<ExperimentResult> {
  const watch = ctx.watch();
  try {
    if (!ctx.control({ type: "kill-worker", signal })) return notRunning(id);
    const gone = await watch.wait((e) => isWorker(e) && e.state === "exited", RESPAWN_WAIT_MS);
    if (!gone || !isWorker(gone)) {
      return {
        experimentId: id,
        ok: false,
        summary: `No worker exited within ${RESPAWN_WAIT_MS / 1000} s of ${signal}. Is there a worker left?`,
        values: { signal },
      };
    }
    const booted = await watch.wait(
      (e) => isWorker(e) && e.state === "booting" && e.pid !== gone.pid,
      RESPAWN_WAIT_MS,
    );
    const respawn =
      booted && isWorker(booted)
        ? await watch.wait(
            (e) => isWorker(e) && e.state === "idle" && e.pid === booted.pid,
            RESPAWN_WAIT_MS,
          )
        : undefined;
    const values: Values = { signal, killed: gone.pid };
    if (!respawn || !isWorker(respawn)) {
      return {
        experimentId: id,
        ok: true,
        summary: `Worker ${gone.pid} ended by ${signal}; no new worker took its place within ${RESPAWN_WAIT_MS / 1000} s.`,
        values: { ...values, respawned: false },
      };
    }
    const took = Math.max(0, Math.round(respawn.at - gone.at));
    return {
      experimentId: id,
      ok: true,
      summary: `Worker ${gone.pid} ended by ${signal}; the master booted ${respawn.pid} in its place, ready ${took} ms later.`,
      values: { ...values, respawned: true, newPid: respawn.pid, ms: took },
    };
  } finally {
    watch.stop();
  }
}

function notRunning(id: string): ExperimentResult {
  return {
    experimentId: id,
    ok: false,
    summary: "The sandbox is not running, so there is no master to signal. Open the lab again.",
    values: {},
  };
}
