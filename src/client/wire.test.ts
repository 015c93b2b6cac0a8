import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClientFrame, encodeClientFrame, encodeNodeFrame } from '../native/frames.ts';
import { decodeFrames, encodeFrame } from './wire.ts';

/** The one frame of a WebSocket message, as decodeFrames gives it. */
function decodeFrame(data: Uint8Array) {
  const decoded = decodeFrames(data);
  if (!decoded.ok) return decoded;
  assert.equal(decoded.frames.length, 1);
  return { ok: true as const, frame: decoded.frames[0]! };
}

/** Byte arrays as plain arrays, so Buffers and Uint8Arrays compare equal. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, plain(v)]));
  return value;
}

const message = { ch: 'c', seq: 1, id: new Uint8Array(32), ts: 5, from: 'a', o: 'n', bin: true, p: new Uint8Array([1, 2]) };

test('client frames encode to what the node decodes, absent fields left out', () => {
  const bytes = encodeFrame({ t: 'sub', ch: 'c', auth: undefined, after: 0 });
  assert.deepEqual(decodeClientFrame(bytes), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: 0 } });
  const pub = decodeClientFrame(encodeFrame({ t: 'pub', ch: 'c', cid: 'x-1', p: new Uint8Array([7]), bin: false, retry: true }));
  assert.ok(pub.ok && pub.frame.t === 'pub');
  assert.equal(pub.frame.retry, true);
  assert.equal(pub.frame.bin, false);
  assert.deepEqual([...pub.frame.p], [7]);
  // No undefined values on the wire (0xf7).
  assert.ok(!Buffer.from(encodeFrame({ t: 'query', qid: 'q', ch: 'c', after: undefined, limit: 5 })).includes(0xf7));
});

test('decodes every node frame type', () => {
  const cases: Array<[Record<string, unknown>, unknown]> = [
    [{ t: 'welcome', v: 1, node: 'n', max: 100 }, { t: 'welcome', v: 1, node: 'n', max: 100 }],
    [{ t: 'live', ch: 'c', last: 0 }, { t: 'live', ch: 'c', last: 0 }],
    [{ t: 'unsubbed', ch: 'c' }, { t: 'unsubbed', ch: 'c' }],
    [{ t: 'ack', ch: 'c', cid: 'x', seq: 3, id: new Uint8Array(32), ts: 9, dup: false }, { t: 'ack', ch: 'c', cid: 'x', seq: 3, id: new Uint8Array(32), ts: 9, dup: false }],
    [{ t: 'err', code: 'GAP', msg: 'gap', ch: 'c', first: 4, last: 9 }, { t: 'err', code: 'GAP', msg: 'gap', ch: 'c', cid: undefined, qid: undefined, first: 4, last: 9 }],
    [
      { t: 'err', code: 'STORE_FAILED', msg: 'store full', ch: 'c', cid: 'x', store: 'full' },
      { t: 'err', code: 'STORE_FAILED', msg: 'store full', ch: 'c', cid: 'x', qid: undefined, first: undefined, last: undefined, store: 'full' },
    ],
  ];
  for (const [frame, expected] of cases) {
    const decoded = decodeFrame(encodeNodeFrame(frame as never));
    assert.ok(decoded.ok, JSON.stringify(frame));
    assert.deepEqual(plain(decoded.frame), plain(expected));
  }
  const msg = decodeFrame(encodeNodeFrame({ t: 'msg', ...message }));
  assert.ok(msg.ok && msg.frame.t === 'msg');
  assert.deepEqual({ ...msg.frame.message, id: [...msg.frame.message.id], payload: [...msg.frame.message.payload] }, {
    channel: 'c', seq: 1, id: [...new Uint8Array(32)], ts: 5, from: 'a', origin: 'n', binary: true, payload: [1, 2],
  });
  const page = decodeFrame(encodeNodeFrame({ t: 'page', qid: 'q', ch: 'c', msgs: [message, { ...message, seq: 2 }], first: 1, last: false, next: 2 }));
  assert.ok(page.ok && page.frame.t === 'page');
  assert.deepEqual(page.frame.msgs.map((m) => m.seq), [1, 2]);
  assert.equal(page.frame.next, 2);
});

test('decodes a WebSocket message holding several node frames back to back', () => {
  const frames = [1, 2, 3].map((seq) => encodeNodeFrame({ t: 'msg', ...message, seq }));
  const decoded = decodeFrames(Buffer.concat(frames));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.frames.map((f) => (f.t === 'msg' ? f.message.seq : 0)), [1, 2, 3]);
  const single = decodeFrames(frames[0]!);
  assert.ok(single.ok && single.frames.length === 1);
  // One bad frame fails the whole message, with the reason of that frame.
  const bad = decodeFrames(Buffer.concat([frames[0]!, encodeClientFrame({ t: 'msg', ...message, seq: 0 })]));
  assert.ok(!bad.ok);
  assert.match(bad.reason, /seq must be at least 1/);
  for (const bytes of [new Uint8Array(0), new Uint8Array([0xa1]), Buffer.concat([frames[0]!, Buffer.from([0x01])])]) {
    assert.deepEqual(decodeFrames(bytes), { ok: false, reason: 'not a CBOR map, nor a sequence of them' });
  }
});

test('refuses malformed node frames with a reason, never throws', () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([0xff]), /not a CBOR map/],
    [encodeClientFrame({ t: 'nope' }), /unknown frame type "nope"/],
    [encodeClientFrame({ t: 'msg', ...message, seq: 0 }), /seq must be at least 1/],
    [encodeClientFrame({ t: 'msg', ...message, p: 'text' }), /p must be a byte string/],
    [encodeClientFrame({ t: 'ack', ch: 'c', cid: 'x', seq: -1, id: new Uint8Array(32), ts: 1, dup: false }), /seq must be a whole number/],
    [encodeClientFrame({ t: 'page', qid: 'q', ch: 'c', msgs: [1], first: 1, last: true }), /msgs\[0\] must be a map/],
    [encodeClientFrame({ t: 'welcome', v: 1, node: 'n' }), /max must be a whole number/],
    [encodeClientFrame({ t: 'err', msg: 'x' }), /code must be a string/],
  ];
  for (const [bytes, reason] of cases) {
    const decoded = decodeFrame(bytes);
    assert.ok(!decoded.ok);
    assert.match(decoded.reason, reason);
  }
});
