import type { SandboxEvent } from "../../sandboxes/shared/protocol.js";

/** The sandbox's events from the moment `watch()` was called, for an experiment to read. */
export interface EventWatch {
  readonly events: readonly SandboxEvent[];
  /** The first event (already seen or still to come) that passes `test`, or undefined after `ms`. */
  wait(test: (event: SandboxEvent) => boolean, ms: number): Promise<SandboxEvent | undefined>;
  /**
   * Resolves once no event passing `test` has come for `quietMs`, counting from the last one
   * (or from now when none came), or after `maxMs` in all.
   */
  settle(test: (event: SandboxEvent) => boolean, quietMs: number, maxMs: number): Promise<void>;
  stop(): void;
}

/** Fans the sandbox's events out to whatever experiments are watching. */
export class EventHub {
  readonly #watchers = new Set<(event: SandboxEvent) => void>();

  push(event: SandboxEvent): void {
    for (const watcher of [...this.#watchers]) watcher(event);
  }

  watch(): EventWatch {
    const events: SandboxEvent[] = [];
    const waiters = new Set<(event: SandboxEvent) => void>();
    const onEvent = (event: SandboxEvent) => {
      if (events.length < 5_000) events.push(event);
      for (const waiter of [...waiters]) waiter(event);
    };
    this.#watchers.add(onEvent);
    const stop = () => {
      this.#watchers.delete(onEvent);
    };
    return {
      events,
      stop,
      wait(test, ms) {
        const seen = events.find(test);
        if (seen) return Promise.resolve(seen);
        return new Promise((resolve) => {
          const done = (event: SandboxEvent | undefined) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(event);
          };
          const waiter = (event: SandboxEvent) => {
            if (test(event)) done(event);
          };
          const timer = setTimeout(() => done(undefined), ms);
          waiters.add(waiter);
        });
      },
      settle(test, quietMs, maxMs) {
        return new Promise((resolve) => {
          let quiet: NodeJS.Timeout;
          const done = () => {
            clearTimeout(quiet);
            clearTimeout(cap);
            waiters.delete(waiter);
            resolve();
          };
          const rearm = () => {
            clearTimeout(quiet);
            quiet = setTimeout(done, quietMs);
          };
          const waiter = (event: SandboxEvent) => {
            if (test(event)) rearm();
          };
          const cap = setTimeout(done, maxMs);
          waiters.add(waiter);
          rearm();
        });
      },
    };
  }
}
