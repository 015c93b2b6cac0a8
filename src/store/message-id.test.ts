import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageId, NO_PREV } from './message-id.ts';

const base = { prev: NO_PREV, origin: 'n1', channel: 'c', originSeq: 1, ts: 1000, uid: 'alice', binary: true, payload: Buffer.from('hi') };
const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');

test('is a stable SHA-256 of the fields', () => {
  assert.equal(messageId(base).length, 32);
  assert.equal(hex(messageId(base)), hex(messageId({ ...base, payload: Buffer.from('hi') })));
});

test('matches the pinned vector (computed by an independent implementation): ids must not change between versions, nodes compare them', () => {
  assert.equal(hex(messageId(base)), '77156183c8cf9bf21d851a148d01b834582087bb5a6727cb50ce1ab437d063b0');
});

test('matches the pinned vector for non-ASCII names, a large sequence and a payload past the scratch buffer', () => {
  const m = { prev: new Uint8Array(32).fill(0xab), origin: 'n1', channel: 'café ☕', originSeq: 2 ** 40 + 3, ts: 1_700_000_000_000, uid: 'zoë', binary: false, payload: Buffer.alloc(5000, 9) };
  assert.equal(hex(messageId(m)), '5ae6de16e82c4a77fe34d59bc6a78e0dfda3c95b657c569b419f904d4696add8');
  assert.equal(hex(messageId(base)), '77156183c8cf9bf21d851a148d01b834582087bb5a6727cb50ce1ab437d063b0', 'the scratch buffer is reused correctly after growing');
});

test('every field changes the id, and field boundaries matter', () => {
  const variants = [
    { prev: new Uint8Array(32).fill(1) },
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
