/**
 * The reloader parent: owns the listening socket (Flask), watches the app's folder, starts an
 * app child, and on a change stops it and starts a new one; measures each reload and reports
 * it to the supervisor (the only process that talks to it).
 */

import { type ChildProcess, fork } from "node:child_process";
import { cpSync, existsSync, readdirSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { getSystemErrorName } from "node:util";
import { exposureWarning, isLoopback, resolveBindHost, urlHost } from "../shared/args.js";
import { flushEvents, requestEventsWanted, sendEvent } from "../shared/ipc.js";
import { installLifecycle, type Lifecycle } from "../shared/lifecycle.js";
import { bindErrorEvent } from "../shared/listen.js";
import { flushOutput, stderrOut } from "../shared/output.js";
import type { ReloadEvent } from "../shared/protocol.js";
import { CHILD_ENV, type ChildConfig, type ChildMessage } from "./child.js";
import {
  debuggerPin,
  djangoDetected,
  flaskDetected,
  flaskRestarting,
  flaskStderrBanner,
  flaskStdoutBanner,
  moduleName,
  wantsColour,
} from "./flavour.js";
import { type DevReloadOptions, realInside } from "./options.js";
import { type Change, startWatcher, type Watcher } from "./watchers.js";

/** How long a child asked to stop may take before it is killed (an endless loop never stops). */
const STOP_KILL_MS = 500;

interface TcpHandle {
  close(): void;
  getsockname(out: { address?: string; port?: number }): number;
}

type CreateServerHandle = (
  address: string,
  port: number,
  addressType: number,
  fd?: number,
  flags?: number,
) => TcpHandle | number;

type Outcome =
  | { kind: "ready"; at: number }
  | { kind: "failed"; at: number; error: string }
  | { kind: "exit" };

interface AppChild {
  proc: ChildProcess;
  /** Told to go (load the app and serve); a spare waits, already started, until then. */
  active: boolean;
  /** Resolves with the first of ready, failed (the app does not load) or exit. */
  outcome: Promise<Outcome>;
  exited: Promise<void>;
  stopping: boolean;
  answering: boolean;
}

function demoTemplate(flavour: string): string | undefined {
  const here = dirname(process.argv[1] ?? "");
  for (const dir of [join(here, "dev-reload", `${flavour}-app`), join(here, `${flavour}-app`)]) {
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

function isEmptyOrMissing(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return true;
  }
}

export async function runParent(opts: DevReloadOptions): Promise<void> {
  const { flavour } = opts;
  const colour = wantsColour(process.stderr);

  if (!existsSync(opts.app)) {
    const template = demoTemplate(flavour);
    if (template && isEmptyOrMissing(opts.directory) && opts.appRel === "app.mjs") {
      cpSync(template, opts.directory, { recursive: true });
      stderrOut.write(
        `learn-webservers: ${opts.directory} was empty: the demo app is now there (app.mjs).\n`,
      );
    } else {
      if (flavour === "flask") process.stdout.write(flaskStdoutBanner(opts.appRel));
      stderrOut.write(
        flavour === "flask"
          ? `Error: Could not import '${moduleName(opts.appRel)}'.\n`
          : `ModuleNotFoundError: No module named '${moduleName(opts.appRel)}' (${opts.app} does not exist)\n`,
      );
      flushOutput();
      sendEvent({
        type: "error",
        code: "ENOAPP",
        message: `The app module ${opts.app} does not exist.`,
        fatal: true,
      });
      await flushEvents(300);
      process.exit(2);
    }
  }
  if (!realInside(opts.directory, opts.app)) {
    stderrOut.write(
      `Error: ${opts.appRel} leads outside ${opts.directory}: the app is only loaded from its folder.\n`,
    );
    flushOutput();
    sendEvent({
      type: "error",
      code: "EAPPOUTSIDE",
      message: `${opts.appRel} leads outside the app's folder.`,
      fatal: true,
    });
    await flushEvents(300);
    process.exit(2);
  }

  let host: string;
  try {
    host = await resolveBindHost(opts.hostText);
  } catch {
    stderrOut.write(`Error: cannot resolve the host name ${opts.hostText}.\n`);
    flushOutput();
    sendEvent(bindErrorEvent("ENOTFOUND", opts.port, opts.hostText));
    await flushEvents(300);
    process.exit(1);
  }

  // Flask: the parent binds, as Werkzeug's reloader does (WERKZEUG_SERVER_FD), and hands the
  // socket to every child: connections made during a restart wait in the kernel's queue.
  let handle: TcpHandle | undefined;
  let port = opts.port;
  if (flavour === "flask") {
    process.stdout.write(flaskStdoutBanner(opts.appRel));
    const create = (net as unknown as { _createServerHandle: CreateServerHandle })
      ._createServerHandle;
    let made = create(host, opts.port, net.isIPv6(host) ? 6 : 4, undefined, 0);
    if (typeof made !== "number") {
      // libuv reports EADDRINUSE at listen(), not bind(): a socket left unbound shows port 0.
      const bound: { port?: number } = {};
      made.getsockname(bound);
      if (!bound.port) {
        made.close();
        made = -98;
      }
    }
    if (typeof made === "number") {
      const code = made === -98 ? "EADDRINUSE" : getSystemErrorName(made);
      stderrOut.write(
        code === "EADDRINUSE"
          ? `Address already in use\nPort ${opts.port} is in use by another program. Either identify and stop that program, or start the server with a different port.\n`
          : `OSError: [Errno ${-made}] ${code}\n`,
      );
      flushOutput();
      sendEvent(bindErrorEvent(code, opts.port, host));
      await flushEvents(300);
      process.exit(1);
    }
    handle = made;
    const out: { port?: number } = {};
    handle.getsockname(out);
    port = out.port ?? opts.port;
    if (!isLoopback(host)) stderrOut.write(`${exposureWarning(host)}\n`);
    stderrOut.write(flaskStderrBanner(host, port, colour));
  } else if (!isLoopback(host)) {
    stderrOut.write(`${exposureWarning(host)}\n`);
  }
  flushOutput();

  const pin = debuggerPin(opts.directory);
  const failedPin = debuggerPin(opts.directory, "import failed");
  let current: AppChild | undefined;
  let spare: AppChild | undefined;
  let listeningSent = false;
  let reloadNo = 0;
  let watcher: Watcher | undefined;
  let lifecycle: Lifecycle | undefined;
  let changeWaiters: (() => void)[] = [];
  let pending: Change | undefined;
  let draining = false;
  let shuttingDown = false;

  const reloaderKind = () => watcher?.kind ?? opts.reloader;

  const sendListening = () => {
    if (listeningSent) return;
    listeningSent = true;
    const url = `http://${urlHost(host)}:${port}/`;
    sendEvent({
      type: "listening",
      sandbox: "dev-reload",
      flavour,
      pid: process.pid,
      host,
      port,
      url,
      directory: opts.directory,
      options: {
        reloader: reloaderKind(),
        interval: opts.interval,
        reload: opts.reload,
        threading: opts.threading,
        app: opts.appRel,
      },
    });
  };

  const spawnChild = (): AppChild => {
    const config: ChildConfig = {
      flavour,
      directory: opts.directory,
      app: opts.app,
      appRel: opts.appRel,
      threading: opts.threading,
      host,
      port,
      pin,
      failedPin,
      reload: opts.reload,
      reloader: reloaderKind(),
      events: requestEventsWanted(),
    };
    const proc = fork(process.argv[1] ?? "", [], {
      env: { ...process.env, [CHILD_ENV]: JSON.stringify(config) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [],
    });
    let settle: (o: Outcome) => void = () => {};
    const outcome = new Promise<Outcome>((resolve) => {
      settle = resolve;
    });
    const child: AppChild = {
      proc,
      active: false,
      outcome,
      exited: new Promise((resolve) => proc.once("exit", () => resolve())),
      stopping: false,
      answering: false,
    };
    let failed = false;
    proc.on("message", (msg: ChildMessage) => {
      switch (msg?.t) {
        case "hello":
          if (handle && !child.stopping) {
            try {
              proc.send({ t: "socket" }, handle as unknown as net.Server);
            } catch {}
          }
          break;
        case "failed":
          failed = true;
          settle({ kind: "failed", at: msg.at, error: msg.error });
          if (!listeningSent && flavour === "django") {
            sendEvent({ type: "error", code: "EAPPLOAD", message: msg.error, fatal: false });
          }
          break;
        case "ready":
          child.answering = true;
          if (msg.port > 0) port = msg.port;
          sendListening();
          if (!failed) settle({ kind: "ready", at: msg.at });
          break;
        case "request":
          sendEvent(msg.event);
          break;
        case "bind-error":
          sendEvent(bindErrorEvent(msg.code, port, host, msg.message));
          void lifecycle?.shutdown("bind error", 1);
          break;
      }
    });
    proc.on("error", () => {});
    proc.once("exit", (code, signal) => {
      settle({ kind: "exit" });
      if (spare === child) spare = undefined;
      if (child.stopping || shuttingDown || !child.active) return;
      // The app child ended by itself (the app called process.exit, or it was killed): the
      // real reloaders end with it.
      void lifecycle?.shutdown("app exited", code ?? (signal ? 1 : 0));
    });
    return child;
  };

  /** The next app child: the spare started ahead of time, or a new one; told to go. */
  const startChild = (): AppChild => {
    const child =
      spare && spare.proc.exitCode === null && spare.proc.signalCode === null
        ? spare
        : spawnChild();
    spare = undefined;
    child.active = true;
    // The child writes to the same terminal: what the parent said comes first.
    flushOutput();
    try {
      child.proc.send({ t: "go", reloader: reloaderKind() });
    } catch {}
    // The next spare starts once this child answers (or fails), not to compete with it.
    void child.outcome.then((o) => {
      if (o.kind !== "exit" && !shuttingDown && opts.reload && !spare) spare = spawnChild();
    });
    return child;
  };

  const stopChild = async (child: AppChild | undefined, killAfterMs = STOP_KILL_MS) => {
    if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
    child.stopping = true;
    try {
      child.proc.send({ t: "stop" });
    } catch {}
    const timer = setTimeout(() => child.proc.kill("SIGKILL"), killAfterMs);
    await child.exited;
    clearTimeout(timer);
  };

  const reloadEvent = (
    n: number,
    phase: ReloadEvent["phase"],
    change: Change,
    at: number,
    extra: Partial<ReloadEvent> = {},
  ) => {
    sendEvent({
      type: "reload",
      reload: n,
      phase,
      reloader: reloaderKind(),
      file: change.rel,
      savedAt: change.savedAt,
      at,
      ...extra,
    });
  };

  const nextChange = () =>
    new Promise<"change">((resolve) => {
      changeWaiters.push(() => resolve("change"));
    });

  const reloadOnce = async (change: Change) => {
    const n = ++reloadNo;
    stderrOut.write(flavour === "flask" ? flaskDetected(change.file) : djangoDetected(change.file));
    reloadEvent(n, "detected", change, Date.now());
    const stopAt = Date.now();
    await stopChild(current);
    if (shuttingDown) return;
    reloadEvent(n, "stopped", change, Date.now());
    if (flavour === "flask") stderrOut.write(flaskRestarting(reloaderKind()));
    if (!realInside(opts.directory, opts.app)) {
      const error = `FileNotFoundError: ${opts.appRel} is missing or leads outside the app's folder`;
      stderrOut.write(`${error}\n`);
      current = undefined;
      reloadEvent(n, "failed", change, Date.now(), { error });
      return;
    }
    current = startChild();
    const result = await Promise.race([current.outcome, nextChange()]);
    if (result === "change" || result.kind === "exit") return;
    if (result.kind === "ready") {
      reloadEvent(n, "ready", change, result.at, {
        latencyMs: Math.max(0, result.at - change.savedAt),
        downtimeMs: Math.max(0, result.at - stopAt),
      });
    } else {
      reloadEvent(n, "failed", change, result.at, { error: result.error });
    }
  };

  const onChange = (change: Change) => {
    if (shuttingDown) return;
    pending = change;
    const waiters = changeWaiters;
    changeWaiters = [];
    for (const w of waiters) w();
    if (draining) return;
    draining = true;
    void (async () => {
      while (pending && !shuttingDown) {
        const next = pending;
        pending = undefined;
        await reloadOnce(next);
        flushOutput();
      }
      draining = false;
    })();
  };

  lifecycle = installLifecycle({
    close: async (reason) => {
      shuttingDown = true;
      watcher?.close();
      const killAfter = reason === "parent gone" ? 150 : 400;
      await Promise.all([stopChild(current, killAfter), stopChild(spare, killAfter)]);
      handle?.close();
    },
    // Flask's and Django's development servers print nothing on Ctrl+C.
    onInterrupt: () => {},
    closeTimeoutMs: 900,
  });

  if (opts.reload) {
    watcher = startWatcher({
      root: opts.directory,
      kind: opts.reloader,
      intervalMs: opts.interval * 1000,
      onChange,
      onFallback: (reason) => {
        stderrOut.write(
          `Warning: file system events are unavailable here (${reason}); polling for changes every ${opts.interval} s instead.\n`,
        );
      },
    });
    if (flavour === "flask") stderrOut.write(flaskRestarting(watcher.kind));
  }
  current = startChild();
}
