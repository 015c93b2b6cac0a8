// The benchmark message: 64 bytes whose first 16 carry what the receiver needs, and a
// batch builder that lays out many masked frames of it in one buffer for one socket write.
//
//   [0, 8)   send time, performance.now() in ms as a float64 LE (same process reads it)
//   [8, 12)  sequence number of the sender, uint32 LE
//   [12, 16) sender index, uint32 LE
//   [16, 64) filler

import { randomBytes } from 'node:crypto';
import { applyMask, headerLength, writeHeader } from '../src/websocket/frame.ts';

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

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Writes `seq` as 8 lowercase hex digits at `out[at]` (unmasked; for templates and tests). */
export function writeHexSeq(out: Uint8Array, at: number, seq: number): void {
  const s = seq >>> 0;
  for (let k = 0; k < 8; k++) out[at + k] = HEX[(s >>> (28 - 4 * k)) & 15] ?? 0;
}

/** Reads 8 hex digits at `buf[at]`; -1 if they are not hex. */
export function readHexSeq(buf: Uint8Array, at: number): number {
  let v = 0;
  for (let k = 0; k < 8; k++) {
    const c = buf[at + k] ?? 0;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Builds batches of one masked client frame whose WebSocket payload is `before` + the
 * 64-byte message + `after` (the protocol's envelope: an MQTT PUBLISH header, a NATS PUB
 * line, a native `pub` map, or nothing for Mles). Per frame only the 4 sequence bytes are
 * written (and, with `hexSeqAt`, the sequence again as 8 hex digits at that offset of the
 * payload: a native client message id or a NATS reply subject); the rest is copied from a
 * template stamped once per batch.
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
  /** Offset in the frame of the 8 hex digits of the sequence, or -1. */
  readonly #hexAt: number;
  /** The mask bytes that fall on those 8 digits. */
  readonly #hexMask: Uint8Array;

  constructor(opcode: number, before: Uint8Array, after: Uint8Array, sender: number, hexSeqAt = -1) {
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
    if (hexSeqAt >= 0 && (hexSeqAt + 8 > payloadLength || (hexSeqAt + 8 > before.length && hexSeqAt < before.length + PAYLOAD_SIZE))) {
      throw new RangeError('the hex sequence must lie in the envelope, outside the message');
    }
    this.#hexAt = hexSeqAt < 0 ? -1 : hl + hexSeqAt;
    this.#hexMask = new Uint8Array(8);
    for (let k = 0; k < 8; k++) this.#hexMask[k] = this.#key[(hexSeqAt + k) & 3] ?? 0;
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
    if (this.#hexAt >= 0) {
      const hm = this.#hexMask;
      let h = this.#hexAt;
      for (let i = 0; i < count; i++, h += len) {
        const s = (seq0 + i) >>> 0;
        for (let k = 0; k < 8; k++) out[h + k] = (HEX[(s >>> (28 - 4 * k)) & 15] ?? 0) ^ (hm[k] ?? 0);
      }
    }
    return out;
  }
}
