import { test } from 'node:test';
import assert from 'node:assert/strict';
import { payloadOf, relayFrame } from './relay-frame.ts';

test('builds a text frame with a 7-bit length', () => {
  const frame = relayFrame('hi', false);
  assert.equal(frame.wire.toString('hex'), '81026869');
  assert.equal(payloadOf(frame).toString(), 'hi');
  assert.equal(frame.binary, false);
});

test('builds binary frames with 16- and 64-bit lengths', () => {
  const medium = relayFrame(Buffer.alloc(300, 1), true);
  assert.equal(medium.wire.subarray(0, 4).toString('hex'), '827e012c');
  assert.equal(payloadOf(medium).length, 300);
  const large = relayFrame(Buffer.alloc(70_000, 2), true);
  assert.equal(large.wire.subarray(0, 10).toString('hex'), '827f0000000000011170');
  assert.equal(large.size, 70_010);
});

test('copies the payload so the caller may reuse its buffer', () => {
  const source = Buffer.from('abc');
  const frame = relayFrame(source, true);
  source.fill(0);
  assert.equal(payloadOf(frame).toString(), 'abc');
});

test('takes a range of a larger buffer', () => {
  const frame = relayFrame(Buffer.from('xxhelloxx'), false, 2, 7);
  assert.equal(frame.wire.toString('hex'), '810568656c6c6f');
  assert.equal(payloadOf(frame).toString(), 'hello');
});
