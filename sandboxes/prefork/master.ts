import { type ChildProcess, fork } from "node:child_process";
import { existsSync, readdirSync, rmdirSync, type Stats, statSync, unlinkSync } from "node:fs";
import * as net from "node:net";
import { basename, dirname, join } from "node:path";
import { getSystemErrorName } from "node:util";
import { exposureWarning, isLoopback, resolveBindHost, urlHost } from "../shared/args.js";
import { flushEvents, onControl, onParentGone, sendEvent } from "../shared/ipc.js";
import { bindErrorEvent } from "../shared/listen.js";
import type {
  ErrorEvent,
  MasterSignal,
  WorkerExitReason,
  WorkerState,
} from "../shared/protocol.js";
import { ImportFailure, importedLine, importGreeting } from "./app.js";
import { FolderCache } from "./cache.js";
import type { Bind, Config } from "./config.js";
import { gunicornLine } from "./flavours/logging.js";
import { harakiriLines, uwsgiAppReady, uwsgiBanner, uwsgiRequestLine } from "./flavours/uwsgi.js";
import {
  type MasterMessage,
  WORKER_ENV,
  type WorkerMessage,
  type WorkerSettings,
} from "./messages.js";

/** The master looks for workers past their timeout this often, as Gunicorn's arbiter does. */
const CHECK_INTERVAL_MS = 1000;
/** A quick stop waits this long for a worker before killing it. */
const QUICK_STOP_MS = 300;

interface RawHandle {
  getsockname(out: { address?: string; port?: number }): number;
  close(): void;
}

type UnixBind = Extract<Bind, { kind: "unix" }>;

/** A bound socket the workers listen on; closing a Unix one removes its file. */
interface Listener {
  bind: Bind;
  handle: RawHandle;
}

/** Why a Unix socket could not be bound, and what to do, by the code the OS gave. */
const UNIX_BIND_ERRORS: Record<string, [string, string]> = {
  ENOENT: ["its folder does not exist", "Create the folder first, or choose another path."],
  EACCES: ["permission denied", "Choose a folder you can write to, such as /tmp."],
  EPERM: ["permission denied", "Choose a folder you can write to, such as /tmp."],
  ENOTDIR: ["a part of the path is not a folder", "Choose another path."],
  EROFS: ["the file system is read-only", "Choose a folder you can write to, such as /tmp."],
  EADDRINUSE: ["another server bound it just now", "Stop that server, or choose another path."],
};

interface Worker {
  child: ChildProcess;
  pid: number;
  index: number;
  bootedAt: number;
  served: number;
  state: WorkerState;
  booted: boolean;
  /** Why the master (or the worker) decided it goes away. */
  reason?: WorkerExitReason;
  busy?: {
    id: number;
    method: string;
    target: string;
    startedAt: number;
    remote: string;
    /** Still waiting for the request to arrive whole. */
    reading?: boolean;
  };
  /** Part of the generation a HUP replaced. */
  old?: boolean;
  exited: Promise<void>;
}

type CreateHandle = (address: string, port: number, family: number) => RawHandle | number;

/** The master: owns the socket, forks and watches workers, handles signals; never a request. */
export class Master {
  readonly pid = process.pid;
  private readonly gunicorn: boolean;
  private listeners: Listener[] = [];
  /** The TCP port, 0 when the master listens on Unix sockets only. */
  private port = 0;
  private url = "";
  private workers: Worker[] = [];
  private target: number;
  private bootCount = 0;
  private totalRequests = 0;
  private nextRequestId = 0;
  private preloaded?: string;
  private cache?: FolderCache;
  private stopping = false;
  private reloading = false;
  private announced = false;
  private watchdog?: NodeJS.Timeout;

  constructor(private readonly config: Config) {
    this.gunicorn = config.flavour === "gunicorn";
    this.target = config.workers;
  }

  private log(level: string, message: string, pid = this.pid): void {
    process.stderr.write(gunicornLine(pid, level, message));
  }

  private say(text: string): void {
    process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  async start(): Promise<void> {
    const c = this.config;
    try {
      c.host = await resolveBindHost(c.hostText);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code === "EAI_AGAIN" ? "EAI_AGAIN" : "ENOTFOUND";
      return this.fatal(
        `Error: '${c.hostText}' is not a valid address to bind to\n`,
        bindErrorEvent(code, c.port, c.hostText),
        1,
      );
    }
    this.installControls();
    // Whatever way the process ends, a Unix socket's file goes with it (closing removes it).
    process.once("exit", () => this.closeListeners());
    if (this.gunicorn && c.preload) {
      try {
        this.preloaded = importGreeting(c.directory, c.app);
        // --preload: app.py is imported here, in the master, and prints its line once.
        process.stdout.write(importedLine(this.pid, this.preloaded));
      } catch (err) {
        const tb = err instanceof ImportFailure ? err.traceback : String(err);
        return this.fatal(tb, this.bootFailedEvent(), 1);
      }
    }
    if (!(await this.bind())) return;
    const tcp = c.binds.some((b) => b.kind === "tcp");
    if (tcp && !isLoopback(c.host)) this.say(exposureWarning(c.host));
    if (tcp) this.url = `http://${urlHost(c.host)}:${this.port}`;
    if (this.gunicorn) {
      const names = c.binds.map((b) => (b.kind === "unix" ? `unix:${b.path}` : this.url));
      this.log("INFO", "Starting gunicorn 20.1.0");
      this.log("INFO", `Listening at: ${names.join(",")} (${this.pid})`);
      this.log("INFO", "Using worker: sync");
    } else if (!this.uwsgiBoot(false)) {
      return;
    }
    if (c.cache2 !== undefined) {
      this.cache = FolderCache.create(c.cache2);
      process.once("exit", () => this.cache?.remove());
    }
    for (let i = 0; i < this.target; i++) this.spawn();
    if (!this.gunicorn) this.say(`spawned uWSGI http 1 (pid: ${this.pid})`);
    this.watchdog = setInterval(() => this.checkTimeouts(), CHECK_INTERVAL_MS);
  }

  /** Binds every address in order (not listens: the workers listen and accept). */
  private async bind(): Promise<boolean> {
    for (const bind of this.config.binds) {
      const handle = bind.kind === "tcp" ? await this.bindTcp() : await this.bindUnix(bind);
      if (!handle) return false;
      this.listeners.push({ bind, handle });
    }
    return true;
  }

  /** Binds the TCP address and reads the port back. */
  private async bindTcp(): Promise<RawHandle | undefined> {
    const c = this.config;
    const create = (net as unknown as { _createServerHandle: CreateHandle })._createServerHandle;
    const where = `('${c.host}', ${c.port})`;
    for (let attempt = 0; ; attempt++) {
      const handle = create(c.host, c.port, net.isIPv6(c.host) ? 6 : 4);
      let code: string | undefined;
      if (typeof handle === "number") {
        code =
          handle === -98 || handle === -48 || handle === -4091
            ? "EADDRINUSE"
            : handle === -99 || handle === -49
              ? "EADDRNOTAVAIL"
              : handle === -13
                ? "EACCES"
                : `E${-handle}`;
      } else {
        const out: { port?: number } = {};
        handle.getsockname(out);
        // libuv reports EADDRINUSE at listen(), not bind(): a socket left unbound shows port 0.
        if (!out.port) {
          handle.close();
          code = "EADDRINUSE";
        } else {
          this.port = out.port;
          return handle;
        }
      }
      if (code !== "EADDRINUSE") {
        const text = this.gunicorn
          ? `${gunicornLine(this.pid, "ERROR", `Can't connect to ${where}`)}`
          : `bind(): ${code} [core/socket.c line 769]\n`;
        await this.fatal(text, bindErrorEvent(code, c.port, c.host), 1);
        return undefined;
      }
      if (!this.gunicorn) {
        await this.fatal(
          `uWSGI http bound on ${c.host}:${c.port} fd 4\nprobably another instance of uWSGI is running on the same address (${c.host}:${c.port}).\nbind(): Address already in use [core/socket.c line 769]\n`,
          bindErrorEvent("EADDRINUSE", c.port, c.host),
          1,
        );
        return undefined;
      }
      if (attempt === 0) sendEvent(bindErrorEvent("EADDRINUSE", c.port, c.host));
      if (attempt === 5) {
        this.log("ERROR", `Can't connect to ${where}`);
        await this.exit(1);
        return undefined;
      }
      this.log("ERROR", `Connection in use: ${where}`);
      this.log("ERROR", "Retrying in 1 second.");
      await new Promise((r) => setTimeout(r, 1000));
      if (this.stopping) return undefined;
    }
  }

  /**
   * Binds a Unix socket as Gunicorn's UnixSocket does: a socket file left at the path (by a
   * server that did not stop cleanly) is removed first; any other file is refused.
   */
  private async bindUnix(bind: UnixBind): Promise<RawHandle | undefined> {
    const fail = async (code: string) => {
      const [why, hint] = UNIX_BIND_ERRORS[code] ?? [code, "Choose another path."];
      await this.fatal(
        `${gunicornLine(this.pid, "ERROR", `Can't connect to ${bind.path}`)}Error: cannot create the Unix socket '${bind.path}': ${why} (${code}). ${hint}\n`,
        {
          type: "error",
          code,
          message: `Cannot create the Unix socket ${bind.absolute}: ${why}.`,
          hint,
          fatal: true,
        },
        1,
      );
      return undefined;
    };
    let stat: Stats | undefined;
    try {
      stat = statSync(bind.path, { throwIfNoEntry: false });
      if (stat?.isSocket()) unlinkSync(bind.path);
    } catch (err) {
      return fail((err as NodeJS.ErrnoException).code ?? "EIO");
    }
    if (stat && !stat.isSocket()) {
      const hint = "Remove that file, or choose another path for -b unix:PATH.";
      const event: ErrorEvent = {
        type: "error",
        code: "ENOTSOCK",
        message: `${bind.absolute} exists and is not a socket.`,
        hint,
        fatal: true,
      };
      await this.fatal(`Error: '${bind.path}' is not a socket. ${hint}\n`, event, 1);
      return undefined;
    }
    const create = (net as unknown as { _createServerHandle: CreateHandle })._createServerHandle;
    // A path with port -1 and address type -1 makes libuv's pipe handle, bound to the path.
    const handle = create(bind.path, -1, -1);
    if (typeof handle !== "number") return handle;
    const code = getSystemErrorName(handle);
    // libuv reports a missing folder as EACCES (as Windows would): tell the two apart.
    return fail(code === "EACCES" && !existsSync(dirname(bind.absolute)) ? "ENOENT" : code);
  }

  /** Prints the uWSGI banner and imports the app in the master; false if the app is broken. */
  private uwsgiBoot(reload: boolean): boolean {
    const c = this.config;
    process.stderr.write(
      uwsgiBanner({
        host: c.host,
        port: this.port,
        workers: c.workers,
        harakiri: c.timeout,
        cache: c.cache2,
        masterPid: this.pid,
        cwd: this.workingDirectory(),
      }),
    );
    try {
      this.preloaded = importGreeting(c.directory, c.app);
      // uWSGI points the app's stdout at its log (stderr): app.py's line lands among its own.
      this.say(importedLine(this.pid, this.preloaded));
      this.say(uwsgiAppReady(this.pid));
    } catch (err) {
      const tb = err instanceof ImportFailure ? err.traceback : String(err);
      this.say(
        `${tb}unable to load app 0 (mountpoint='') (callable not found or import error)\n*** no app loaded. going in full dynamic mode ***`,
      );
      void this.fatal("", this.bootFailedEvent(), 1);
      return false;
    }
    if (c.master) {
      this.say(
        reload
          ? `gracefully (RE)spawned uWSGI master process (pid: ${this.pid})`
          : `spawned uWSGI master process (pid: ${this.pid})`,
      );
    }
    return true;
  }

  /** Where uwsgi would say it runs: the app's folder, as if started from there. */
  private workingDirectory(): string {
    return this.config.directory ?? process.cwd();
  }

  private bootFailedEvent() {
    return {
      type: "error" as const,
      code: "EBOOT",
      message: "The app failed to import: the worker could not boot.",
      hint: "Fix the error shown in the log, then start the server again.",
      fatal: true,
    };
  }

  private emitWorker(
    w: Worker,
    state: WorkerState,
    extra: { signal?: string; code?: number } = {},
  ): void {
    w.state = state;
    sendEvent({
      type: "worker",
      pid: w.pid,
      index: w.index,
      state,
      at: Date.now(),
      bootedAt: w.bootedAt,
      served: w.served,
      ...(state === "busy" && w.busy
        ? {
            request: {
              id: w.busy.id,
              method: w.busy.method,
              target: w.busy.target,
              startedAt: w.busy.startedAt,
            },
          }
        : {}),
      ...(state === "exiting" || state === "exited" ? { reason: w.reason ?? "killed" } : {}),
      ...extra,
    });
  }

  /** The lowest free uWSGI worker number, or Gunicorn's next boot number. */
  private nextIndex(): number {
    if (this.gunicorn) return ++this.bootCount;
    const used = new Set(this.workers.filter((w) => !w.old).map((w) => w.index));
    let i = 1;
    while (used.has(i)) i++;
    return i;
  }

  private spawn(index = this.nextIndex()): Worker | undefined {
    const c = this.config;
    const settings: WorkerSettings = {
      flavour: c.flavour,
      index,
      workers: this.target,
      host: c.host,
      port: this.port,
      directory: c.directory,
      app: c.app,
      preloaded: this.preloaded,
      maxRequests: c.maxRequests,
      accessLog: c.accessLog,
      cache: this.cache && { folder: this.cache.folder, items: this.cache.items },
    };
    const entry = process.argv[1] ?? "";
    const child = fork(entry, [], {
      env: { ...process.env, [WORKER_ENV]: JSON.stringify(settings) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [],
    });
    if (child.pid === undefined) return undefined;
    const w: Worker = {
      child,
      pid: child.pid,
      index,
      bootedAt: Date.now(),
      served: 0,
      state: "booting",
      booted: false,
      exited: new Promise((resolve) => child.once("exit", () => resolve())),
    };
    this.workers.push(w);
    if (this.gunicorn) this.log("INFO", `Booting worker with pid: ${w.pid}`, w.pid);
    else this.say(`spawned uWSGI worker ${index} (pid: ${w.pid}, cores: 1)`);
    this.emitWorker(w, "booting");
    child.on("message", (m: WorkerMessage) => this.onWorkerMessage(w, m));
    child.on("error", () => {});
    child.once("exit", (code, signal) => this.onWorkerExit(w, code, signal));
    this.sendHandle(w);
    return w;
  }

  /** Gives a worker its own descriptor of each listening socket, one message each. */
  private sendHandle(w: Worker): void {
    const count = this.listeners.length;
    this.listeners.forEach(({ bind, handle }, index) => {
      if (!w.child.connected) return;
      const message: MasterMessage = {
        t: "handle",
        index,
        count,
        ...(bind.kind === "unix" ? { unix: bind.path } : {}),
      };
      try {
        w.child.send(message, handle as unknown as net.Server, undefined, () => {});
      } catch {}
    });
  }

  private tell(w: Worker, message: MasterMessage): void {
    if (!w.child.connected) return;
    try {
      w.child.send(message, undefined, undefined, () => {});
    } catch {}
  }

  private onWorkerMessage(w: Worker, m: WorkerMessage): void {
    switch (m.t) {
      case "batch":
        for (const each of m.messages) this.onWorkerMessage(w, each);
        break;
      case "booted":
        w.booted = true;
        this.emitWorker(w, "idle");
        this.maybeAnnounce();
        break;
      case "boot-failed":
        w.reason = "boot-failed";
        break;
      case "reading":
        w.busy = {
          id: ++this.nextRequestId,
          method: "",
          target: "(reading the request)",
          startedAt: m.startedAt,
          remote: m.remote,
          reading: true,
        };
        this.emitWorker(w, "busy");
        break;
      case "busy":
        // After "reading" it is the same request, from when the worker started waiting for it.
        w.busy = {
          id: w.busy?.reading ? w.busy.id : ++this.nextRequestId,
          method: m.method,
          target: m.target,
          startedAt: w.busy?.reading ? w.busy.startedAt : m.startedAt,
          remote: m.remote,
        };
        this.emitWorker(w, "busy");
        break;
      case "idle":
        if (w.busy) {
          w.busy = undefined;
          if (w.state === "busy") this.emitWorker(w, "idle");
        }
        break;
      case "done": {
        if (!w.busy) {
          const r = m.request;
          w.busy = {
            id: ++this.nextRequestId,
            method: r.method,
            target: r.target,
            startedAt: r.startedAt,
            remote: r.remote,
          };
          this.emitWorker(w, "busy");
        }
        const id = w.busy.id;
        w.busy = undefined;
        w.served = m.served;
        this.totalRequests++;
        const r = m.request;
        if (!this.gunicorn) {
          process.stderr.write(
            uwsgiRequestLine({
              pid: w.pid,
              workerRequests: m.served,
              totalRequests: this.totalRequests,
              remote: r.remote,
              vars: r.vars,
              varsBytes: r.varsBytes,
              startedAt: r.startedAt,
              method: r.method,
              target: r.target,
              bytes: r.bytes,
              ms: r.durationMs,
              version: r.version,
              status: r.status,
              headerCount: r.headerCount,
              headerBytes: r.headerBytes,
            }),
          );
        }
        const { vars, varsBytes, headerCount, headerBytes, startedAt, ...event } = r;
        sendEvent({ type: "request", ...event, id, worker: w.pid });
        if (w.state === "busy") this.emitWorker(w, "idle");
        break;
      }
      case "exiting":
        if (!w.reason) w.reason = m.reason;
        if (w.state !== "exiting") this.emitWorker(w, "exiting");
        break;
    }
  }

  /** The listening event, once every worker of the first generation answers. */
  private maybeAnnounce(): void {
    if (this.announced) return;
    if (this.workers.filter((w) => w.booted).length < this.target) return;
    this.announced = true;
    const c = this.config;
    const unix = c.binds.find((b): b is UnixBind => b.kind === "unix");
    sendEvent({
      type: "listening",
      sandbox: "prefork",
      flavour: c.flavour,
      pid: this.pid,
      host: c.host,
      port: this.port,
      url: this.url ? `${this.url}/` : `unix:${unix?.absolute ?? ""}`,
      ...(unix ? { unix: unix.absolute } : {}),
      ...(c.directory ? { directory: c.directory } : {}),
      options: this.gunicorn
        ? {
            workers: c.workers,
            timeout: c.timeout,
            "graceful-timeout": c.gracefulTimeout,
            preload: c.preload,
            "max-requests": c.maxRequests,
            "access-log": c.accessLog,
            app: c.app,
          }
        : {
            processes: c.workers,
            harakiri: c.timeout,
            master: c.master,
            cache2: c.cache2 ?? "",
            app: c.app,
          },
    });
  }

  private onWorkerExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers = this.workers.filter((x) => x !== w);
    // A worker that dies before it has imported the app never booted: a respawn would fail again.
    const neverBooted = !w.booted && !signal;
    const reason: WorkerExitReason =
      w.reason ??
      (neverBooted || code === 3 ? "boot-failed" : signal || code === 0 ? "killed" : "crash");
    w.reason = reason;
    if (w.state !== "exiting") this.emitWorker(w, "exiting");
    this.emitWorker(w, "exited", signal ? { signal } : { code: code ?? 0 });
    const signalNumber = signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : signal ? 6 : 0;
    if (this.gunicorn) {
      if (reason === "timeout") this.log("INFO", `Worker exiting (pid: ${w.pid})`, w.pid);
      else if (reason === "reload")
        this.log("WARNING", `Worker with pid ${w.pid} was terminated due to signal 15`);
      else if (reason === "killed" && signal)
        this.log(
          "WARNING",
          `Worker with pid ${w.pid} was terminated due to signal ${signalNumber}`,
        );
    }
    if (this.stopping || this.reloading) return;
    if (reason === "boot-failed") {
      if (this.gunicorn) void this.halt("Worker failed to boot.", 3);
      return;
    }
    if (reason === "ttou" || reason === "reload" || reason === "shutdown") return;
    if (!this.gunicorn) {
      if (!this.config.master) return;
      const how = signal ? `, killed by signal ${signalNumber}` : "";
      this.say(`DAMN ! worker ${w.index} (pid: ${w.pid}) died${how} :( trying respawn ...`);
      const fresh = this.spawnQuiet(w.index);
      if (fresh) this.say(`Respawned uWSGI worker ${w.index} (new pid: ${fresh.pid})`);
      return;
    }
    if (this.workers.filter((x) => !x.old).length < this.target) this.spawn();
  }

  /** A uWSGI respawn: the master prints "Respawned ..." instead of "spawned ...". */
  private spawnQuiet(index: number): Worker | undefined {
    const write = process.stderr.write.bind(process.stderr);
    let swallowed = false;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (!swallowed && typeof chunk === "string" && chunk.startsWith("spawned uWSGI worker")) {
        swallowed = true;
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      return this.spawn(index);
    } finally {
      process.stderr.write = write;
    }
  }

  private checkTimeouts(): void {
    const limit = this.config.timeout * 1000;
    if (limit <= 0 || this.stopping) return;
    const now = Date.now();
    for (const w of this.workers) {
      if (!w.busy || w.reason || now - w.busy.startedAt <= limit) continue;
      w.reason = "timeout";
      this.emitWorker(w, "exiting");
      if (this.gunicorn) this.log("CRITICAL", `WORKER TIMEOUT (pid:${w.pid})`);
      else process.stderr.write(harakiriLines({ index: w.index, pid: w.pid, ...w.busy }));
      w.child.kill("SIGKILL");
    }
  }

  private installControls(): void {
    const signals: [NodeJS.Signals, MasterSignal][] = [
      ["SIGTTIN", "TTIN"],
      ["SIGTTOU", "TTOU"],
      ["SIGHUP", "HUP"],
      ["SIGTERM", "TERM"],
      ["SIGINT", "INT"],
      ["SIGQUIT", "QUIT"],
      ["SIGUSR1", "USR1"],
      ["SIGUSR2", "USR2"],
    ];
    if (process.platform !== "win32") {
      for (const [os, name] of signals) process.on(os, () => this.handleSignal(name, "os"));
    } else {
      process.on("SIGINT", () => this.handleSignal("INT", "os"));
    }
    onControl((control) => {
      if (control.type === "stop") {
        // The lab's stop stands for the TERM a terminal or a process manager would send.
        if (this.gunicorn && !this.stopping) this.log("INFO", "Handling signal: term");
        void this.stop(this.gunicorn, Math.min(this.config.gracefulTimeout * 1000, 800), "stop");
      } else if (control.type === "signal") this.handleSignal(control.signal, "ipc");
      else {
        const w =
          control.pid === undefined
            ? this.workers.find((x) => !x.reason)
            : this.workers.find((x) => x.pid === control.pid);
        w?.child.kill(control.signal);
      }
    });
    onParentGone(() => {
      setTimeout(() => process.exit(0), 600).unref();
      void this.stop(false, 0, "parent gone");
    });
  }

  handleSignal(signal: MasterSignal, via: "os" | "ipc"): void {
    sendEvent({ type: "signal", signal, via, pid: this.pid });
    if (this.stopping) {
      // A second Ctrl+C kills at once; the same stop passed on by a parent (the proxy in front,
      // told by the same Ctrl+C) lets the workers finish saying goodbye.
      if (via === "os" && (signal === "INT" || signal === "QUIT")) this.killAll();
      return;
    }
    if (this.gunicorn) this.log("INFO", `Handling signal: ${signal.toLowerCase()}`);
    if (this.gunicorn) {
      switch (signal) {
        case "TTIN":
          this.target++;
          this.spawn();
          return;
        case "TTOU":
          if (this.target <= 1) return;
          this.target--;
          this.retire(this.workers.filter((w) => !w.reason && !w.old)[0], "ttou");
          return;
        case "HUP":
          this.log("INFO", "Hang up: Master");
          this.hangUp();
          return;
        case "TERM":
          void this.stop(true, this.config.gracefulTimeout * 1000, "SIGTERM");
          return;
        case "INT":
        case "QUIT":
          void this.stop(false, QUICK_STOP_MS, `SIG${signal}`);
          return;
        default:
          return;
      }
    }
    switch (signal) {
      case "HUP":
        void this.uwsgiReload(true);
        return;
      case "TERM":
        void this.uwsgiReload(false);
        return;
      case "INT":
      case "QUIT":
        void this.stop(false, QUICK_STOP_MS, `SIG${signal}`);
        return;
      default:
        return;
    }
  }

  private retire(
    w: Worker | undefined,
    reason: WorkerExitReason & ("ttou" | "reload" | "shutdown"),
  ): void {
    if (!w) return;
    w.reason = reason;
    this.emitWorker(w, "exiting");
    this.tell(w, { t: "stop", graceful: true, reason });
  }

  /** Gunicorn's HUP: new workers boot, the old ones finish their request and leave. */
  private hangUp(): void {
    const old = this.workers.filter((w) => !w.reason);
    for (const w of old) w.old = true;
    for (let i = 0; i < this.target; i++) this.spawn();
    for (const w of old) this.retire(w, "reload");
    const limit = this.config.gracefulTimeout * 1000;
    setTimeout(() => {
      for (const w of old) w.child.kill("SIGKILL");
    }, limit).unref();
  }

  /** uWSGI's HUP (graceful) and TERM (brutal): stop every worker, print the banner, respawn. */
  private async uwsgiReload(graceful: boolean): Promise<void> {
    if (this.reloading) return;
    this.reloading = true;
    this.say(`gateway "uWSGI http 1" has been buried (pid: ${this.pid})`);
    const old = [...this.workers].sort((a, b) => b.index - a.index);
    if (graceful) {
      this.say("...gracefully killing workers...");
      for (const w of old) {
        this.say(`Gracefully killing worker ${w.index} (pid: ${w.pid})...`);
        w.reason = "reload";
        this.emitWorker(w, "exiting");
        this.tell(w, { t: "stop", graceful: true, reason: "reload" });
      }
      const timer = setTimeout(() => {
        for (const w of old) w.child.kill("SIGKILL");
      }, 60000);
      await Promise.all(old.map((w) => w.exited));
      clearTimeout(timer);
    } else {
      this.say("...brutally killing workers...");
      for (const w of old) {
        w.reason = "reload";
        this.emitWorker(w, "exiting");
        w.child.kill("SIGKILL");
      }
      await Promise.all(old.map((w) => w.exited));
    }
    for (const w of old.sort((a, b) => a.index - b.index))
      this.say(`worker ${w.index} buried after 1 seconds`);
    if (this.stopping) return;
    this.say("binary reloading uWSGI...");
    this.say(`chdir() to ${this.workingDirectory()}`);
    this.say("closing all non-uwsgi socket fds > 2 (max_fd = 20000)...");
    this.say(`found fd 4 mapped to socket 0 (${this.config.host}:${this.port})`);
    this.say("running /usr/bin/uwsgi-core");
    this.cache?.clear();
    if (!this.uwsgiBoot(true)) return;
    this.reloading = false;
    for (let i = 0; i < this.target; i++) this.spawn(i + 1);
    this.say(`spawned uWSGI http 1 (pid: ${this.pid})`);
  }

  private killAll(): void {
    for (const w of this.workers) w.child.kill("SIGKILL");
  }

  /** Stops every worker (gracefully or not), waits at most `waitMs`, then exits. */
  async stop(graceful: boolean, waitMs: number, reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    sendEvent({ type: "stopping", reason });
    // As Gunicorn's Arbiter.stop(): the sockets close (a Unix socket's file goes) first, so a new
    // client is refused at once; the workers' own copies finish what they hold.
    this.closeListeners();
    if (this.watchdog) clearInterval(this.watchdog);
    const workers = [...this.workers];
    if (!this.gunicorn) this.say("SIGINT/SIGTERM received...killing workers...");
    for (const w of workers) {
      if (!w.reason || w.reason === "reload" || w.reason === "ttou") w.reason = "shutdown";
      this.emitWorker(w, "exiting");
      this.tell(w, { t: "stop", graceful, reason: "shutdown" });
    }
    const timer = setTimeout(() => {
      for (const w of workers) {
        if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
        if (this.gunicorn) this.log("INFO", `Worker exiting (pid: ${w.pid})`, w.pid);
        w.child.kill("SIGKILL");
      }
    }, waitMs);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(timer);
    if (this.gunicorn) this.log("INFO", "Shutting down: Master");
    else {
      this.say(`gateway "uWSGI http 1" has been buried (pid: ${this.pid})`);
      for (const w of workers.sort((a, b) => a.index - b.index))
        this.say(`worker ${w.index} buried after 1 seconds`);
      this.say("goodbye to uWSGI.");
    }
    await this.exit(0);
  }

  /** Gunicorn's HaltServer: stop the workers, say why, exit with `code`. */
  private async halt(why: string, code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    sendEvent(this.bootFailedEvent());
    this.closeListeners();
    if (this.watchdog) clearInterval(this.watchdog);
    const workers = [...this.workers];
    for (const w of workers) {
      w.reason = "shutdown";
      this.tell(w, { t: "stop", graceful: false, reason: "shutdown" });
    }
    const timer = setTimeout(() => this.killAll(), QUICK_STOP_MS);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(timer);
    this.log("INFO", "Shutting down: Master");
    this.log("INFO", `Reason: ${why}`);
    await this.exit(code);
  }

  private async fatal(
    text: string,
    event: Parameters<typeof sendEvent>[0],
    code: number,
  ): Promise<void> {
    if (text) process.stderr.write(text);
    sendEvent(event);
    this.stopping = true;
    await this.exit(code);
  }

  /** Closes the bound sockets; libuv removes a Unix socket's file as it closes it. */
  private closeListeners(): void {
    for (const { handle } of this.listeners) handle.close();
    this.listeners = [];
    // A proxy's private folder for its app servers' sockets: the last one out removes it, and
    // with the proxy gone (killed outright) nobody else will, the sockets of killed masters too.
    const dir = process.env.LEARN_WEBSERVERS_SOCKET_DIR;
    if (dir !== undefined && basename(dir).startsWith("lws-proxy-")) {
      try {
        if (process.send !== undefined && !process.connected) {
          for (const name of readdirSync(dir)) {
            if (/^app-\d+\.sock$/.test(name)) unlinkSync(join(dir, name));
          }
        }
        rmdirSync(dir);
      } catch {}
    }
  }

  private async exit(code: number): Promise<void> {
    this.killAll();
    this.closeListeners();
    this.cache?.remove();
    await flushEvents(300);
    process.exit(code);
  }
}
