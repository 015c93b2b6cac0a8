// What an Mles chat has already shown, so that the history the node replays on every
// join is not printed twice after a reconnect. Mles frames carry no id: a frame is
// recognised by its bytes (a digest) and kind, counted, so that "hi" said twice is two.
// A replay is the burst right after a join; once it has passed, a frame that happens to
// look like an old one (bob says "hi" again) is new. Pure: the caller says when a
// replay starts and ends.

import { createHash } from 'node:crypto';

/** Frames remembered at most; comfortably above the history a node replays (--limit). */
const DEFAULT_LIMIT = 20_000;

export function frameKey(bytes: Uint8Array, binary: boolean): string {
  return `${binary ? 'b' : 't'}${createHash('sha256').update(bytes).digest('base64')}`;
}

export class ReplayFilter {
  readonly #limit: number;
  readonly #counts = new Map<string, number>();
  readonly #order: string[] = [];
  /** Frames shown before that the current replay may repeat; undefined outside a replay. */
  #expected: Map<string, number> | undefined;

  constructor(limit = DEFAULT_LIMIT) {
    this.#limit = limit;
  }

  /** A frame shown, sent or otherwise known to the node's history from us. */
  remember(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.#order.push(key);
    if (this.#order.length > this.#limit) {
      const oldest = this.#order.shift()!;
      const count = this.#counts.get(oldest)! - 1;
      if (count > 0) this.#counts.set(oldest, count);
      else this.#counts.delete(oldest);
    }
  }

  /** A join: what follows may repeat everything remembered. */
  startReplay(): void {
    this.#expected = new Map(this.#counts);
  }

  endReplay(): void {
    this.#expected = undefined;
  }

  get replaying(): boolean {
    return this.#expected !== undefined;
  }

  /**
   * Whether a received frame repeats one already shown (then it is consumed: the same
   * frame once more is new). A new frame is remembered.
   */
  seenBefore(key: string): boolean {
    const expected = this.#expected?.get(key) ?? 0;
    if (expected > 0) {
      this.#expected!.set(key, expected - 1);
      return true;
    }
    this.remember(key);
    return false;
  }
}
