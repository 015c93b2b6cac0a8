// The ordering node's decisions for one group channel, without I/O: fed the channel's
// messages in the order this node stores them, it answers each new submission with the
// ordered record to publish. Its state (the current ordering node, the last number, the
// last record's hash, which submissions are numbered) is rebuilt from the channel
// itself, so a restarted node carries on from its own ordered records without a file of
// its own, and a node the group's admin hands the role to takes over from the handover.

import type { KeyObject } from 'node:crypto';
import {
  decodeGenesis,
  decodeHandover,
  decodeOrdered,
  encodeOrdered,
  NO_PREVIOUS,
  orderedHash,
  sha256,
  signOrdered,
  TAG_HANDOVER,
  TAG_ORDERED,
  TAG_SUBMISSION,
  verifyHandover,
  verifyOrdered,
} from './wire.ts';

export interface OrderingKey {
  readonly nodeId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export type SequencerStep =
  | { readonly kind: 'publish'; readonly payload: Uint8Array; readonly n: number }
  | { readonly kind: 'refused'; readonly reason: string };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export class Sequencer {
  readonly #key: OrderingKey;
  readonly #maxPayload: number;
  /** unknown: no message yet; group: a genesis came first; none: not a group channel. */
  #kind: 'unknown' | 'group' | 'none' = 'unknown';
  #groupId: Uint8Array = new Uint8Array();
  #admin: Uint8Array = new Uint8Array();
  /** The node that orders the group now (the genesis's, or the last handover's). */
  #orderer = '';
  #n = 0;
  #prev: Uint8Array = NO_PREVIOUS;
  /** Submissions the current ordering node has numbered: each is numbered once. */
  readonly #numbered = new Set<string>();
  /** Submissions not numbered yet, in channel order (numbered at once while this node orders). */
  readonly #waiting = new Map<string, Uint8Array>();
  readonly #handovers = new Set<string>();

  constructor(key: OrderingKey, maxPayload: number) {
    this.#key = key;
    this.#maxPayload = maxPayload;
  }

  /** Whether this node orders the group now. */
  get role(): 'unknown' | 'mine' | 'other' {
    if (this.#kind === 'unknown') return 'unknown';
    return this.#kind === 'group' && this.#orderer === this.#key.nodeId ? 'mine' : 'other';
  }

  /** False for a channel that is no group (its first message is no genesis). */
  get isGroup(): boolean {
    return this.#kind !== 'none';
  }

  /** Handshake messages numbered so far. */
  get numbered(): number {
    return this.#n;
  }

  /**
   * Learns from a message without numbering anything. After a restart the whole channel
   * goes through here first: a submission comes before the record that numbered it, and
   * numbering as it goes would number it again.
   */
  learn(payload: Uint8Array): void {
    if (this.#kind === 'unknown') {
      // The channel's first message names the group, its ordering node and its admin.
      const genesis = decodeGenesis(payload);
      if (typeof genesis === 'string') {
        this.#kind = 'none';
        return;
      }
      this.#kind = 'group';
      this.#groupId = genesis.groupId;
      this.#orderer = genesis.orderer;
      this.#admin = genesis.admin;
      return;
    }
    if (this.#kind === 'none') return;
    if (payload[0] === TAG_SUBMISSION && payload.length > 1) {
      const hash = hex(sha256(payload));
      if (!this.#numbered.has(hash) && !this.#waiting.has(hash)) this.#waiting.set(hash, payload);
    } else if (payload[0] === TAG_ORDERED) {
      this.#learnOrdered(payload);
    } else if (payload[0] === TAG_HANDOVER) {
      this.#learnHandover(payload);
    }
  }

  /** Takes the channel's next message, in this node's order: what to publish for it, if anything. */
  take(payload: Uint8Array): SequencerStep[] {
    this.learn(payload);
    return this.flush();
  }

  /** Numbers every submission waiting, if this node orders the group. */
  flush(): SequencerStep[] {
    if (this.role !== 'mine' || this.#waiting.size === 0) return [];
    const steps: SequencerStep[] = [];
    for (const [hash, submission] of this.#waiting) {
      this.#waiting.delete(hash);
      this.#numbered.add(hash);
      const fields = { groupId: this.#groupId, n: this.#n + 1, prev: this.#prev, submission };
      const record = encodeOrdered(signOrdered(fields, this.#key.privateKey, this.#key.publicKey));
      if (record.length > this.#maxPayload) {
        steps.push({ kind: 'refused', reason: `an ordered record of ${record.length} bytes would exceed the largest message (${this.#maxPayload})` });
        continue;
      }
      this.#n = fields.n;
      this.#prev = orderedHash(fields);
      steps.push({ kind: 'publish', payload: record, n: fields.n });
    }
    return steps;
  }

  /** A record of the current ordering node (ours, read back after a restart, or another's). */
  #learnOrdered(payload: Uint8Array): void {
    const record = decodeOrdered(payload);
    // Anyone can put bytes in a channel: only records the current ordering node signed count.
    if (record === undefined || !sameBytes(record.groupId, this.#groupId) || !verifyOrdered(record, this.#orderer)) return;
    const hash = hex(sha256(record.submission));
    this.#numbered.add(hash);
    this.#waiting.delete(hash);
    if (record.n <= this.#n) return;
    this.#n = record.n;
    this.#prev = orderedHash(record);
  }

  /** The admin handed the role over: from its record on, the named node numbers. */
  #learnHandover(payload: Uint8Array): void {
    const key = hex(sha256(payload));
    if (this.#handovers.has(key)) return;
    const handover = decodeHandover(payload);
    if (handover === undefined || !sameBytes(handover.groupId, this.#groupId) || !verifyHandover(handover, this.#admin)) return;
    this.#handovers.add(key);
    this.#orderer = handover.orderer;
    this.#n = handover.afterN;
    this.#prev = handover.afterHash;
  }
}
