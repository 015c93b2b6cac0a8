// A bounded memory of recent client message ids: (channel, uid, cid) -> seq, in two
// generations. New ids go to the young one; when it is full it becomes the old one and
// the previous old one is dropped whole. Evicting one Map entry at a time from the
// front looked cheaper but is not: V8 leaves deleted entries as holes that every later
// eviction scans past (measured: 20-75 µs a publish once 200k ids were held).
//
// Keys are nested maps (channel, then uid, then cid) rather than one joined string:
// joining made a new string per publish that had to be flattened and hashed whole on
// every lookup, about half of the check's cost; channel and uid strings mostly repeat.

type Generation = Map<string, Map<string, Map<string, number>>>;

function find(generation: Generation, channel: string, uid: string, cid: string): number | undefined {
  return generation.get(channel)?.get(uid)?.get(cid);
}

export class RecentIds {
  readonly #generation: number;
  #young: Generation = new Map();
  #youngSize = 0;
  #old: Generation = new Map();
  #oldSize = 0;

  /** Keeps at least `limit / 2` and at most `limit` of the newest ids. */
  constructor(limit: number) {
    this.#generation = Math.max(1, Math.floor(limit / 2));
  }

  get(channel: string, uid: string, cid: string): number | undefined {
    return find(this.#young, channel, uid, cid) ?? find(this.#old, channel, uid, cid);
  }

  set(channel: string, uid: string, cid: string, seq: number): void {
    let byUid = this.#young.get(channel);
    if (byUid === undefined) this.#young.set(channel, (byUid = new Map()));
    let byCid = byUid.get(uid);
    if (byCid === undefined) byUid.set(uid, (byCid = new Map()));
    const size = byCid.size;
    byCid.set(cid, seq);
    this.#youngSize += byCid.size - size;
    if (this.#youngSize >= this.#generation) {
      this.#old = this.#young;
      this.#oldSize = this.#youngSize;
      this.#young = new Map();
      this.#youngSize = 0;
    }
  }

  delete(channel: string, uid: string, cid: string): void {
    if (this.#young.get(channel)?.get(uid)?.delete(cid) === true) this.#youngSize--;
    if (this.#old.get(channel)?.get(uid)?.delete(cid) === true) this.#oldSize--;
  }

  get size(): number {
    return this.#youngSize + this.#oldSize;
  }
}
