// Runs retention in the background: every interval, removes what is past the limits
// in small steps, yielding to traffic between steps, so a large backlog never stalls
// publishers or readers.

import type { RetentionLimits } from './store.ts';

/** What retention runs on: the message store, and whatever keeps things alongside it. */
export interface Retainable {
  /** Removes what is past the limits, at most `budget` rows; returns how many (see Store). */
  enforceRetention(limits: RetentionLimits, now: number, budget: number): number;
}

export interface RetentionOptions {
  readonly target: Retainable;
  readonly limits: RetentionLimits;
  readonly intervalMs: number;
  /** Rows removed per step. */
  readonly stepRows?: number;
  readonly now?: () => number;
  readonly onRemoved?: (count: number) => void;
  /** After every pass, with what it removed (0 too). */
  readonly onPass?: (count: number) => void;
  readonly onError?: (error: unknown) => void;
}

export class RetentionJob {
  readonly #options: RetentionOptions;
  readonly #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;

  constructor(options: RetentionOptions) {
    this.#options = options;
    const { count, ageMs, bytes } = options.limits;
    if (count > 0 || ageMs > 0 || bytes > 0) {
      this.#timer = setInterval(() => this.run(), options.intervalMs);
      this.#timer.unref();
    }
  }

  /** One full pass, in steps; resolves with the number of messages removed. */
  async run(): Promise<number> {
    if (this.#running || this.#stopped) return 0;
    this.#running = true;
    const step = this.#options.stepRows ?? 2000;
    const now = (this.#options.now ?? Date.now)();
    let total = 0;
    try {
      for (;;) {
        const removed = this.#options.target.enforceRetention(this.#options.limits, now, step);
        total += removed;
        if (removed < step || this.#stopped) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total > 0) this.#options.onRemoved?.(total);
      this.#options.onPass?.(total);
    } catch (error) {
      this.#options.onError?.(error);
    } finally {
      this.#running = false;
    }
    return total;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }
}
