import type { RequestEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import type { SandboxName } from "../course/sandboxes.js";
import type { Experiment, Lab, Mission } from "../course/schema.js";
import type { ProgressStore } from "../progress/store.js";
import type { LoopView } from "./loop.js";
import type { ProxyView } from "./proxy.js";
import type { ReloadRow, ReloadStats } from "./reloads.js";
import type { WorkerLane, WorkerRow, WorkerStats } from "./workers.js";

export type SandboxState = "starting" | "listening" | "stopping" | "stopped" | "failed";

export interface LogLine {
  /** Increases by one per line for the life of the session, across restarts. */
  seq: number;
  /** "lab" lines are the lab's own notices (restarts, exits, invalid messages), not the server's. */
  stream: "stdout" | "stderr" | "lab";
  text: string;
}

export interface ExperimentEvent {
  type: "experiment";
  id: string;
  ok: boolean;
  summary: string;
  values: Record<string, string | number | boolean>;
}

export type LabEvent = SandboxEvent | ExperimentEvent;

export interface Exchange {
  request: string;
  response: string;
  note?: string;
}

export interface ExperimentProgress {
  done: number;
  total: number;
  label: string;
}

/** The learner's guess before a predict-then-observe experiment, beside the right answer. */
export interface Prediction {
  prompt: string;
  chosen: string;
  answer: string;
  correct: boolean;
}

export interface ExperimentResult {
  experimentId: string;
  ok: boolean;
  summary: string;
  exchange?: Exchange;
  values: Record<string, string | number | boolean>;
  prediction?: Prediction;
}

/** The master's workers as the lab sees them from the sandbox's events. */
export interface WorkersView {
  rows: WorkerRow[];
  /** Lanes of the last minute. */
  lanes: WorkerLane[];
  stats: WorkerStats;
  /** Changes whenever the rows, lanes or stats do. */
  version: number;
}

export interface MissionStatus {
  id: string;
  title: string;
  hint: string;
  met: boolean;
  progress: number;
  needed: number;
}

/**
 * A new object whenever anything changes; unchanged parts (logs, requests, missions) keep their
 * previous array identity, so React can compare by reference.
 */
export interface LabSessionSnapshot {
  state: SandboxState;
  url?: string;
  host?: string;
  port?: number;
  pid?: number;
  /** Options the sandbox runs with now: the lab's, with a restart experiment's merged over them. */
  options: Record<string, string | number | boolean>;
  workspace?: string;
  error?: { message: string; hint?: string };
  /** The last 300 lines, oldest first. */
  logs: LogLine[];
  /** The last 100 request events, oldest first, for request panels. */
  requests: RequestEvent[];
  missions: MissionStatus[];
  running?: { experimentId: string; progress?: ExperimentProgress };
  /** Keys of the experiments waiting for the running one, in order. */
  queued?: number[];
  lastResult?: ExperimentResult;
  /** Present for sandboxes with a master and workers. */
  workers?: WorkersView;
  /** Present for sandboxes with a reloader. */
  reloads?: ReloadsView;
  /** Present for sandboxes with one event loop: connections, loop delay, requests over time. */
  loop?: LoopView;
  /** Present for a proxy: each request's path through it, its upstreams and cache. */
  proxy?: ProxyView;
}

/** A development server's reloads as the lab sees them from the sandbox's events. */
export interface ReloadsView {
  /** Oldest first. */
  rows: ReloadRow[];
  /** Latency per reloader, kept across restarts of the sandbox (e.g. to switch reloaders). */
  stats: ReloadStats;
  version: number;
}

export type { Experiment };

export interface StartOptions {
  sandbox: SandboxName;
  flavour?: string;
  options?: Record<string, string | number | boolean>;
  port?: number;
  host?: string;
  directory?: string;
}

export interface LabSessionOptions {
  lessonId: string;
  lab: Lab;
  /** The lesson's Python files, copied into the workspace's python/ folder for the learner to run. */
  python?: readonly { name: string; code: string }[];
  progress: ProgressStore;
  port?: number;
  host?: string;
}

export interface LabSessionApi {
  /** Starts the sandbox; never throws: a failure ends in state "failed" with `error`. */
  start(): Promise<void>;
  snapshot(): LabSessionSnapshot;
  /** Called at most every ~30 ms while lines stream in, at once on state changes. */
  subscribe(listener: (snapshot: LabSessionSnapshot) => void): () => void;
  /**
   * Called once per event that completes missions, with those missions, after they are saved
   * in progress. Which missions are met is also in `snapshot().missions`.
   */
  onMissionMet(listener: (missions: Mission[]) => void): () => void;
  /**
   * Runs the experiment on `key`, or queues it behind the one running (up to three); undefined
   * when no experiment has this key or the queue is full. `guess` is the index of the learner's
   * choice when the experiment asks for a prediction.
   */
  runExperiment(key: number, guess?: number): Promise<ExperimentResult | undefined>;
  curlCommand(): string | undefined;
  /**
   * Copies the lab's workspace template again over the learner's edits; false when that failed
   * (the log says why).
   */
  resetWorkspace(): boolean;
  stop(): Promise<void>;
}
