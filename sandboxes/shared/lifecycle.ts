import { flushEvents, onControl, onParentGone, sendEvent } from "./ipc.js";
import { flushOutput } from "./output.js";

export interface LifecycleOptions {
  /**
   * Stops accepting and drops or finishes open connections; resolves when done. `reason` is
   * "SIGINT", "SIGTERM", "SIGHUP", "stop" (the IPC control: finish what is in flight) or
   * "parent gone".
   */
  close(reason: string): Promise<void> | void;
  /** Prints what the real server prints on Ctrl+C, e.g. Python's KeyboardInterrupt lines. */
  onInterrupt?(): void;
  /** How long `close()` may take before the process exits anyway. */
  closeTimeoutMs?: number;
  /** Replaces the default SIGHUP handling (shut down, exit 0), e.g. for a graceful reload. */
  onHangup?(): void;
}

export interface Lifecycle {
  /** Sends a stopping event, closes, flushes output and events, exits with `code`. Runs once. */
  shutdown(reason: string, code?: number): Promise<void>;
  readonly stopping: boolean;
}

// The parent may already be gone: exit well inside the 1 s the contract allows.
const PARENT_GONE_EXIT_MS = 600;

function withTimeout(work: () => Promise<void> | void, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    Promise.resolve()
      .then(work)
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        resolve();
      });
  });
}

/**
 * Wires the lifecycle every sandbox shares: SIGINT (the real server's Ctrl+C output, exit 0),
 * SIGTERM (quiet, exit 0), SIGHUP (exit 0), the IPC `stop` control (graceful, exit 0) and the
 * parent going away (exit within 1 s).
 */
export function installLifecycle(options: LifecycleOptions): Lifecycle {
  let stopping: Promise<void> | undefined;
  const closeTimeoutMs = options.closeTimeoutMs ?? 800;

  const shutdown = (reason: string, code = 0): Promise<void> => {
    if (stopping) return stopping;
    sendEvent({ type: "stopping", reason });
    stopping = (async () => {
      await withTimeout(() => options.close(reason), closeTimeoutMs);
      flushOutput();
      await flushEvents(200);
      process.exit(code);
    })();
    return stopping;
  };

  process.on("SIGINT", () => {
    if (stopping) process.exit(0);
    flushOutput();
    options.onInterrupt?.();
    void shutdown("SIGINT", 0);
  });
  process.on("SIGTERM", () => {
    if (stopping) process.exit(0);
    void shutdown("SIGTERM", 0);
  });
  if (process.platform !== "win32") {
    process.on("SIGHUP", () => {
      if (options.onHangup) return options.onHangup();
      if (stopping) process.exit(0);
      void shutdown("SIGHUP", 0);
    });
  }
  onControl((control) => {
    if (control.type === "stop") void shutdown("stop", 0);
  });
  onParentGone(() => {
    setTimeout(() => {
      flushOutput();
      process.exit(0);
    }, PARENT_GONE_EXIT_MS).unref();
    void shutdown("parent gone", 0);
  });

  return {
    shutdown,
    get stopping() {
      return stopping !== undefined;
    },
  };
}
