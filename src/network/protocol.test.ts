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
const message = [NODE, 7, 1700000000000, 'alice', true, new Uint8Array([1, 2]), new Uint8Array(32)];

test('every frame survives encoding and decoding', () => {
  const frames: PeerFrame[] = [
    { t: 'hello', v: PEER_PROTOCOL_VERSION, node: NODE, key: new Uint8Array(32).fill(1), nonce: new Uint8Array(32).fill(2), dh: new Uint8Array(32).fill(5) },
    { t: 'proof', sig: new Uint8Array(64).fill(3) },
    { t: 'proof', sig: new Uint8Array(64).fill(3), mac: new Uint8Array(32).fill(4) },
    { t: 'sub', ch: 'lobby', want: [[NODE, OTHER]], have: new Map([[OTHER, 12]]), s: 3 },
    { t: 'sub', ch: 'lobby', want: [[NODE]] },
    { t: 'unsub', ch: 'lobby' },
    { t: 'msgs', ch: 'lobby', s: 3, m: [{ origin: NODE, originSeq: 7, ts: 1_700_000_000_000, uid: 'u', binary: false, payload: new Uint8Array([9]), id: new Uint8Array(32) }] },
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
    [{ t: 'hello', v: 1, node: NODE, key: new Uint8Array(32), nonce: new Uint8Array(32) }, /peer protocol version 1; this node speaks 2/],
    [{ t: 'proof', sig: 'text' }, /sig must be bytes/],
    [{ t: 'sub', ch: '', want: [] }, /ch must not be empty/],
    [{ t: 'sub', ch: 'caf\u00e9', want: [] }, /ch must be printable ASCII/],
    [{ t: 'unsub', ch: 'a\nb' }, /ch must be printable ASCII/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [[NODE, 1, message[2], '', ...message.slice(4)]] }, /uid must not be empty/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [[NODE, 1, message[2], 'bell\u0007', ...message.slice(4)]] }, /uid must be printable ASCII/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [[NODE, 1, 0, ...message.slice(3)]] }, /ts 0 is before 2020/],
    [{ t: 'sub', ch: 'c', want: [Array(MAX_PATH_LENGTH + 1).fill(NODE)] }, /want path/],
    [{ t: 'sub', ch: 'c', want: [[NODE]], have: { [NODE]: -1 }, s: 1 }, /have value must be an integer/],
    [{ t: 'sub', ch: 'c', want: [[NODE]], have: {} }, /s must be an integer/],
    [{ t: 'msgs', ch: 'c', m: [message] }, /s must be an integer/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [] }, /m must list/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [message.slice(0, 6)] }, /each message must be/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [[NODE, 0, ...message.slice(2)]] }, /originSeq starts at 1/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [[...message.slice(0, 5), new Uint8Array(2000), message[6]]] }, /payload over 1024 bytes/],
    [{ t: 'msgs', ch: 'c', s: 1, m: [[...message.slice(0, 6), new Uint8Array(31)]] }, /id must be 32 bytes/],
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
  const valid = encodePeerFrame({ t: 'msgs', ch: 'lobby', s: 1, m: [{ origin: NODE, originSeq: 7, ts: 1_700_000_000_000, uid: 'u', binary: false, payload: new Uint8Array([9]), id: new Uint8Array(32) }] });
  for (let i = 0; i < 20_000; i++) {
    const bytes = i % 2 === 0 ? Buffer.from(valid) : Buffer.alloc(1 + Math.floor(next() * 64));
    const flips = 1 + Math.floor(next() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
    const decoded = decodePeerFrame(i % 3 === 0 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes, 1024);
    assert.equal(typeof decoded.ok, 'boolean');
  }
});
