// A token bucket: `perSecond` tokens a second, at most `capacity` saved up. Peer links use
// one to refuse a peer that sends more messages than allowed, and one to pace what they
// send so that they stay under what the peer allows. 0 tokens a second means no limit.

export class TokenBucket {
  readonly #capacity: number;
  readonly #perSecond: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(capacity: number, perSecond: number, now: () => number = () => performance.now()) {
    this.#capacity = capacity;
    this.#perSecond = perSecond;
    this.#now = now;
    this.#tokens = capacity;
    this.#at = now();
  }

  get unlimited(): boolean {
    return this.#perSecond === 0;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
    this.#at = now;
  }

  /** Takes `n` tokens if there are that many; otherwise takes none. */
  tryTake(n: number): boolean {
    if (this.unlimited) return true;
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Takes as many of `n` tokens as there are (whole ones), and says how many. */
  takeUpTo(n: number): number {
    if (this.unlimited) return n;
    this.#refill();
    const taken = Math.min(n, Math.floor(this.#tokens));
    this.#tokens -= taken;
    return taken;
  }

  /** Milliseconds until `n` tokens (at most the capacity) are there. */
  msUntil(n: number): number {
    if (this.unlimited) return 0;
    this.#refill();
    const missing = Math.min(n, this.#capacity) - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.#perSecond) * 1000);
  }
}
