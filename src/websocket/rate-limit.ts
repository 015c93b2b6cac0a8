// New-connection rate limit per remote address (Mles `--rate-limit`): a fixed budget
// per address per minute, refilled continuously (a token bucket), so a burst up to the
// budget passes and a flood is turned away with 429 before any WebSocket work.

export class ConnectionRateLimiter {
  readonly #perMinute: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number, now: () => number = () => performance.now()) {
    this.#perMinute = perMinute;
    this.#now = now;
  }

  /** Takes one connection from the address's budget; false when it has none left. */
  allow(address: string): boolean {
    if (this.#perMinute <= 0) return true;
    const now = this.#now();
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      if (this.#buckets.size > 100_000) this.prune();
      this.#buckets.set(address, { tokens: this.#perMinute - 1, at: now });
      return true;
    }
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + ((now - bucket.at) * this.#perMinute) / 60_000);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets addresses whose budget has refilled: they behave as new ones. */
  prune(): void {
    const now = this.#now();
    for (const [address, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.#perMinute) / 60_000 >= this.#perMinute) {
        this.#buckets.delete(address);
      }
    }
  }
}
