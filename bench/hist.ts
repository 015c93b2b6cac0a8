// A log-linear latency histogram in microseconds: exact below 64 µs, then 32 buckets per
// power of two (at most ~3% relative error). Recording is a few integer operations on a
// typed array, so it can run for every received message without allocating.

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32 buckets per octave
const MAX_US = 0x7fffffff;
const BUCKETS = 32 * 26 + 2 * SUB;

export interface LatencySummary {
  readonly count: number;
  readonly minUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
}

export function bucketOf(us: number): number {
  const v = us <= 0 ? 0 : us >= MAX_US ? MAX_US : Math.floor(us);
  const msb = 31 - Math.clz32(v);
  const shift = msb > SUB_BITS ? msb - SUB_BITS : 0;
  return SUB * shift + (v >>> shift);
}

/** The middle of a bucket's value range, in µs. */
export function bucketValue(index: number): number {
  if (index < 2 * SUB) return index;
  const shift = Math.floor(index / SUB) - 1;
  const low = (index - SUB * shift) * 2 ** shift;
  return low + (2 ** shift - 1) / 2;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  record(us: number): void {
    const i = bucketOf(us);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.minUs = Infinity;
    this.maxUs = 0;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(bucketValue(i), this.maxUs);
    }
    return this.maxUs;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      minUs: this.count === 0 ? 0 : this.minUs,
      p50Us: this.percentile(50),
      p90Us: this.percentile(90),
      p99Us: this.percentile(99),
      p999Us: this.percentile(99.9),
      maxUs: this.maxUs,
      meanUs: this.count === 0 ? 0 : this.sumUs / this.count,
    };
  }
}
