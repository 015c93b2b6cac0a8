// Content-derived message ids: SHA-256 over a length-prefixed encoding of the fields
// that make a message what it is. Any node computes the same id for the same message,
// so ids deduplicate across nodes; length prefixes keep distinct field splits from
// colliding (unlike Mles auth's plain concatenation).

import { createHash } from 'node:crypto';

export interface IdentifyingFields {
  readonly origin: string;
  readonly channel: string;
  readonly originSeq: number;
  readonly ts: number;
  readonly uid: string;
  readonly binary: boolean;
  readonly payload: Uint8Array;
}

const VERSION = Uint8Array.of(1);

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function field(bytes: Uint8Array): Buffer[] {
  return [u64(bytes.length), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)];
}

export function messageId(m: IdentifyingFields): Uint8Array {
  const hash = createHash('sha256');
  hash.update(VERSION);
  for (const part of [
    ...field(Buffer.from(m.origin)),
    ...field(Buffer.from(m.channel)),
    u64(m.originSeq),
    u64(m.ts),
    ...field(Buffer.from(m.uid)),
    Uint8Array.of(m.binary ? 1 : 0),
    ...field(m.payload),
  ]) {
    hash.update(part);
  }
  return new Uint8Array(hash.digest());
}
