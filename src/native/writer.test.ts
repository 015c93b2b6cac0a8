import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK_KEYS, decodeMap, encodeFrame, MESSAGE_KEYS } from './frames.ts';
import { ackLength, messageLength, wireMessage, writeAck, writeMessage, type AckFields, type OutgoingMessage } from './writer.ts';

const base: OutgoingMessage = {
  channel: 'room',
  seq: 1,
  id: new Uint8Array(32).fill(9),
  ts: 1_700_000_000_123,
  uid: 'alice',
  origin: '0123456789abcdef0123456789abcdef',
  binary: true,
  payload: Buffer.from('hello'),
};
const messages: OutgoingMessage[] = [
  base,
  { ...base, binary: false, seq: 23, ts: 0, payload: new Uint8Array(0) },
  { ...base, seq: 24, ts: 255 },
  { ...base, seq: 0xffff, ts: 0x10000 },
  { ...base, seq: 0xffffffff, ts: 2 ** 32 },
  { ...base, seq: Number.MAX_SAFE_INTEGER },
  { ...base, channel: 'x'.repeat(1024), uid: 'y'.repeat(255), payload: Buffer.alloc(70_000, 1) },
  { ...base, channel: 'grüße', uid: '日本', origin: 'ø' },
];
/**
 * The schema's encoder (cbor-x) writes every map's count in two more bytes (0xb9 and a
 * uint16) than it needs; the writer writes it in the head byte. Everything after the
 * head is the same bytes: this gives the schema's encoding with the shortest head.
 */
function shortestHead(encoded: Uint8Array): Buffer {
  assert.equal(encoded[0], 0xb9, 'cbor-x heads a map with a two-byte count');
  const count = (encoded[1]! << 8) | encoded[2]!;
  assert.ok(count < 24);
  return Buffer.concat([Buffer.from([0xa0 | count]), encoded.subarray(3)]);
}

const acks: AckFields[] = [
  { ch: 'room', cid: 'c-1', seq: 7, id: new Uint8Array(32).fill(3), ts: 1_700_000_000_123, dup: false },
  { ch: 'room', cid: 'c-1', seq: 2 ** 32, id: new Uint8Array(32).fill(3), ts: 12, dup: true },
  { ch: 'ü'.repeat(30), cid: 'x'.repeat(256), seq: 7, id: new Uint8Array(32), ts: 1, dup: false },
];

test('a wire message has the keys of the schema, in its order', () => {
  assert.deepEqual(Object.keys(wireMessage(base)), [...MESSAGE_KEYS]);
  assert.deepEqual(Object.keys(decodeMap(encodeFrame({ t: 'ack', ...acks[0]! }))!), ['t', ...ACK_KEYS]);
});

test('the hand-written msg frame is the bytes the schema encodes, but for the map head', () => {
  for (const m of messages) {
    const out = Buffer.alloc(messageLength(m) + 3, 0xee);
    assert.equal(writeMessage(out, 1, m), out.length - 2, 'writes exactly messageLength bytes');
    assert.equal(out[0], 0xee);
    assert.equal(out[out.length - 1], 0xee);
    const written = out.subarray(1, out.length - 2);
    assert.deepEqual(written, shortestHead(encodeFrame({ t: 'msg', ...wireMessage(m) })), m.channel.slice(0, 10));
    assert.equal(typeof decodeMap(written)?.ts, 'number');
  }
});

test('the hand-written ack is the bytes the schema encodes, but for the map head', () => {
  for (const a of acks) {
    const out = Buffer.alloc(ackLength(a) + 2, 0xee);
    assert.equal(writeAck(out, 1, a), out.length - 1);
    assert.equal(out[out.length - 1], 0xee);
    assert.deepEqual(out.subarray(1, out.length - 1), shortestHead(encodeFrame({ t: 'ack', ...a })));
  }
});

test('pinned bytes: a msg and an ack as the node writes them', () => {
  const m: OutgoingMessage = { channel: 'c', seq: 300, id: new Uint8Array([1, 2]), ts: 2 ** 32, uid: 'u', origin: 'n', binary: false, payload: new Uint8Array([0xff]) };
  const msg = Buffer.alloc(messageLength(m));
  writeMessage(msg, 0, m);
  // "t" "msg" | "ch" "c" | "seq" 300 | "id" h'0102' | "ts" 2^32 (a float64) | "from" "u" | "o" "n" | "bin" false | "p" h'ff'
  assert.equal(
    msg.toString('hex'),
    'a9' + '6174636d7367' + '626368' + '6163' + '63736571' + '19012c' + '626964' + '420102' + '627473' + 'fb41f0000000000000' +
      '6466726f6d' + '6175' + '616f' + '616e' + '6362696e' + 'f4' + '6170' + '41ff',
  );
  const a: AckFields = { ch: 'c', cid: 'x', seq: 1, id: new Uint8Array([7]), ts: 5, dup: true };
  const ack = Buffer.alloc(ackLength(a));
  writeAck(ack, 0, a);
  // "t" "ack" | "ch" "c" | "cid" "x" | "seq" 1 | "id" h'07' | "ts" 5 | "dup" true
  assert.equal(ack.toString('hex'), 'a7' + '6174' + '6361636b' + '626368' + '6163' + '63636964' + '6178' + '63736571' + '01' + '626964' + '4107' + '627473' + '05' + '63647570' + 'f5');
});
