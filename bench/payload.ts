// The benchmark message: 64 bytes whose first 16 carry what the receiver needs, and a
// batch builder that lays out many masked frames of it in one buffer for one socket write.
//
//   [0, 8)   send time, performance.now() in ms as a float64 LE (same process reads it)
//   [8, 12)  sequence number of the sender, uint32 LE
//   [12, 16) sender index, uint32 LE
//   [16, 64) filler

import { randomBytes } from 'node:crypto';
import { applyMask, headerLength, writeHeader } from '../src/protocol/ws-frame.ts';

export const PAYLOAD_SIZE = 64;
export const TS_OFFSET = 0;
export const SEQ_OFFSET = 8;
export const SENDER_OFFSET = 12;

export function payloadTime(buf: Buffer, at: number): number {
  return buf.readDoubleLE(at + TS_OFFSET);
}

export function payloadSeq(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + SEQ_OFFSET);
}

export function payloadSender(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + SENDER_OFFSET);
}

/** A plain (unmasked) payload, for tests and for building protocol templates. */
export function makePayload(time: number, seq: number, sender: number): Buffer {
  const p = Buffer.alloc(PAYLOAD_SIZE, 0x2e);
  p.writeDoubleLE(time, TS_OFFSET);
  p.writeUInt32LE(seq >>> 0, SEQ_OFFSET);
  p.writeUInt32LE(sender >>> 0, SENDER_OFFSET);
  return p;
}

/**
 * Builds batches of one masked client frame whose WebSocket payload is `before` + the
 * 64-byte message + `after` (the protocol's envelope: an MQTT PUBLISH header, a NATS PUB
 * line, or nothing for Mles). Per frame only the 4 sequence bytes are written; the rest
 * is copied from a template stamped once per batch.
 */
export class FrameBatcher {
  readonly frameLength: number;
  readonly #template: Buffer;
  readonly #key: Buffer;
  /** Offset of the message inside the frame. */
  readonly #msgAt: number;
  /** Offset of the message inside the masked payload (for the mask phase). */
  readonly #msgInPayload: number;
  readonly #sender: number;

  constructor(opcode: number, before: Uint8Array, after: Uint8Array, sender: number) {
    const payloadLength = before.length + PAYLOAD_SIZE + after.length;
    const hl = headerLength(payloadLength, true);
    this.frameLength = hl + payloadLength;
    this.#key = randomBytes(4);
    this.#template = Buffer.allocUnsafe(this.frameLength);
    writeHeader(this.#template, 0, opcode, payloadLength, this.#key);
    this.#template.set(before, hl);
    this.#msgAt = hl + before.length;
    this.#msgInPayload = before.length;
    this.#template.fill(0x2e, this.#msgAt, this.#msgAt + PAYLOAD_SIZE);
    this.#template.writeUInt32LE(sender >>> 0, this.#msgAt + SENDER_OFFSET);
    this.#template.set(after, this.#msgAt + PAYLOAD_SIZE);
    applyMask(this.#template, hl, this.frameLength, this.#key);
    this.#sender = sender;
  }

  get sender(): number {
    return this.#sender;
  }

  /** `count` frames carrying sequence numbers `seq0`, `seq0 + 1`, ... and send time `now`. */
  build(count: number, now: number, seq0: number): Buffer {
    const len = this.frameLength;
    const out = Buffer.allocUnsafe(count * len);
    this.#template.copy(out, 0);
    // Stamp the time once (masked with this template's fixed mask phase), then replicate.
    const k = this.#key;
    const ts = this.#msgAt + TS_OFFSET;
    out.writeDoubleLE(now, ts);
    const phase = this.#msgInPayload + TS_OFFSET;
    for (let i = 0; i < 8; i++) out[ts + i] = (out[ts + i] ?? 0) ^ (k[(phase + i) & 3] ?? 0);
    let filled = len;
    const total = count * len;
    while (filled < total) {
      const n = Math.min(filled, total - filled);
      out.copy(out, filled, 0, n);
      filled += n;
    }
    const sq = this.#msgInPayload + SEQ_OFFSET;
    const m0 = k[sq & 3] ?? 0;
    const m1 = k[(sq + 1) & 3] ?? 0;
    const m2 = k[(sq + 2) & 3] ?? 0;
    const m3 = k[(sq + 3) & 3] ?? 0;
    let at = this.#msgAt + SEQ_OFFSET;
    for (let i = 0; i < count; i++, at += len) {
      const s = (seq0 + i) >>> 0;
      out[at] = (s & 0xff) ^ m0;
      out[at + 1] = ((s >>> 8) & 0xff) ^ m1;
      out[at + 2] = ((s >>> 16) & 0xff) ^ m2;
      out[at + 3] = (s >>> 24) ^ m3;
    }
    return out;
  }
}
