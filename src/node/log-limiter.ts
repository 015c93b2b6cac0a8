// Keeps a storm of identical log lines from flooding the log (and the disk it is on):
// the same message with the same code is written at most `perWindow` times in a
// window; the rest are counted, and one line later says how many were dropped. Pure:
// the caller passes the time and writes the lines.

export interface RepeatLimit {
  /** Lines with the same message and code written per window at most. */
  readonly perWindow: number;
  readonly windowMs: number;
  /** Kinds of line tracked at once; lines of further kinds are let through untracked. */
  readonly maxKinds?: number;
}

/** Lines of one kind that were dropped in a window that has ended. */
export interface DroppedRepeats {
  readonly msg: string;
  readonly code: string | undefined;
  readonly level: number;
  readonly count: number;
}

interface Window {
  readonly msg: string;
  readonly code: string | undefined;
  readonly level: number;
  readonly start: number;
  written: number;
  dropped: number;
}

export class RepeatLimiter {
  readonly #limit: RepeatLimit;
  readonly #windows = new Map<string, Window>();
  /** Lines dropped as repeats since start. */
  droppedTotal = 0;

  constructor(limit: RepeatLimit) {
    this.#limit = limit;
  }

  /**
   * Whether a line may be written now. `ended` is set when this kind's previous window
   * dropped lines: say so before writing this one.
   */
  admit(level: number, msg: string, code: string | undefined, now: number): { readonly write: boolean; readonly ended?: DroppedRepeats } {
    const key = `${level}\0${msg}\0${code ?? ''}`;
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.start < this.#limit.windowMs) {
      if (window.written < this.#limit.perWindow) {
        window.written++;
        return { write: true };
      }
      window.dropped++;
      this.droppedTotal++;
      return { write: false };
    }
    if (window === undefined && this.#windows.size >= (this.#limit.maxKinds ?? 10_000)) return { write: true };
    this.#windows.set(key, { msg, code, level, start: now, written: 1, dropped: 0 });
    return window === undefined || window.dropped === 0 ? { write: true } : { write: true, ended: dropped(window) };
  }

  /** Forgets the windows that have ended; returns those that dropped lines, to be reported. */
  sweep(now: number): DroppedRepeats[] {
    const ended: DroppedRepeats[] = [];
    for (const [key, window] of this.#windows) {
      if (now - window.start < this.#limit.windowMs) continue;
      this.#windows.delete(key);
      if (window.dropped > 0) ended.push(dropped(window));
    }
    return ended;
  }
}

function dropped(window: Window): DroppedRepeats {
  return { msg: window.msg, code: window.code, level: window.level, count: window.dropped };
}
