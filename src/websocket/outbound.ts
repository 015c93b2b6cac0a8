// Per-connection send queue. Frames queued during one event-loop turn leave in one
// socket write at the end of it: a write costs ~5 µs of CPU here whatever its size,
// so coalescing is what lets fan-out reach millions of frames per second (PERF.md).
// The queue is bounded: a reader that falls too far behind is reported once through
// `onOverflow` and gets nothing more, so it can never hold up anyone else.

import type { Duplex } from 'node:stream';
import { TurnFrames } from './turn-frames.ts';

/**
 * Queued bytes that trigger a write at once instead of at the end of the turn: past
 * this, one more system call costs nothing noticeable, and holding a large burst in
 * memory would count against the reader's budget although it reads fine.
 */
const FLUSH_AT_BYTES = 64 * 1024;

/**
 * The queues of one node that hold frames for the end of the turn, and the turn's log
 * of frames they share. One per node, handed to every connection: two nodes in one
 * process (tests, an embedding app) each flush only their own queues.
 */
export class OutboundFlusher {
  readonly turn = new TurnFrames();
  readonly #dirty = new Set<OutboundQueue>();
  #scheduled = false;

  /** Writes every queue's pending frames now (normally done at the end of the turn). */
  readonly flush = (): void => {
    this.#scheduled = false;
    for (const queue of this.#dirty) queue.flush();
    this.#dirty.clear();
    this.turn.clear();
  };

  /** The queue has frames for the end of this turn. */
  add(queue: OutboundQueue): void {
    this.#dirty.add(queue);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** The queue is closed: nothing of it is flushed any more. */
  delete(queue: OutboundQueue): void {
    this.#dirty.delete(queue);
  }
}

/** Running totals of what queues have sent, shared by all connections (for metrics). */
export interface OutboundTotals {
  framesOut: number;
  bytesOut: number;
}

export class OutboundQueue {
  readonly #socket: Duplex;
  readonly #flusher: OutboundFlusher;
  readonly #maxBuffered: number;
  readonly #onOverflow: () => void;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** While the pending frames are one contiguous run of this turn's log: its bounds. */
  #runStart = 0;
  #runEnd = -1; // -1: not a single run
  #closed = false;
  readonly #totals: OutboundTotals;

  constructor(socket: Duplex, flusher: OutboundFlusher, maxBuffered: number, totals: OutboundTotals, onOverflow: () => void) {
    this.#socket = socket;
    this.#flusher = flusher;
    this.#totals = totals;
    this.#maxBuffered = maxBuffered;
    this.#onOverflow = onOverflow;
  }

  /** Queues a complete WebSocket frame. Returns false when the frame was not queued. */
  push(wire: Buffer): boolean {
    if (this.#closed) return false;
    this.#pendingBytes += wire.length;
    if (this.#pendingBytes + this.#socket.writableLength > this.#maxBuffered) {
      this.close();
      this.#onOverflow();
      return false;
    }
    const index = this.#flusher.turn.indexOf(wire);
    if (this.#pending.length === 0) {
      this.#runStart = index;
      this.#runEnd = index + 1;
    } else if (index === this.#runEnd) {
      this.#runEnd++;
    } else {
      this.#runEnd = -1;
    }
    this.#pending.push(wire);
    this.#totals.framesOut++;
    if (this.#pendingBytes >= FLUSH_AT_BYTES) {
      this.flush();
    } else if (this.#pending.length === 1) {
      this.#flusher.add(this);
    }
    return true;
  }

  /** Writes everything queued now; called at the end of the turn, or before a close frame. */
  flush(): void {
    if (this.#pending.length === 0 || this.#closed) return;
    const data =
      this.#pending.length === 1
        ? this.#pending[0]!
        : this.#runEnd >= 0
          ? this.#flusher.turn.slice(this.#runStart, this.#runEnd)
          : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#totals.bytesOut += this.#pendingBytes;
    this.#pending.length = 0; // reused: no new array per flush
    this.#pendingBytes = 0;
    if (!this.#socket.destroyed) this.#socket.write(data);
  }

  /** Drops anything still queued; later pushes are ignored. */
  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#flusher.delete(this);
  }

  get closed(): boolean {
    return this.#closed;
  }
}

