import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClientFrame, decodeMap, decodeNodeFrames, encodeFrame, encodeMap, errorFrame } from './frames.ts';

const decode = (frame: Record<string, unknown>) => decodeClientFrame(encodeMap(frame));

test('decodes every client frame type with defaults', () => {
  assert.deepEqual(decode({ t: 'hello', uid: 'alice' }), { ok: true, frame: { t: 'hello', uid: 'alice' } });
  assert.deepEqual(decode({ t: 'sub', ch: 'c', after: 5 }), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: 5, presence: false } });
  assert.deepEqual(decode({ t: 'sub', ch: 'c' }), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: undefined, presence: false } });
  assert.deepEqual(decode({ t: 'unsub', ch: 'c' }), { ok: true, frame: { t: 'unsub', ch: 'c' } });
  const pub = decode({ t: 'pub', ch: 'c', cid: 'x1', p: Buffer.from('hi') });
  assert.ok(pub.ok && pub.frame.t === 'pub');
  assert.deepEqual({ ...pub.frame, p: Buffer.from(pub.frame.p).toString() }, { t: 'pub', ch: 'c', auth: undefined, cid: 'x1', p: 'hi', bin: true, retry: false });
  const query = decode({ t: 'query', qid: 'q', ch: 'c', before: 10, ids: [Buffer.alloc(32)] });
  assert.ok(query.ok && query.frame.t === 'query');
  assert.equal(query.frame.limit, 100);
  assert.equal(query.frame.before, 10);
  assert.equal(query.frame.ids?.length, 1);
  assert.deepEqual(decode({ t: 'public', qid: 'l1', ch: 'c' }), { ok: true, frame: { t: 'public', qid: 'l1', ch: 'c', about: '', auth: undefined } });
  assert.deepEqual(decode({ t: 'public', qid: 'l1', ch: 'c', about: 'All welcome', auth: '00ff' }), {
    ok: true,
    frame: { t: 'public', qid: 'l1', ch: 'c', about: 'All welcome', auth: '00ff' },
  });
  assert.deepEqual(decode({ t: 'unpublic', qid: 'u1', ch: 'c', auth: '00ff' }), { ok: true, frame: { t: 'unpublic', qid: 'u1', ch: 'c', auth: '00ff' } });
});

test('refuses malformed frames with BAD_FRAME and a reason, naming what it was about', () => {
  const cases: Array<[Uint8Array, string]> = [
    [Buffer.from([0xff]), 'not CBOR'],
    [encodeMap({ t: 'hello', uid: 'a' }).subarray(0, 3), 'not CBOR'],
    [Buffer.from([0x83, 1, 2, 3]), 'not a CBOR map'],
    [encodeMap({}), 't must be a frame type'],
    [encodeMap({ t: 'nope' }), 'unknown frame type "nope"'],
    [encodeMap({ t: 'hello', uid: '' }), 'uid must be 1-1024 printable ASCII characters'],
    [encodeMap({ t: 'hello', uid: 'ä' }), 'uid must be 1-1024 printable ASCII characters'],
    [encodeMap({ t: 'pub', ch: 'c', cid: 'x', p: 'text' }), 'p must be a byte string'],
    [encodeMap({ t: 'pub', ch: 'c', p: Buffer.alloc(1) }), 'cid is required'],
    [encodeMap({ t: 'pub', ch: 'c', cid: 'x'.repeat(300), p: Buffer.alloc(1) }), 'cid must be a string of 1-256 characters'],
    [encodeMap({ t: 'pub', ch: 'c', cid: 'x', p: Buffer.alloc(1), bin: 'yes' }), 'bin must be true or false'],
    [encodeMap({ t: 'query', ch: 'c', qid: 'q', limit: -1 }), 'limit must be a whole number >= 0'],
    [encodeMap({ t: 'query', ch: 'c', qid: 'q', limit: 0 }), 'limit must be at least 1'],
    [encodeMap({ t: 'pub', ch: 'c', cid: 'x', p: Buffer.from([0xff]), bin: false }), 'p must be UTF-8 when bin is false'],
    [encodeMap({ t: 'query', ch: 'c', qid: 'q', ids: 'x' }), 'ids must be an array of byte strings'],
    [encodeMap({ t: 'public', ch: 'c' }), 'qid is required'],
    [encodeMap({ t: 'unpublic', ch: 'c' }), 'qid is required'],
    [encodeMap({ t: 'public', qid: 'l', ch: 'c', about: 7 }), 'about must be a string'],
    [encodeMap({ t: 'public', qid: 'l', ch: 'c', about: 'x'.repeat(281) }), 'about must be at most 280 characters'],
    [Buffer.from([0xc1, 0x01]), 'not a CBOR map'], // a tagged value (a date), not a map
  ];
  for (const [bytes, error] of cases) {
    const result = decodeClientFrame(bytes);
    assert.ok(!result.ok, error);
    assert.equal(result.code, 'BAD_FRAME', error);
    assert.equal(result.error, error);
  }
  const about = decodeClientFrame(encodeMap({ t: 'pub', ch: 'room', cid: 'c7', p: 5 }));
  assert.ok(!about.ok);
  assert.deepEqual(about.about, { ch: 'room', cid: 'c7' });
});

test('a malformed cursor is BAD_CURSOR, not BAD_FRAME', () => {
  for (const after of [-1, 1.5, 'x', Number.MAX_SAFE_INTEGER + 2]) {
    const result = decode({ t: 'sub', ch: 'c', after });
    assert.ok(!result.ok && result.code === 'BAD_CURSOR', String(after));
  }
});

test('node frames are plain CBOR maps, the bytes as ever', () => {
  // cbor-x heads each map with a two-byte count (0xb9); these bytes are what clients get.
  assert.equal(encodeFrame({ t: 'live', ch: 'c', last: 3 }).toString('hex'), 'b90003' + '6174' + '646c697665' + '626368' + '6163' + '646c617374' + '03');
  assert.equal(
    encodeFrame({ t: 'welcome', v: 1, node: 'n', max: 65536 }).toString('hex'),
    'b90004' + '6174' + '6777656c636f6d65' + '6176' + '01' + '646e6f6465' + '616e' + '636d6178' + '1a00010000',
  );
  assert.equal(
    encodeFrame({ t: 'page', qid: 'q', ch: 'c', msgs: [], first: 1, last: true, next: undefined }).toString('hex'),
    'b90006' + '6174' + '6470616765' + '63716964' + '6171' + '626368' + '6163' + '646d736773' + '80' + '656669727374' + '01' + '646c617374' + 'f5',
  );
  const bytes = encodeFrame(errorFrame('GAP', { ch: 'c', first: 5, last: 9 }));
  assert.deepEqual(decodeMap(bytes), {
    t: 'err',
    code: 'GAP',
    msg: 'messages after the cursor were removed by retention; first is the oldest still stored',
    ch: 'c',
    first: 5,
    last: 9,
  });
  assert.equal(decodeMap(Buffer.from([0xff])), undefined);
});

// ---- the client's side: node frames in, client frames out ----

/** The one frame of a WebSocket message, as decodeNodeFrames gives it. */
function decodeFrame(data: Uint8Array) {
  const decoded = decodeNodeFrames(data);
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
  assert.deepEqual(decodeClientFrame(bytes), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: 0, presence: false } });
  const watching = encodeFrame({ t: 'sub', ch: 'c', presence: true });
  assert.deepEqual(decodeClientFrame(watching), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: undefined, presence: true } });
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
    [{ t: 'listed', qid: 'l1', ch: 'c', about: 'hi' }, { t: 'listed', qid: 'l1', ch: 'c', about: 'hi' }],
    [{ t: 'ack', ch: 'c', cid: 'x', seq: 3, id: new Uint8Array(32), ts: 9, dup: false }, { t: 'ack', ch: 'c', cid: 'x', seq: 3, id: new Uint8Array(32), ts: 9, dup: false }],
    [{ t: 'err', code: 'GAP', msg: 'gap', ch: 'c', first: 4, last: 9 }, { t: 'err', code: 'GAP', msg: 'gap', ch: 'c', cid: undefined, qid: undefined, first: 4, last: 9 }],
    [
      { t: 'err', code: 'STORE_FAILED', msg: 'store full', ch: 'c', cid: 'x', store: 'full' },
      { t: 'err', code: 'STORE_FAILED', msg: 'store full', ch: 'c', cid: 'x', qid: undefined, first: undefined, last: undefined, store: 'full' },
    ],
  ];
  for (const [frame, expected] of cases) {
    const decoded = decodeFrame(encodeMap(frame));
    assert.ok(decoded.ok, JSON.stringify(frame));
    assert.deepEqual(plain(decoded.frame), plain(expected));
  }
  const msg = decodeFrame(encodeFrame({ t: 'msg', ...message }));
  assert.ok(msg.ok && msg.frame.t === 'msg');
  assert.deepEqual(plain(msg.frame), plain({ t: 'msg', ...message }));
  const page = decodeFrame(encodeFrame({ t: 'page', qid: 'q', ch: 'c', msgs: [message, { ...message, seq: 2 }], first: 1, last: false, next: 2 }));
  assert.ok(page.ok && page.frame.t === 'page');
  assert.deepEqual(page.frame.msgs.map((m) => m.seq), [1, 2]);
  assert.equal(page.frame.next, 2);
});

test('decodes a WebSocket message holding several node frames back to back', () => {
  const frames = [1, 2, 3].map((seq) => encodeFrame({ t: 'msg', ...message, seq }));
  const decoded = decodeNodeFrames(Buffer.concat(frames));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.frames.map((f) => (f.t === 'msg' ? f.seq : 0)), [1, 2, 3]);
  const single = decodeNodeFrames(frames[0]!);
  assert.ok(single.ok && single.frames.length === 1);
  // One bad frame fails the whole message, with the reason of that frame.
  const bad = decodeNodeFrames(Buffer.concat([frames[0]!, encodeMap({ t: 'msg', ...message, seq: 0 })]));
  assert.ok(!bad.ok);
  assert.match(bad.reason, /seq must be at least 1/);
  for (const bytes of [new Uint8Array(0), new Uint8Array([0xa1]), Buffer.concat([frames[0]!, Buffer.from([0x01])])]) {
    assert.deepEqual(decodeNodeFrames(bytes), { ok: false, reason: 'not a CBOR map, nor a sequence of them' });
  }
});

test('refuses malformed node frames with a reason, never throws', () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([0xff]), /not a CBOR map/],
    [encodeMap({ t: 'nope' }), /unknown frame type "nope"/],
    [encodeMap({ t: 'msg', ...message, seq: 0 }), /seq must be at least 1/],
    [encodeMap({ t: 'msg', ...message, p: 'text' }), /p must be a byte string/],
    [encodeMap({ t: 'ack', ch: 'c', cid: 'x', seq: -1, id: new Uint8Array(32), ts: 1, dup: false }), /seq must be a whole number/],
    [encodeMap({ t: 'page', qid: 'q', ch: 'c', msgs: [1], first: 1, last: true }), /msgs\[0\] must be a map/],
    [encodeMap({ t: 'welcome', v: 1, node: 'n' }), /max must be a whole number/],
    [encodeMap({ t: 'err', msg: 'x' }), /code must be a string/],
  ];
  for (const [bytes, reason] of cases) {
    const decoded = decodeFrame(bytes);
    assert.ok(!decoded.ok);
    assert.match(decoded.reason, reason);
  }
});
