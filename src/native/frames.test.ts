import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClientFrame, decodeMap, encodeClientFrame, encodeNodeFrame, errorFrame } from './frames.ts';

const decode = (frame: Record<string, unknown>) => decodeClientFrame(encodeClientFrame(frame));

test('decodes every client frame type with defaults', () => {
  assert.deepEqual(decode({ t: 'hello', uid: 'alice' }), { ok: true, frame: { t: 'hello', uid: 'alice' } });
  assert.deepEqual(decode({ t: 'sub', ch: 'c', after: 5 }), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: 5 } });
  assert.deepEqual(decode({ t: 'sub', ch: 'c' }), { ok: true, frame: { t: 'sub', ch: 'c', auth: undefined, after: undefined } });
  assert.deepEqual(decode({ t: 'unsub', ch: 'c' }), { ok: true, frame: { t: 'unsub', ch: 'c' } });
  const pub = decode({ t: 'pub', ch: 'c', cid: 'x1', p: Buffer.from('hi') });
  assert.ok(pub.ok && pub.frame.t === 'pub');
  assert.deepEqual({ ...pub.frame, p: Buffer.from(pub.frame.p).toString() }, { t: 'pub', ch: 'c', auth: undefined, cid: 'x1', p: 'hi', bin: true, retry: false });
  const query = decode({ t: 'query', qid: 'q', ch: 'c', before: 10, ids: [Buffer.alloc(32)] });
  assert.ok(query.ok && query.frame.t === 'query');
  assert.equal(query.frame.limit, 100);
  assert.equal(query.frame.before, 10);
  assert.equal(query.frame.ids?.length, 1);
});

test('refuses malformed frames with BAD_FRAME and a reason, naming what it was about', () => {
  const cases: Array<[Uint8Array, string]> = [
    [Buffer.from([0xff]), 'not CBOR'],
    [encodeClientFrame({ t: 'hello', uid: 'a' }).subarray(0, 3), 'not CBOR'],
    [Buffer.from([0x83, 1, 2, 3]), 'not a CBOR map'],
    [encodeClientFrame({}), 't must be a frame type'],
    [encodeClientFrame({ t: 'nope' }), 'unknown frame type "nope"'],
    [encodeClientFrame({ t: 'hello', uid: '' }), 'uid must be 1-1024 printable ASCII characters'],
    [encodeClientFrame({ t: 'hello', uid: 'ä' }), 'uid must be 1-1024 printable ASCII characters'],
    [encodeClientFrame({ t: 'pub', ch: 'c', cid: 'x', p: 'text' }), 'p must be a byte string'],
    [encodeClientFrame({ t: 'pub', ch: 'c', p: Buffer.alloc(1) }), 'cid is required'],
    [encodeClientFrame({ t: 'pub', ch: 'c', cid: 'x'.repeat(300), p: Buffer.alloc(1) }), 'cid must be a string of 1-256 characters'],
    [encodeClientFrame({ t: 'pub', ch: 'c', cid: 'x', p: Buffer.alloc(1), bin: 'yes' }), 'bin must be true or false'],
    [encodeClientFrame({ t: 'query', ch: 'c', qid: 'q', limit: -1 }), 'limit must be a whole number >= 0'],
    [encodeClientFrame({ t: 'query', ch: 'c', qid: 'q', limit: 0 }), 'limit must be at least 1'],
    [encodeClientFrame({ t: 'pub', ch: 'c', cid: 'x', p: Buffer.from([0xff]), bin: false }), 'p must be UTF-8 when bin is false'],
    [encodeClientFrame({ t: 'query', ch: 'c', qid: 'q', ids: 'x' }), 'ids must be an array of byte strings'],
    [Buffer.from([0xc1, 0x01]), 'not a CBOR map'], // a tagged value (a date), not a map
  ];
  for (const [bytes, error] of cases) {
    const result = decodeClientFrame(bytes);
    assert.ok(!result.ok, error);
    assert.equal(result.code, 'BAD_FRAME', error);
    assert.equal(result.error, error);
  }
  const about = decodeClientFrame(encodeClientFrame({ t: 'pub', ch: 'room', cid: 'c7', p: 5 }));
  assert.ok(!about.ok);
  assert.deepEqual(about.about, { ch: 'room', cid: 'c7' });
});

test('a malformed cursor is BAD_CURSOR, not BAD_FRAME', () => {
  for (const after of [-1, 1.5, 'x', Number.MAX_SAFE_INTEGER + 2]) {
    const result = decode({ t: 'sub', ch: 'c', after });
    assert.ok(!result.ok && result.code === 'BAD_CURSOR', String(after));
  }
});

test('node frames are plain CBOR maps', () => {
  const bytes = encodeNodeFrame(errorFrame('GAP', { ch: 'c', first: 5, last: 9 }));
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
