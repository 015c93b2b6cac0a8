// The node's logger: pino, writing through a LogDestination (a failing or stuck log
// can never stop the node) and a RepeatLimiter (a storm of one error, say a full disk
// refusing every batch, is written a few times per window and then summed up in one
// line). What was dropped, and why, is counted for /metrics.

import { pino, type Logger, type LogFn } from 'pino';
import { LogDestination, type WriteFn } from './log-destination.ts';
import { RepeatLimiter, type DroppedRepeats, type RepeatLimit } from './log-limiter.ts';

/** The line that sums up repeats dropped in a window; never limited itself. */
export const REPEATS_DROPPED = 'repeated log lines dropped';

const DEFAULT_REPEATS: RepeatLimit = { perWindow: 20, windowMs: 10_000 };

export interface NodeLogOptions {
  readonly level: string;
  /** File descriptor the lines go to (stdout by default). */
  readonly fd?: number;
  readonly repeats?: RepeatLimit;
  readonly now?: () => number;
  /** Replaces fs.write, for tests. */
  readonly write?: WriteFn;
}

export interface LogLinesDropped {
  /** Identical lines past the repeat limit. */
  readonly repeated: number;
  /** Lines whose write failed (ENOSPC, EPIPE, ...). */
  readonly writeFailed: number;
  /** Lines that found the backlog full (writes too slow or stuck). */
  readonly backlogFull: number;
}

export interface NodeLog {
  readonly log: Logger;
  dropped(): LogLinesDropped;
  /** Reports repeats still uncounted, then waits (at most `timeoutMs`) for queued lines to be written. */
  close(timeoutMs?: number): Promise<void>;
}

/** The message and code that make log lines "the same", from a log call's arguments. */
export function lineKind(args: readonly unknown[]): { msg: string; code: string | undefined } {
  const [first, second] = args;
  if (typeof first === 'string') return { msg: first, code: undefined };
  const msg = typeof second === 'string' ? second : first instanceof Error ? first.message : '';
  if (typeof first !== 'object' || first === null) return { msg, code: undefined };
  const fields = first as Record<string, unknown>;
  const err = fields.err ?? (first instanceof Error ? first : undefined);
  const code = fields.code ?? fields.storeCode ?? (typeof err === 'object' && err !== null ? (err as Record<string, unknown>).code : undefined);
  return { msg, code: code === undefined || code === null ? undefined : String(code) };
}

function repeatsLine(dropped: DroppedRepeats, windowMs: number): Record<string, unknown> {
  return { repeated: dropped.msg, code: dropped.code, dropped: dropped.count, windowMs };
}

export function createNodeLog(options: NodeLogOptions): NodeLog {
  const repeats = options.repeats ?? DEFAULT_REPEATS;
  const now = options.now ?? Date.now;
  const limiter = new RepeatLimiter(repeats);
  const destination = new LogDestination({
    fd: options.fd ?? 1,
    write: options.write,
    onRecovered: (dropped, code) => log.warn({ dropped, code }, 'log lines were lost: writing the log failed'),
  });
  const log: Logger = pino(
    {
      level: options.level,
      base: { pid: process.pid },
      hooks: {
        logMethod(args, method, level) {
          const { msg, code } = lineKind(args);
          if (msg === REPEATS_DROPPED) return method.apply(this, args);
          const verdict = limiter.admit(level, msg, code, now());
          if (verdict.ended !== undefined) (method as (...a: unknown[]) => void).apply(this, [repeatsLine(verdict.ended, repeats.windowMs), REPEATS_DROPPED]);
          if (verdict.write) method.apply(this, args);
        },
      },
    },
    destination,
  );
  const report = (ended: readonly DroppedRepeats[]): void => {
    for (const dropped of ended) {
      const label = log.levels.labels[dropped.level] ?? 'warn';
      (log[label as 'warn'] as LogFn)(repeatsLine(dropped, repeats.windowMs), REPEATS_DROPPED);
    }
  };
  // Repeats dropped at the end of a storm are reported when their window ends, not
  // only when the same line comes again.
  const sweeper = setInterval(() => report(limiter.sweep(now())), repeats.windowMs);
  sweeper.unref();
  return {
    log,
    dropped: () => ({ repeated: limiter.droppedTotal, ...destination.drops }),
    async close(timeoutMs = 1000) {
      clearInterval(sweeper);
      report(limiter.sweep(Number.POSITIVE_INFINITY));
      await destination.drain(timeoutMs);
    },
  };
}
