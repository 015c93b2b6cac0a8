// Per-key request budgets (per address for logins and registrations, per user for
// sends): a token bucket each, forgotten once full again so the map stays small.

import { TokenBucket } from '../timing/token-bucket.ts';
import { limitExceeded } from './errors.ts';

export class KeyedRateLimit {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #capacity: number;
  readonly #perSecond: number;
  readonly #now: () => number;

  /** `perSecond` 0 is no limit. */
  constructor(capacity: number, perSecond: number, now: () => number = () => performance.now()) {
    this.#capacity = capacity;
    this.#perSecond = perSecond;
    this.#now = now;
  }

  /** Takes one request from the key's budget, or throws M_LIMIT_EXCEEDED with when to retry. */
  take(key: string): void {
    if (this.#perSecond === 0) return;
    if (this.#buckets.size > 10_000) this.#prune();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) this.#buckets.set(key, (bucket = new TokenBucket(this.#capacity, this.#perSecond, this.#now)));
    if (!bucket.tryTake(1)) throw limitExceeded(Math.max(1, Math.ceil(bucket.msUntil(1))));
  }

  #prune(): void {
    for (const [key, bucket] of this.#buckets) if (bucket.msUntil(this.#capacity) === 0) this.#buckets.delete(key);
  }
}
