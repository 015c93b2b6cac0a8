import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipHash24 } from './siphash.ts';

// Reference vectors from the SipHash paper (Appendix A): key 00..0f, messages 00..(n-1).
const paperKey = Uint8Array.from({ length: 16 }, (_, i) => i);
const paperVectors: Array<[number, bigint]> = [
  [0, 0x726fdb47dd0e0e31n],
  [1, 0x74f839c593dc67fdn],
  [7, 0xab0200f58b01d137n],
  [8, 0x93f5f5799a932462n],
  [15, 0xa129ca6149be45e5n],
];

test('matches the SipHash-2-4 paper vectors', () => {
  for (const [len, expected] of paperVectors) {
    const msg = Uint8Array.from({ length: len }, (_, i) => i);
    assert.equal(sipHash24(msg, paperKey), expected, `length ${len}`);
  }
});

test('rejects a key that is not 16 bytes', () => {
  assert.throws(() => sipHash24(new Uint8Array(1), new Uint8Array(8)), RangeError);
});
