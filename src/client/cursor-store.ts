// Where a client keeps its cursors: per channel, the seq of the last message the
// application has processed. The client reads a channel's cursor once, when the channel
// is first subscribed, and writes it as messages are handed over; a store may batch its
// writes (flush() then makes them durable). Cursors are per node: a cursor from another
// node's store means nothing there (the node answers UNKNOWN_CURSOR or worse, silently
// skips), so use one store per node you talk to.
//
// Implementations: MemoryCursorStore (here), FileCursorStore (Node only,
// file-cursor-store.ts). A browser IndexedDB store is planned; localStorage works for
// small needs through this same interface.

export interface CursorStore {
  /** The cursor for a channel, or undefined when the channel was never processed. */
  get(channel: string): number | undefined | Promise<number | undefined>;
  /**
   * Records the cursor. May be batched. The client only moves a cursor forward, except
   * when it starts a channel over (UNKNOWN_CURSOR with onUnknownCursor: 'restart').
   */
  set(channel: string, seq: number): void | Promise<void>;
  /** Makes every earlier set() durable. */
  flush?(): Promise<void>;
  /** Flushes and releases the store; the client calls it on close() when it owns the store. */
  close?(): Promise<void>;
}

export class MemoryCursorStore implements CursorStore {
  readonly #cursors = new Map<string, number>();

  constructor(initial: Iterable<readonly [string, number]> = []) {
    for (const [channel, seq] of initial) this.set(channel, seq);
  }

  get(channel: string): number | undefined {
    return this.#cursors.get(channel);
  }

  set(channel: string, seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`cursor must be a whole number >= 0, got ${seq}`);
    this.#cursors.set(channel, seq);
  }

  /** Every cursor, for inspection and tests. */
  entries(): Array<[string, number]> {
    return [...this.#cursors];
  }
}
