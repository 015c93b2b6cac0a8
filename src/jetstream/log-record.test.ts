import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoder } from 'cbor-x';
import { BadRecordError, decodeRecord, decodeRecords, decodeStreamMessage, encodeJoinHeaders, encodeRecord, encodeRecords } from './log-record.ts';

const from = { node: 'n1', ref: 7 };

test('an own publish keeps its fields and the time stamped once', () => {
  const request = { channel: 'c', uid: 'u', binary: true, payload: new Uint8Array([1, 2, 3]), cid: 'x', retry: true };
  const record = decodeRecord('c', encodeRecord(request, 1234, from));
  assert.deepEqual(record.from, from);
  assert.equal(record.request.ts, 1234);
  assert.equal(record.request.uid, 'u');
  assert.equal(record.request.binary, true);
  assert.deepEqual([...record.request.payload], [1, 2, 3]);
  assert.equal(record.request.cid, 'x');
  assert.equal(record.request.retry, true);
  assert.equal(record.request.replica, undefined);
});

test("a peer's message keeps its origin stamp and no time of ours", () => {
  const replica = { origin: 'o', originSeq: 9, ts: 55, id: new Uint8Array(32).fill(1), prev: new Uint8Array(32).fill(2), seal: new Uint8Array(64).fill(3) };
  const record = decodeRecord('c', encodeRecord({ channel: 'c', uid: 'u', binary: false, payload: new Uint8Array(), replica }, 1234, from));
  assert.equal(record.request.ts, undefined);
  const got = record.request.replica!;
  assert.deepEqual({ ...got, id: [...got.id], prev: [...got.prev], seal: [...got.seal!] }, { ...replica, id: [...replica.id], prev: [...replica.prev], seal: [...replica.seal] });
});

test('records that are not parley messages are refused with the reason', () => {
  const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
  assert.throws(() => decodeRecord('c', new Uint8Array([0xff, 0x00])), BadRecordError);
  assert.throws(() => decodeRecord('c', cbor.encode(5)), /not a map/);
  assert.throws(() => decodeRecord('c', cbor.encode({ u: 'u', b: false })), /uid, binary or payload missing/);
  assert.throws(() => decodeRecord('c', cbor.encode({ u: 'u', b: false, p: new Uint8Array() })), /time missing/);
  assert.throws(() => decodeRecord('c', cbor.encode({ u: 'u', b: false, p: new Uint8Array(), x: { o: 'o' } })), /origin stamp incomplete/);
});

test('a run of publishes is one stream message; its records come back in order', () => {
  const items = ['a', 'b', 'c'].map((text, ref) => ({ request: { channel: 'c', uid: 'u', binary: false, payload: Buffer.from(text), cid: text }, from: { node: 'n1', ref } }));
  const records = decodeRecords('c', encodeRecords(items, 99));
  assert.deepEqual(records.map((r) => [Buffer.from(r.request.payload).toString(), r.request.cid, r.request.ts, r.from?.ref]), [
    ['a', 'a', 99, 0],
    ['b', 'b', 99, 1],
    ['c', 'c', 99, 2],
  ]);
  assert.equal(decodeRecords('c', encodeRecord(items[0]!.request, 5, from)).length, 1, 'a lone record is read too');
  assert.throws(() => decodeRecords('c', new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false }).encode([])), /0 records/);
});

test('join headers go as a stream message of their own, which older readers skip as not a record', () => {
  const frames = [new TextEncoder().encode('{"uid":"x","channel":"c"}'), new TextEncoder().encode('{"uid":"y","channel":"c"}')];
  const message = decodeStreamMessage('c', encodeJoinHeaders(frames));
  assert.equal(message.kind, 'joinHeaders');
  assert.deepEqual(message.kind === 'joinHeaders' ? message.frames.map((f) => new TextDecoder().decode(f)) : [], ['{"uid":"x","channel":"c"}', '{"uid":"y","channel":"c"}']);
  assert.throws(() => decodeRecords('c', encodeJoinHeaders(frames)), BadRecordError);
  const records = decodeStreamMessage('c', encodeRecords([{ request: { channel: 'c', uid: 'u', binary: false, payload: new Uint8Array([1]) }, from }], 5));
  assert.equal(records.kind, 'records');
  const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
  assert.throws(() => decodeStreamMessage('c', cbor.encode({ h: ['text'] })), /join headers that are not 1 to 512 byte strings/);
  assert.throws(() => decodeStreamMessage('c', cbor.encode({ h: [] })), BadRecordError);
});
