// A bounded memory of recent keys (client message ids), in two generations: new keys
// go to the young map; when it is full it becomes the old one and the previous old
// one is dropped whole. Evicting one Map entry at a time from the front looked
// cheaper but is not: V8 leaves deleted entries as holes that every later eviction
// scans past (measured: 20-75 µs a publish once 200k ids were held).

export class RecentIds {
  readonly #generation: number;
  #young = new Map<string, number>();
  #old = new Map<string, number>();

  /** Keeps at least `limit / 2` and at most `limit` of the newest keys. */
  constructor(limit: number) {
    this.#generation = Math.max(1, Math.floor(limit / 2));
  }

  get(key: string): number | undefined {
    return this.#young.get(key) ?? this.#old.get(key);
  }

  set(key: string, value: number): void {
    this.#young.set(key, value);
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
  }

  delete(key: string): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  /** Forgets every key whose value is below `min` (messages retention removed). */
  forgetBelow(min: number, matches: (key: string) => boolean): void {
    for (const map of [this.#young, this.#old]) for (const [key, value] of map) if (value < min && matches(key)) map.delete(key);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
