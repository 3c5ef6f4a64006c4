import type { SandboxEvent } from "../../sandboxes/shared/protocol.js";
import type { Experiment } from "../course/schema.js";

export type SandboxState = "starting" | "listening" | "stopping" | "stopped" | "failed";

export interface LogLine {
  seq: number;
  stream: "stdout" | "stderr";
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
  met: boolean;
  progress: number;
  needed: number;
}

export interface LabSessionSnapshot {
  state: SandboxState;
  url?: string;
  pid?: number;
  workspace?: string;
  error?: { message: string; hint?: string };
  logs: LogLine[];
  missions: MissionStatus[];
  running?: { experimentId: string; progress?: ExperimentProgress };
  lastResult?: ExperimentResult;
}

export type { Experiment };

export interface StartOptions {
  sandbox: "static" | "dev-reload" | "prefork" | "async" | "proxy";
  flavour?: string;
  options?: Record<string, string | number | boolean>;
  port?: number;
  host?: string;
  directory?: string;
}

export interface LabSessionOptions {
  lessonId: string;
  lab: import("../course/schema.js").Lab;
  lessonDir: string;
  progress: import("../progress/store.js").ProgressStore;
  port?: number;
  host?: string;
}

export interface LabSessionApi {
  start(): Promise<void>;
  snapshot(): LabSessionSnapshot;
  subscribe(listener: (snapshot: LabSessionSnapshot) => void): () => void;
  runExperiment(key: number): Promise<ExperimentResult | undefined>;
  curlCommand(): string | undefined;
  stop(): Promise<void>;
}
