import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoder } from 'cbor-x';
import { decodePeerFrame, encodePeerFrame, MAX_PATH_LENGTH, PEER_PROTOCOL_VERSION, type PeerFrame } from './protocol.ts';

const NODE = 'ab'.repeat(16);
const OTHER = 'cd'.repeat(16);
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const raw = (value: unknown) => cbor.encode(value);
/** Bytes as arrays and maps as entries, so decoded Buffers compare equal to Uint8Arrays. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (value instanceof Map) return [...value].map(plain);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}
const message = [1700000000000, 'alice', true, new Uint8Array([1, 2])];
const envelope = (messages: unknown[], overrides: Record<number, unknown> = {}) => {
  const e: unknown[] = [NODE, 7, new Uint8Array(32), messages, new Uint8Array(96)];
  for (const [i, v] of Object.entries(overrides)) e[Number(i)] = v;
  return e;
};
const msgs = (e: unknown[]) => ({ t: 'msgs', ch: 'c', s: 1, e: [e] });

test('every frame survives encoding and decoding', () => {
  const frames: PeerFrame[] = [
    { t: 'hello', v: PEER_PROTOCOL_VERSION, node: NODE, key: new Uint8Array(32).fill(1), nonce: new Uint8Array(32).fill(2), dh: new Uint8Array(32).fill(5) },
    { t: 'proof', sig: new Uint8Array(64).fill(3) },
    { t: 'proof', sig: new Uint8Array(64).fill(3), mac: new Uint8Array(32).fill(4) },
    { t: 'sub', ch: 'lobby', want: [[NODE, OTHER]], have: new Map([[OTHER, 12]]), s: 3 },
    { t: 'sub', ch: 'lobby', want: [[NODE]] },
    { t: 'unsub', ch: 'lobby' },
    { t: 'msgs', ch: 'lobby', s: 3, e: [{ origin: NODE, firstSeq: 7, prev: new Uint8Array(32), messages: [{ ts: 1_700_000_000_000, uid: 'u', binary: false, payload: new Uint8Array([9]) }], seal: new Uint8Array(96) }] },
    { t: 'msgs', ch: 'lobby', s: 3, e: [{ origin: OTHER, firstSeq: 1, prev: new Uint8Array(32).fill(1), messages: [{ ts: 1_700_000_000_000, uid: 'u', binary: true, payload: new Uint8Array(0) }], seal: undefined }] },
  ];
  for (const frame of frames) {
    const decoded = decodePeerFrame(encodePeerFrame(frame), 1024);
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.error);
    assert.deepEqual(plain(decoded.frame), plain(frame));
  }
});

test('malformed frames are refused with a reason', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[1, 2], /must be a CBOR map/],
    [{ t: 'nope' }, /unknown frame type/],
    [{ t: 'hello', v: PEER_PROTOCOL_VERSION, node: 'xyz', key: new Uint8Array(32), nonce: new Uint8Array(32), dh: new Uint8Array(32) }, /node must be a node id/],
    [{ t: 'hello', v: PEER_PROTOCOL_VERSION, node: NODE, key: new Uint8Array(31), nonce: new Uint8Array(32), dh: new Uint8Array(32) }, /key must be 32 bytes/],
    [{ t: 'hello', v: PEER_PROTOCOL_VERSION, node: NODE, key: new Uint8Array(32), nonce: new Uint8Array(32) }, /dh must be bytes/],
    // A hello of the first version has no dh: it is refused by its version, not by a missing field.
    [{ t: 'hello', v: 1, node: NODE, key: new Uint8Array(32), nonce: new Uint8Array(32) }, /peer protocol version 1; this node speaks 3/],
    [{ t: 'proof', sig: 'text' }, /sig must be bytes/],
    [{ t: 'sub', ch: '', want: [] }, /ch must not be empty/],
    [{ t: 'sub', ch: 'caf\u00e9', want: [] }, /ch must be printable ASCII/],
    [{ t: 'unsub', ch: 'a\nb' }, /ch must be printable ASCII/],
    [msgs(envelope([[message[0], '', true, message[3]]])), /uid must not be empty/],
    [msgs(envelope([[message[0], 'bell\u0007', true, message[3]]])), /uid must be printable ASCII/],
    [msgs(envelope([[0, ...message.slice(1)]])), /ts must be a time in ms after 2020/],
    [msgs(envelope([[Date.now() + 3_600_000, ...message.slice(1)]])), /min ahead of this node's clock/],
    [{ t: 'sub', ch: 'c', want: [Array(MAX_PATH_LENGTH + 1).fill(NODE)] }, /want path/],
    [{ t: 'sub', ch: 'c', want: [[NODE]], have: { [NODE]: -1 }, s: 1 }, /have value must be an integer/],
    [{ t: 'sub', ch: 'c', want: [[NODE]], have: {} }, /s must be an integer/],
    [{ t: 'msgs', ch: 'c', e: [envelope([message])] }, /s must be an integer/],
    [{ t: 'msgs', ch: 'c', s: 1, e: [] }, /e must list/],
    [msgs(envelope([])), /an envelope holds 1-4096 messages/],
    [msgs(envelope([message]).slice(0, 4)), /an envelope is \[origin/],
    [msgs(envelope([message.slice(0, 3)])), /each message is \[ts, uid, bin, payload\]/],
    [msgs(envelope([message], { 1: 0 })), /firstSeq must be an integer >= 1/],
    [msgs(envelope([message], { 0: 'xyz' })), /origin must be a node id/],
    [msgs(envelope([[...message.slice(0, 3), new Uint8Array(2000)]])), /payload over 1024 bytes/],
    [msgs(envelope([message], { 2: new Uint8Array(31) })), /prev must be 32 bytes/],
    [msgs(envelope([message], { 4: new Uint8Array(64) })), /seal must be 96 bytes or null/],
    [{ t: 'msgs', ch: 'c', s: 1, e: [envelope(Array(3000).fill(message)), envelope(Array(3000).fill(message))] }, /at most 4096 messages/],
  ];
  for (const [value, reason] of cases) {
    const decoded = decodePeerFrame(raw(value), 1024);
    assert.equal(decoded.ok, false, JSON.stringify(value));
    assert.match((decoded as { error: string }).error, reason);
  }
  assert.deepEqual(decodePeerFrame(Buffer.from([0xff, 0x00]), 1024), { ok: false, error: 'not CBOR' });
});

test('fuzz: random and mutated frames never throw', () => {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const valid = raw(msgs(envelope([message, message])));
  for (let i = 0; i < 20_000; i++) {
    const bytes = i % 2 === 0 ? Buffer.from(valid) : Buffer.alloc(1 + Math.floor(next() * 64));
    const flips = 1 + Math.floor(next() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    const decoded = decodePeerFrame(i % 3 === 0 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes, 1024);
    assert.equal(typeof decoded.ok, 'boolean');
  }
});
