import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMap, encodeNodeFrame } from './frames.ts';
import { ackLength, messageLength, writeAck, writeMessage, type AckFields, type OutgoingMessage } from './writer.ts';

test('a hand-written msg frame decodes like the one cbor-x writes, field for field', () => {
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
  const cases: OutgoingMessage[] = [
    base,
    { ...base, binary: false, seq: 23, ts: 0, payload: new Uint8Array(0) },
    { ...base, seq: 24, ts: 255 },
    { ...base, seq: 0xffff, ts: 0x10000 },
    { ...base, seq: 0xffffffff, ts: 2 ** 32 },
    { ...base, seq: Number.MAX_SAFE_INTEGER },
    { ...base, channel: 'x'.repeat(1024), uid: 'y'.repeat(255), payload: Buffer.alloc(70_000, 1) },
    { ...base, channel: 'grüße', uid: '日本', origin: 'ø' },
  ];
  for (const m of cases) {
    const out = Buffer.alloc(messageLength(m) + 3, 0xee);
    assert.equal(writeMessage(out, 1, m), out.length - 2, 'writes exactly messageLength bytes');
    assert.equal(out[0], 0xee);
    assert.equal(out[out.length - 1], 0xee);
    const expected = encodeNodeFrame({ t: 'msg', ch: m.channel, seq: m.seq, id: m.id, ts: m.ts, from: m.uid, o: m.origin, bin: m.binary, p: m.payload });
    assert.deepEqual(decodeMap(out.subarray(1, out.length - 2)), decodeMap(expected), m.channel.slice(0, 10));
    assert.equal(typeof decodeMap(out.subarray(1, out.length - 2))?.ts, 'number');
  }
});

test('a hand-written ack decodes like the one cbor-x writes', () => {
  const base: AckFields = { ch: 'room', cid: 'c-1', seq: 7, id: new Uint8Array(32).fill(3), ts: 1_700_000_000_123, dup: false };
  for (const a of [base, { ...base, dup: true, seq: 2 ** 32, ts: 12 }, { ...base, ch: 'ü'.repeat(30), cid: 'x'.repeat(256) }]) {
    const out = Buffer.alloc(ackLength(a) + 2, 0xee);
    assert.equal(writeAck(out, 1, a), out.length - 1);
    assert.equal(out[out.length - 1], 0xee);
    assert.deepEqual(decodeMap(out.subarray(1, out.length - 1)), decodeMap(encodeNodeFrame({ t: 'ack', ...a })));
  }
});
