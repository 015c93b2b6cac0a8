// Per-sender flow control for the load generator: each sender keeps at most `window`
// messages unconfirmed (by receipt or by ack) and tops up in batches once a turn, only
// for the senders something happened to. Shared by the pairs and ingest scenarios.

import type { BenchClient } from './adapter.ts';

export class CreditWindow {
  /** Per sender: messages sent, and messages confirmed. */
  readonly sent: Float64Array;
  readonly acked: Float64Array;
  readonly #clients: readonly (BenchClient | undefined)[];
  readonly #window: number;
  readonly #threshold: number;
  readonly #onBatch: (sender: number, firstSeq: number, count: number, now: number) => void;
  readonly #dirty: Uint8Array;
  readonly #dirtyList: Uint32Array;
  #dirtyCount = 0;
  #scheduled = false;
  #stopped = false;

  /**
   * `threshold`: the smallest top-up worth a write (unless nothing is in flight).
   * `onBatch` runs for every batch written, e.g. to count it or to remember send times.
   */
  constructor(
    clients: readonly (BenchClient | undefined)[],
    window: number,
    threshold: number,
    onBatch: (sender: number, firstSeq: number, count: number, now: number) => void,
  ) {
    const n = clients.length;
    this.#clients = clients;
    this.#window = window;
    this.#threshold = threshold;
    this.#onBatch = onBatch;
    this.sent = new Float64Array(n);
    this.acked = new Float64Array(n);
    this.#dirty = new Uint8Array(n);
    this.#dirtyList = new Uint32Array(n);
  }

  /** Something happened to `sender` (a confirmation, or the start): top it up this turn. */
  markDirty(sender: number): void {
    if (this.#dirty[sender] === 0) {
      this.#dirty[sender] = 1;
      this.#dirtyList[this.#dirtyCount++] = sender;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#pump);
    }
  }

  markAllDirty(): void {
    for (let j = 0; j < this.#clients.length; j++) this.markDirty(j);
  }

  /** Treats everything sent as confirmed (when receipts stopped); true if anything was. */
  forgive(): boolean {
    let forgave = false;
    for (let j = 0; j < this.sent.length; j++) {
      if ((this.acked[j] ?? 0) < (this.sent[j] ?? 0)) {
        this.acked[j] = this.sent[j] ?? 0;
        forgave = true;
      }
    }
    return forgave;
  }

  stop(): void {
    this.#stopped = true;
  }

  #pump = (): void => {
    this.#scheduled = false;
    const count = this.#dirtyCount;
    this.#dirtyCount = 0;
    const now = performance.now();
    for (let k = 0; k < count; k++) {
      const j = this.#dirtyList[k] ?? 0;
      this.#dirty[j] = 0;
      const c = this.#clients[j];
      if (this.#stopped || c?.batcher === undefined) continue;
      const s = this.sent[j] ?? 0;
      const inflight = s - (this.acked[j] ?? 0);
      const credit = this.#window - inflight;
      if (credit >= this.#threshold || (inflight === 0 && credit > 0)) {
        if (c.conn.bufferedBytes > 1 << 20) continue;
        c.conn.write(c.batcher.build(credit, now, s));
        this.sent[j] = s + credit;
        this.#onBatch(j, s, credit, now);
      }
    }
  };
}
