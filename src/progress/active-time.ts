/** After this long without a key press (or a request in a lab), the learner counts as away. */
export const IDLE_LIMIT_MS = 5 * 60_000;

/**
 * Counts the time a learner is active on a screen: the time after each sign of activity counts
 * until the next one, up to `idleLimitMs`, so a terminal left open overnight adds minutes, not
 * hours. The timer starts as a sign of activity (opening the screen).
 */
export class ActiveTimer {
  readonly #now: () => number;
  readonly #idleLimitMs: number;
  #lastActivity: number;
  /** Time up to which the active time is counted. */
  #countedUntil: number;
  #pending = 0;

  constructor(now: () => number = Date.now, idleLimitMs = IDLE_LIMIT_MS) {
    this.#now = now;
    this.#idleLimitMs = idleLimitMs;
    this.#lastActivity = now();
    this.#countedUntil = this.#lastActivity;
  }

  #count(until: number): void {
    const end = Math.min(until, this.#lastActivity + this.#idleLimitMs);
    if (end > this.#countedUntil) {
      this.#pending += end - this.#countedUntil;
      this.#countedUntil = end;
    }
  }

  /** The learner did something now. */
  activity(): void {
    const now = this.#now();
    this.#count(now);
    this.#lastActivity = now;
    this.#countedUntil = Math.max(this.#countedUntil, now);
  }

  /** The active time counted since the last `take`, in milliseconds. */
  take(): number {
    this.#count(this.#now());
    const taken = this.#pending;
    this.#pending = 0;
    return taken;
  }
}
