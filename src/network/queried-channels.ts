// The channels queried on this node lately. Peering asks its peers for each one for a
// while after its last query, so a client paging through a channel waits for them once.
// Any client can query any name, and each one asked for costs state on every peer, so
// the set is bounded as well as expiring: past the limit the channel queried longest
// ago goes first (its next query waits for the peers again).

export class QueriedChannels {
  readonly #limit: number;
  readonly #keepMs: number;
  readonly #ended: (channel: string) => void;
  /** Channel -> its expiry timer, the channel queried longest ago first. */
  readonly #timers = new Map<string, NodeJS.Timeout>();

  /** `ended` is called for a channel that expired or was pushed out, once it is gone. */
  constructor(limit: number, keepMs: number, ended: (channel: string) => void) {
    this.#limit = limit;
    this.#keepMs = keepMs;
    this.#ended = ended;
  }

  get size(): number {
    return this.#timers.size;
  }

  has(channel: string): boolean {
    return this.#timers.has(channel);
  }

  /** A query of the channel: kept for `keepMs` from now. */
  queried(channel: string): void {
    clearTimeout(this.#timers.get(channel));
    this.#timers.delete(channel); // re-added last: the newest
    const timer = setTimeout(() => this.#end(channel), this.#keepMs);
    timer.unref();
    this.#timers.set(channel, timer);
    if (this.#timers.size > this.#limit) this.#end(this.#timers.keys().next().value!);
  }

  #end(channel: string): void {
    clearTimeout(this.#timers.get(channel));
    this.#timers.delete(channel);
    this.#ended(channel);
  }

  /** Forgets every channel without calling `ended` (the node is shutting down). */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
