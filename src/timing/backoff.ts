// Reconnect delays: exponential with jitter, capped, reset once a connection has proved
// stable. Pure: the random source and the clock readings are passed in, so tests can
// pin every delay.

export interface BackoffOptions {
  /** First delay, ms. Default 250. */
  readonly initialMs?: number;
  /** Largest delay, ms. Default 30 000. */
  readonly maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  readonly factor?: number;
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  readonly jitter?: number;
  /** A connection that lasted this long resets the delays, ms. Default 10 000. */
  readonly stableMs?: number;
}

export const BACKOFF_DEFAULTS: Required<BackoffOptions> = {
  initialMs: 250,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.2,
  stableMs: 10_000,
};

export function backoffOptions(options: BackoffOptions = {}): Required<BackoffOptions> {
  const merged = { ...BACKOFF_DEFAULTS, ...options };
  for (const [key, value] of Object.entries(merged)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`backoff.${key} must be a number >= 0`);
  }
  if (merged.jitter > 1) throw new RangeError('backoff.jitter must be between 0 and 1');
  if (merged.factor < 1) throw new RangeError('backoff.factor must be at least 1');
  if (merged.maxMs < merged.initialMs) throw new RangeError('backoff.maxMs must be at least backoff.initialMs');
  return merged;
}

export class Backoff {
  readonly #options: Required<BackoffOptions>;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#options = backoffOptions(options);
    this.#random = random;
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const { initialMs, maxMs, factor, jitter } = this.#options;
    // Capping the exponent keeps factor ** attempt finite however long the outage.
    const base = Math.min(maxMs, initialMs * factor ** Math.min(this.#attempt, 64));
    this.#attempt++;
    const scaled = base * (1 - jitter + 2 * jitter * this.#random());
    return Math.round(Math.min(maxMs * (1 + jitter), Math.max(0, scaled)));
  }

  reset(): void {
    this.#attempt = 0;
  }

  /** Call when a connection ends: one that lasted `stableMs` starts the delays over. */
  connectionEnded(lastedMs: number): void {
    if (lastedMs >= this.#options.stableMs) this.reset();
  }
}
