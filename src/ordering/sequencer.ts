// The ordering node's decisions for one group channel, without I/O: fed the channel's
// messages in the order this node stores them, it answers each new submission with the
// ordered record to publish. Its state (the last number, the last record's hash, which
// submissions are numbered) is rebuilt from the channel itself, so a restarted node
// carries on from its own ordered records without a file of its own.

import type { KeyObject } from 'node:crypto';
import { decodeGenesis, decodeOrdered, encodeOrdered, NO_PREVIOUS, orderedHash, sha256, signOrdered, TAG_ORDERED, TAG_SUBMISSION, verifyOrdered } from './wire.ts';

export interface OrderingKey {
  readonly nodeId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export type SequencerStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'publish'; readonly payload: Uint8Array; readonly n: number }
  | { readonly kind: 'refused'; readonly reason: string };

const NONE: SequencerStep = { kind: 'none' };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export class Sequencer {
  readonly #key: OrderingKey;
  readonly #maxPayload: number;
  #role: 'unknown' | 'mine' | 'other' = 'unknown';
  #groupId: Uint8Array = new Uint8Array();
  #n = 0;
  #prev: Uint8Array = NO_PREVIOUS;
  /** Hashes of the submissions already numbered: a submission is numbered once. */
  readonly #numbered = new Set<string>();

  constructor(key: OrderingKey, maxPayload: number) {
    this.#key = key;
    this.#maxPayload = maxPayload;
  }

  /** Whether this node orders the group (known once the channel's first message was taken). */
  get role(): 'unknown' | 'mine' | 'other' {
    return this.#role;
  }

  /** False once the channel turned out to be another node's group (or no group). */
  get mayBeMine(): boolean {
    return this.#role !== 'other';
  }

  /** Handshake messages numbered so far. */
  get numbered(): number {
    return this.#n;
  }

  /**
   * Learns from a message without numbering anything: after a restart, the whole channel
   * goes through here first, because a submission comes before the record that numbered
   * it and would otherwise be numbered again.
   */
  learn(payload: Uint8Array): void {
    if (this.#role === 'unknown' || payload[0] === TAG_ORDERED) this.take(payload);
  }

  /** Takes the channel's next message, in this node's order. */
  take(payload: Uint8Array): SequencerStep {
    if (this.#role === 'unknown') {
      // The channel's first message names the group and its ordering node.
      const genesis = decodeGenesis(payload);
      if (typeof genesis !== 'string' && genesis.orderer === this.#key.nodeId) {
        this.#role = 'mine';
        this.#groupId = genesis.groupId;
      } else {
        this.#role = 'other';
      }
      return NONE;
    }
    if (this.#role === 'other') return NONE;
    if (payload[0] === TAG_ORDERED) {
      this.#resume(payload);
      return NONE;
    }
    if (payload[0] !== TAG_SUBMISSION || payload.length < 2) return NONE;
    const hash = hex(sha256(payload));
    if (this.#numbered.has(hash)) return NONE;
    this.#numbered.add(hash);
    const fields = { groupId: this.#groupId, n: this.#n + 1, prev: this.#prev, submission: payload };
    const record = encodeOrdered(signOrdered(fields, this.#key.privateKey, this.#key.publicKey));
    if (record.length > this.#maxPayload) return { kind: 'refused', reason: `an ordered record of ${record.length} bytes would exceed the largest message (${this.#maxPayload})` };
    this.#n = fields.n;
    this.#prev = orderedHash(fields);
    return { kind: 'publish', payload: record, n: fields.n };
  }

  /** An ordered record of ours read back (after a restart): carry on after it. */
  #resume(payload: Uint8Array): void {
    const record = decodeOrdered(payload);
    // Anyone can put bytes in a channel: only records this node signed count.
    if (record === undefined || !verifyOrdered(record, this.#key.nodeId)) return;
    this.#numbered.add(hex(sha256(record.submission)));
    if (record.n <= this.#n) return;
    this.#n = record.n;
    this.#prev = orderedHash(record);
  }
}
