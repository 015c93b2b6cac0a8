// Where Mles join headers are kept for the replay: apart from messages (they take no
// seq), at most `perChannel` per channel, each placed after the message that was the
// channel's last when it joined. They go with retention like the messages around them:
// those placed before the oldest message left (once messages were removed), and with
// an age limit those older than it. SQLite keeps them in the node's database
// (sqlite-join-headers.ts); this file has the contract and the in-memory keeper.

import type { RetentionLimits } from '../store/store.ts';
import type { JoinHeader } from './history.ts';

export interface JoinHeaderRecord extends JoinHeader {
  readonly channel: string;
}

export interface JoinHeaders {
  /** Stores headers in one transaction, trimming each channel to its newest `perChannel`. */
  append(headers: readonly JoinHeaderRecord[]): void;
  /**
   * Each header is to be appended at its join, not at the end of the turn: a keeper
   * that sends headers into the same ordered log as the messages (the JetStream
   * stream) must send one before what the hub has not flushed yet, or a message queued
   * before the join would land on the wrong side of it.
   */
  readonly appendAtJoin?: boolean;
  /** The channel's newest `limit` headers, oldest first. */
  latest(channel: string, limit: number): JoinHeader[];
  /**
   * Removes what retention takes (see the top of this file), at most about `budget` per
   * call; `firstSeq` is a channel's oldest stored seq (its last + 1 when empty).
   */
  enforceRetention(limits: RetentionLimits, now: number, budget: number): number;
  close(): void;
}

export interface JoinHeadersOptions {
  /** Headers kept per channel. */
  readonly perChannel?: number;
  readonly now?: () => number;
  /** The oldest stored seq of a channel (its last + 1 when it has none). */
  readonly firstSeq: (channel: string) => number;
}

/** Whether retention takes a header: before the oldest message left, or past the age limit. */
export function headerExpired(header: { position: number; ts: number }, firstSeq: number, limits: RetentionLimits, now: number): boolean {
  return header.position < firstSeq - 1 || (limits.ageMs > 0 && header.ts < now - limits.ageMs);
}

export class MemoryJoinHeaders implements JoinHeaders {
  readonly #perChannel: number;
  readonly #now: () => number;
  readonly #firstSeq: (channel: string) => number;
  readonly #channels = new Map<string, Array<JoinHeader & { ts: number }>>();

  constructor(options: JoinHeadersOptions) {
    this.#perChannel = options.perChannel ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#firstSeq = options.firstSeq;
  }

  append(headers: readonly JoinHeaderRecord[]): void {
    for (const { channel, position, frame } of headers) {
      let kept = this.#channels.get(channel);
      if (kept === undefined) this.#channels.set(channel, (kept = []));
      kept.push({ position, frame, ts: this.#now() });
      if (kept.length > this.#perChannel) kept.shift();
    }
  }

  latest(channel: string, limit: number): JoinHeader[] {
    return limit <= 0 ? [] : (this.#channels.get(channel)?.slice(-limit) ?? []);
  }

  enforceRetention(limits: RetentionLimits, now: number, budget: number): number {
    let removed = 0;
    for (const [channel, kept] of this.#channels) {
      const first = this.#firstSeq(channel);
      // Oldest first, in position and in time: what goes is a prefix.
      while (removed < budget && kept.length > 0 && headerExpired(kept[0]!, first, limits, now)) {
        kept.shift();
        removed++;
      }
      if (kept.length === 0) this.#channels.delete(channel);
    }
    return removed;
  }

  close(): void {}
}
