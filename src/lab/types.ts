import type { RequestEvent, SandboxEvent } from "../../sandboxes/shared/protocol.js";
import type { SandboxName } from "../course/sandboxes.js";
import type { Experiment, Lab, Mission } from "../course/schema.js";
import type { ProgressStore } from "../progress/store.js";

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

export interface ExperimentResult {
  experimentId: string;
  ok: boolean;
  summary: string;
  exchange?: Exchange;
  values: Record<string, string | number | boolean>;
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
  lastResult?: ExperimentResult;
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
  /** Undefined when no experiment has this key or another one is still running. */
  runExperiment(key: number): Promise<ExperimentResult | undefined>;
  curlCommand(): string | undefined;
  /**
   * Copies the lab's workspace template again over the learner's edits; false when that failed
   * (the log says why).
   */
  resetWorkspace(): boolean;
  stop(): Promise<void>;
}
