import type {
  KillWorkerControl,
  ListeningEvent,
  RequestEvent,
  SandboxEvent,
  SignalControl,
} from "../../sandboxes/shared/protocol.js";
import { safeText } from "../course/control.js";
import {
  LOOP_SANDBOXES,
  PROXY_SANDBOXES,
  RELOAD_SANDBOXES,
  WORKER_SANDBOXES,
} from "../course/sandboxes.js";
import type { Experiment, Mission } from "../course/schema.js";
import { sandboxAssets } from "../paths.js";
import { withAddress } from "./address.js";
import { type ExperimentContext, runExperiment, toExperimentEvent } from "./experiments.js";
import { stopLoads } from "./loads.js";
import { LoopModel, type LoopView } from "./loop.js";
import { MissionTracker } from "./missions.js";
import { optionFlags } from "./options.js";
import { ProxyModel, type ProxyView } from "./proxy.js";
import { ReloadModel } from "./reloads.js";
import {
  isShuttingDown,
  type SandboxProcess,
  SandboxStartError,
  startSandbox,
} from "./supervisor.js";
import type {
  ExperimentResult,
  LabEvent,
  LabSessionApi,
  LabSessionOptions,
  LabSessionSnapshot,
  LogLine,
  MissionStatus,
  ReloadsView,
  SandboxState,
  WorkersView,
} from "./types.js";
import { EventHub } from "./watch.js";
import type { WorkerContext } from "./worker-actions.js";
import { WorkerModel } from "./workers.js";
import {
  addPythonFiles,
  prepareWorkspace,
  resetWorkspace,
  workspaceTemplate,
} from "./workspace.js";

export const LOG_LINES_KEPT = 300;
export const REQUESTS_KEPT = 100;
export const NOTIFY_EVERY_MS = 30;
const MAX_QUEUED = 3;
/** Timeline lanes of this long ago are still in the snapshot. */
const LANES_KEPT_MS = 60_000;
/** Master signals that stop a Gunicorn master. */
const STOP_SIGNALS = new Set(["TERM", "INT", "QUIT"]);
/** How long after a stopping signal an exit counts as the one it asked for. */
const EXPECTED_EXIT_MS = 15_000;

type Options = Record<string, string | number | boolean>;

function errorInfo(err: unknown): { message: string; hint?: string } {
  if (err instanceof SandboxStartError) {
    return err.hint === undefined
      ? { message: err.message }
      : { message: err.message, hint: err.hint };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

function connectHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "::1";
  return host;
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * One lab: the learner's workspace, the sandbox serving it, its log, the missions and the
 * experiments. Both front ends drive it; it never throws at them.
 */
export class LabSession implements LabSessionApi {
  readonly #opts: LabSessionOptions;
  readonly #tracker: MissionTracker;
  #sandbox: SandboxProcess | undefined;
  #state: SandboxState = "stopped";
  #options: Options;
  #workspace: string | undefined;
  #listening: ListeningEvent | undefined;
  #error: { message: string; hint?: string } | undefined;
  #stopRequested = false;
  #starting: Promise<void> | undefined;
  #restarting: Promise<void> | undefined;

  #seq = 0;
  #logs: LogLine[] = [];
  #pendingLogs: LogLine[] = [];
  #requests: RequestEvent[] = [];
  #pendingRequests: RequestEvent[] = [];
  #missions: MissionStatus[];
  readonly #queue: {
    exp: Experiment;
    guess: number | undefined;
    resolve: (r: ExperimentResult | undefined) => void;
  }[] = [];
  readonly #hub = new EventHub();
  readonly #workerModel: WorkerModel | undefined;
  #workersView: WorkersView | undefined;
  readonly #reloadModel: ReloadModel | undefined;
  #reloadsView: ReloadsView | undefined;
  readonly #loopModel: LoopModel | undefined;
  #loopView: LoopView | undefined;
  readonly #proxyModel: ProxyModel | undefined;
  #proxyView: ProxyView | undefined;
  /** Until when an exit of the sandbox is the one a stopping signal asked for, and which. */
  #expectedExit: { until: number; signal: string } | undefined;
  #running: LabSessionSnapshot["running"];
  #lastResult: ExperimentResult | undefined;

  #snap: LabSessionSnapshot;
  #delivered: LabSessionSnapshot | undefined;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners = new Set<(s: LabSessionSnapshot) => void>();
  readonly #metListeners = new Set<(missions: Mission[]) => void>();

  constructor(opts: LabSessionOptions) {
    this.#opts = opts;
    this.#options = { ...opts.lab.options };
    if (WORKER_SANDBOXES.includes(opts.lab.sandbox)) this.#workerModel = new WorkerModel();
    if (RELOAD_SANDBOXES.includes(opts.lab.sandbox)) this.#reloadModel = new ReloadModel();
    if (LOOP_SANDBOXES.includes(opts.lab.sandbox)) this.#loopModel = new LoopModel();
    if (PROXY_SANDBOXES.includes(opts.lab.sandbox)) this.#proxyModel = new ProxyModel();
    this.#tracker = new MissionTracker(opts.lab.missions, this.#alreadyMet());
    this.#missions = this.#missionStatus();
    this.#snap = this.#build();
  }

  #alreadyMet(): string[] {
    return [...(this.#opts.progress.lesson(this.#opts.lessonId)?.missionsMet ?? [])];
  }

  // ---- snapshot and notifications ------------------------------------------------------------

  #build(): LabSessionSnapshot {
    if (this.#pendingLogs.length > 0) {
      const logs = this.#logs.concat(this.#pendingLogs);
      this.#logs = logs.length > LOG_LINES_KEPT ? logs.slice(-LOG_LINES_KEPT) : logs;
      this.#pendingLogs = [];
    }
    if (this.#pendingRequests.length > 0) {
      const requests = this.#requests.concat(this.#pendingRequests);
      this.#requests = requests.length > REQUESTS_KEPT ? requests.slice(-REQUESTS_KEPT) : requests;
      this.#pendingRequests = [];
    }
    const l = this.#listening;
    return {
      state: this.#state,
      ...(l ? { url: safeText(l.url), host: l.host, port: l.port, pid: l.pid } : {}),
      options: this.#options,
      ...(this.#workspace !== undefined ? { workspace: this.#workspace } : {}),
      ...(this.#error ? { error: this.#error } : {}),
      logs: this.#logs,
      requests: this.#requests,
      missions: this.#missions,
      ...(this.#running ? { running: this.#running } : {}),
      ...(this.#queue.length > 0 ? { queued: this.#queue.map((q) => q.exp.key) } : {}),
      ...(this.#lastResult ? { lastResult: this.#lastResult } : {}),
      ...(this.#workerModel ? { workers: this.#workers(this.#workerModel) } : {}),
      ...(this.#reloadModel ? { reloads: this.#reloads(this.#reloadModel) } : {}),
      ...(this.#loopModel ? { loop: this.#loop(this.#loopModel) } : {}),
      ...(this.#proxyModel ? { proxy: this.#proxy(this.#proxyModel) } : {}),
    };
  }

  #proxy(model: ProxyModel): ProxyView {
    if (this.#proxyView?.version === model.version) return this.#proxyView;
    this.#proxyView = model.view();
    return this.#proxyView;
  }

  #loop(model: LoopModel): LoopView {
    if (this.#loopView?.version === model.version) return this.#loopView;
    this.#loopView = model.view();
    return this.#loopView;
  }

  #reloads(model: ReloadModel): ReloadsView {
    if (this.#reloadsView?.version === model.version) return this.#reloadsView;
    this.#reloadsView = { rows: model.reloads(), stats: model.stats(), version: model.version };
    return this.#reloadsView;
  }

  #workers(model: WorkerModel): WorkersView {
    const now = Date.now();
    const view = this.#workersView;
    if (view && view.version === model.version && !this.#exitedRowsExpired(view, now)) return view;
    this.#workersView = {
      rows: model.rows(now),
      lanes: model.lanes(now - LANES_KEPT_MS),
      stats: model.stats(),
      version: model.version,
    };
    return this.#workersView;
  }

  #exitedRowsExpired(view: WorkersView, now: number): boolean {
    return view.rows.some((r) => r.endedAt !== undefined && now - r.endedAt > 10_000);
  }

  snapshot(): LabSessionSnapshot {
    if (this.#dirty) {
      this.#snap = this.#build();
      this.#dirty = false;
    }
    return this.#snap;
  }

  subscribe(listener: (snapshot: LabSessionSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  onMissionMet(listener: (missions: Mission[]) => void): () => void {
    this.#metListeners.add(listener);
    return () => {
      this.#metListeners.delete(listener);
    };
  }

  #changed(immediate: boolean): void {
    this.#dirty = true;
    if (immediate) this.#flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), NOTIFY_EVERY_MS);
      this.#timer.unref();
    }
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const snap = this.snapshot();
    if (snap === this.#delivered) return;
    this.#delivered = snap;
    for (const listener of [...this.#listeners]) call(listener, snap);
  }

  #setState(state: SandboxState, error?: { message: string; hint?: string }): void {
    this.#state = state;
    this.#error = error;
    this.#changed(true);
  }

  #log(stream: LogLine["stream"], text: string): void {
    this.#pendingLogs.push({ seq: ++this.#seq, stream, text });
    this.#changed(false);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  start(): Promise<void> {
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#sandbox && !this.#sandbox.exited) return;
    this.#stopRequested = false;
    this.#setState("starting");
    const { progress, lessonId } = this.#opts;
    try {
      progress.markLabOpened(lessonId);
    } catch (err) {
      this.#log("lab", `Could not save progress: ${errorInfo(err).message}`);
    }
    try {
      this.#workspace = prepareWorkspace(lessonId, this.#template(), progress.workspacesDir());
      addPythonFiles(this.#workspace, this.#opts.python ?? []);
    } catch (err) {
      this.#setState("failed", {
        message: `Could not prepare the lab's workspace: ${errorInfo(err).message}`,
      });
      return;
    }
    // Started again after a stop: the same address, so the learner's curl still works.
    await this.#launch(this.#listening?.port ?? this.#opts.port);
  }

  #template(): string | undefined {
    const { lab } = this.#opts;
    return lab.workspace === undefined
      ? undefined
      : workspaceTemplate(sandboxAssets(lab.sandbox), lab.workspace);
  }

  /**
   * Starts the sandbox; true once it listens. Failures end in state "failed"; a stop asked for
   * meanwhile stops the new sandbox and ends in "stopped".
   */
  async #launch(port: number | undefined): Promise<boolean> {
    const { lab, host } = this.#opts;
    if (this.#stopRequested) {
      this.#setState("stopped");
      return false;
    }
    let proc: SandboxProcess;
    try {
      proc = startSandbox({
        sandbox: lab.sandbox,
        ...(lab.flavour !== undefined ? { flavour: lab.flavour } : {}),
        options: this.#options,
        ...(port !== undefined ? { port } : {}),
        ...(host !== undefined ? { host } : {}),
        ...(this.#workspace !== undefined ? { directory: this.#workspace } : {}),
      });
    } catch (err) {
      this.#setState("failed", errorInfo(err));
      return false;
    }
    this.#sandbox = proc;
    this.#expectedExit = undefined;
    if (this.#workerModel) {
      this.#workerModel.reset();
      this.#changed(false);
    }
    if (this.#loopModel) {
      this.#loopModel.reset();
      this.#changed(false);
    }
    if (this.#proxyModel) {
      this.#proxyModel.reset();
      this.#changed(false);
    }
    if (this.#reloadModel) {
      // The latencies stay: a lab restarts its server to switch reloaders, then compares them.
      this.#reloadModel.resetKeepingSamples();
      this.#changed(false);
    }
    proc.on("log", (line) => this.#log(line.stream, line.text));
    proc.on("event", (event) => this.#onEvent(event));
    proc.on("exit", (code, signal) => this.#onExit(proc, code, signal));
    let listening: ListeningEvent;
    try {
      listening = await proc.ready;
    } catch (err) {
      await proc.stop();
      if (this.#stopRequested) this.#setState("stopped");
      else this.#setState("failed", errorInfo(err));
      return false;
    }
    if (this.#stopRequested || proc.exited) {
      await proc.stop();
      if (this.#sandbox === proc) this.#sandbox = undefined;
      if (this.#stopRequested) this.#setState("stopped");
      else this.#setState("failed", { message: "The sandbox stopped as soon as it started." });
      return false;
    }
    this.#listening = listening;
    this.#missions = this.#missionStatus();
    this.#setState("listening");
    return true;
  }

  #onEvent(event: SandboxEvent): void {
    if (event.type === "request") {
      this.#pendingRequests.push(event);
      this.#changed(false);
    }
    if (event.type === "signal" && STOP_SIGNALS.has(event.signal)) {
      this.#expectedExit = { until: Date.now() + EXPECTED_EXIT_MS, signal: event.signal };
    }
    if (this.#workerModel?.push(event)) this.#changed(false);
    if (this.#reloadModel?.push(event)) this.#changed(false);
    if (this.#loopModel?.push(event)) this.#changed(false);
    if (this.#proxyModel?.push(event)) this.#changed(false);
    this.#hub.push(event);
    this.#track(event);
  }

  #onExit(proc: SandboxProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#sandbox !== proc) return;
    this.#sandbox = undefined;
    if (this.#workerModel?.masterGone(Date.now())) this.#changed(false);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const expected = this.#expectedExit;
    this.#expectedExit = undefined;
    if (this.#stopRequested || this.#state === "stopping" || isShuttingDown()) {
      this.#setState("stopped");
    } else if (expected && Date.now() <= expected.until) {
      this.#log("lab", `The server stopped after SIG${expected.signal} (${how}).`);
      this.#setState("stopped", {
        message: `The server stopped, as SIG${expected.signal} to its master asks.`,
        hint: "Press s to start it again.",
      });
    } else if (this.#state === "listening") {
      this.#log("lab", `The sandbox stopped (${how}).`);
      this.#setState("failed", {
        message: `The sandbox stopped unexpectedly (${how}).`,
        hint: "Its last log lines may say why; press s to start it again.",
      });
    }
  }

  #exitWithin(ms: number): Promise<boolean> {
    const proc = this.#sandbox;
    if (!proc || proc.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onExit = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        proc.off("exit", onExit);
        resolve(false);
      }, ms);
      proc.once("exit", onExit);
    });
  }

  #workerContext(): (WorkerContext & { countOption: string }) | undefined {
    const model = this.#workerModel;
    if (!model) return undefined;
    return {
      countOption: this.#opts.lab.flavour === "uwsgi" ? "processes" : "workers",
      control: (control: SignalControl | KillWorkerControl) => {
        if (control.type === "signal" && STOP_SIGNALS.has(control.signal)) {
          this.#expectedExit = { until: Date.now() + EXPECTED_EXIT_MS, signal: control.signal };
        }
        return this.#sandbox?.control(control) ?? false;
      },
      watch: () => this.#hub.watch(),
      exited: (ms) => this.#exitWithin(ms),
      liveWorkers: () => model.stats().live,
      startAgain: () => this.#restart(this.#options),
    };
  }

  async #stopSandbox(): Promise<void> {
    const proc = this.#sandbox;
    if (!proc) return;
    this.#setState("stopping");
    await proc.stop();
    if (this.#sandbox === proc) this.#sandbox = undefined;
    this.#setState("stopped");
  }

  /** Stops the sandbox, and any start or restart in flight; resolves once none runs. */
  async stop(): Promise<void> {
    this.#stopRequested = true;
    stopLoads();
    for (const waiting of this.#queue.splice(0)) waiting.resolve(undefined);
    await this.#stopSandbox();
    await this.#starting?.catch(() => {});
    await this.#restarting?.catch(() => {});
    // Whatever a start or restart launched before it saw the request.
    await this.#stopSandbox();
    if (this.#state !== "failed" && this.#state !== "stopped") this.#setState("stopped");
  }

  resetWorkspace(): boolean {
    const { lessonId, progress } = this.#opts;
    let done = false;
    try {
      this.#workspace = resetWorkspace(lessonId, this.#template(), progress.workspacesDir());
      addPythonFiles(this.#workspace, this.#opts.python ?? []);
      this.#log("lab", `Copied a fresh workspace to ${this.#workspace}.`);
      done = true;
    } catch (err) {
      this.#log("lab", `Could not reset the workspace: ${errorInfo(err).message}`);
    }
    this.#changed(true);
    return done;
  }

  // ---- missions -------------------------------------------------------------------------------

  /** The missions' status, with `127.0.0.1:PORT` in hints filled in once the port is known. */
  #missionStatus(): MissionStatus[] {
    const status = this.#tracker.status();
    const l = this.#listening;
    if (!l) return status;
    return status.map((m) => ({ ...m, hint: withAddress(m.hint, l.host, l.port) }));
  }

  #track(event: LabEvent): void {
    const ids = this.#tracker.push(event);
    if (ids.length === 0) {
      const status = this.#missionStatus();
      if (status.some((m, i) => m.progress !== this.#missions[i]?.progress)) {
        this.#missions = status;
        this.#changed(false);
      }
      return;
    }
    const { progress, lessonId, lab } = this.#opts;
    for (const id of ids) {
      try {
        progress.markMissionMet(lessonId, id);
      } catch (err) {
        this.#log("lab", `Could not save progress: ${errorInfo(err).message}`);
      }
    }
    this.#missions = this.#missionStatus();
    this.#changed(true);
    const met = lab.missions.filter((m) => ids.includes(m.id));
    for (const listener of [...this.#metListeners]) call(listener, met);
  }

  // ---- experiments ----------------------------------------------------------------------------

  /**
   * Runs the experiment on `key`. While another runs, up to three more wait their turn (a
   * learner pressing 1 then 2 means both); past that it resolves undefined, as do those still
   * waiting when the lab stops.
   */
  runExperiment(key: number, guess?: number): Promise<ExperimentResult | undefined> {
    const exp = this.#opts.lab.experiments.find((e) => e.key === key);
    if (!exp) return Promise.resolve(undefined);
    if (!this.#running) return this.#runNow(exp, guess);
    if (this.#queue.length >= MAX_QUEUED) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#queue.push({ exp, guess, resolve });
      this.#changed(true);
    });
  }

  #next(): void {
    const waiting = this.#queue.shift();
    if (!waiting) return;
    if (this.#stopRequested) {
      waiting.resolve(undefined);
      this.#next();
      return;
    }
    void this.#runNow(waiting.exp, waiting.guess).then(waiting.resolve, () =>
      waiting.resolve(undefined),
    );
  }

  async #runNow(exp: Experiment, guess: number | undefined): Promise<ExperimentResult> {
    const experimentId = exp.id;
    this.#running = { experimentId };
    this.#changed(true);
    let result: ExperimentResult;
    const needsServer = exp.action.kind !== "write-file" && exp.action.kind !== "restart";
    const l = this.#listening;
    if (needsServer && (this.#state !== "listening" || !l)) {
      result = {
        experimentId,
        ok: false,
        summary: `The sandbox is not running (${this.#state}), so there is nothing to ask. Open the lab again to restart it.`,
        values: {},
      };
    } else {
      const host = connectHost(l?.host ?? this.#opts.host ?? "127.0.0.1");
      const port = l?.port ?? 0;
      const ctx: ExperimentContext = {
        baseUrl: `http://${urlHost(host)}:${port}`,
        host,
        port,
        workspace: this.#workspace ?? "",
        restart: (options) => this.#restart(options),
        options: this.#options,
        watch: () => this.#hub.watch(),
      };
      const workers = this.#workerContext();
      if (workers) ctx.workers = workers;
      const upstream = firstUpstream(l?.options.direct) ?? firstUpstream(l?.options.upstream);
      if (upstream) ctx.upstream = upstream;
      result = await runExperiment(exp, ctx, (progress) => {
        this.#running = { experimentId, progress };
        this.#changed(false);
      });
    }
    const { predict } = exp;
    if (predict && guess !== undefined && predict.choices[guess] !== undefined) {
      result = {
        ...result,
        prediction: {
          prompt: predict.prompt,
          chosen: predict.choices[guess] ?? "",
          answer: predict.choices[predict.answer] ?? "",
          correct: guess === predict.answer,
        },
      };
    }
    this.#running = undefined;
    this.#lastResult = result;
    this.#changed(true);
    this.#track(toExperimentEvent(result));
    this.#next();
    return result;
  }

  async #restart(options: Options): Promise<void> {
    if (this.#stopRequested) throw new Error("The lab is closed, so its sandbox stays stopped.");
    const run = this.#restartNow(options);
    this.#restarting = run;
    try {
      await run;
    } finally {
      if (this.#restarting === run) this.#restarting = undefined;
    }
  }

  async #restartNow(options: Options): Promise<void> {
    this.#options = { ...this.#opts.lab.options, ...options };
    const port = this.#listening?.port ?? this.#opts.port;
    const flags = optionFlags(options);
    this.#log("lab", `Restarting the sandbox${flags ? ` with ${flags}` : ""}.`);
    await this.#stopSandbox();
    this.#listening = undefined;
    if (this.#stopRequested) throw new Error("The lab was closed during the restart.");
    this.#setState("starting");
    if (!(await this.#launch(port))) {
      throw new Error(this.#error?.message ?? "The sandbox did not start again.");
    }
  }

  curlCommand(): string | undefined {
    const l = this.#listening;
    if (!l || this.#state !== "listening") return undefined;
    return `curl -v http://${urlHost(connectHost(l.host))}:${l.port}/`;
  }
}

/**
 * The first `http://host:port` of a proxy's comma-separated list: the TCP addresses of the app
 * servers it started (`direct`), or its upstreams.
 */
function firstUpstream(value: unknown): { host: string; port: number } | undefined {
  if (typeof value !== "string") return undefined;
  const first = value.split(",")[0]?.trim() ?? "";
  try {
    const url = new URL(first);
    const port = Number(url.port);
    if (url.protocol !== "http:" || !Number.isInteger(port) || port <= 0) return undefined;
    return { host: url.hostname.replace(/^\[|\]$/g, ""), port };
  } catch {
    return undefined;
  }
}

/** Runs a listener; its error surfaces as an uncaught exception instead of breaking the session. */
function call<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
