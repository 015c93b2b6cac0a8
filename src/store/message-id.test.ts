import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageId } from './message-id.ts';

const base = { origin: 'n1', channel: 'c', originSeq: 1, ts: 1000, uid: 'alice', binary: true, payload: Buffer.from('hi') };
const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');

test('is a stable SHA-256 of the fields', () => {
  assert.equal(messageId(base).length, 32);
  assert.equal(hex(messageId(base)), hex(messageId({ ...base, payload: Buffer.from('hi') })));
});

test('matches the pinned vector: ids must not change between versions, nodes compare them', () => {
  assert.equal(hex(messageId(base)), 'cdccc61142836f6079dc9ad0c25f76fc4ba19374217553159bca811dd978f699');
});

test('matches the pinned vector for non-ASCII names, a large sequence and a payload past the scratch buffer', () => {
  const m = { origin: 'n1', channel: 'café ☕', originSeq: 2 ** 40 + 3, ts: 1_700_000_000_000, uid: 'zoë', binary: false, payload: Buffer.alloc(5000, 9) };
  assert.equal(hex(messageId(m)), '7a6b7e755916da34ac583982731e327f9982e4fda015136e136427cbe47b16f4');
  assert.equal(hex(messageId(base)), 'cdccc61142836f6079dc9ad0c25f76fc4ba19374217553159bca811dd978f699', 'the scratch buffer is reused correctly after growing');
});

test('every field changes the id, and field boundaries matter', () => {
  const variants = [
    { origin: 'n2' },
    { channel: 'd' },
    { originSeq: 2 },
    { ts: 1001 },
    { uid: 'bob' },
    { binary: false },
    { payload: Buffer.from('ho') },
  ];
  const ids = new Set([hex(messageId(base)), ...variants.map((v) => hex(messageId({ ...base, ...v })))]);
  assert.equal(ids.size, variants.length + 1);
  // The Mles auth concatenation is ambiguous; ids are not.
  assert.notEqual(hex(messageId({ ...base, origin: 'n1c', channel: 'c' })), hex(messageId({ ...base, origin: 'n1', channel: 'cc' })));
});
