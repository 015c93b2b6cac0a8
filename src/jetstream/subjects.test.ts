import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelOfSubject, channelSubject, dedupId, streamSubjects } from './subjects.ts';

test('every channel name maps to one subject token and back', () => {
  for (const channel of ['lobby', 'a.b', '*', '>', 'with space', '~!@#$%^&*()_+{}|:"<>?`-=[]\\;\',./', 'x'.repeat(1024)]) {
    const subject = channelSubject('PARLEY', channel);
    assert.match(subject, /^PARLEY\.c\.[A-Za-z0-9_-]+$/);
    assert.equal(channelOfSubject('PARLEY', subject), channel);
  }
  assert.equal(channelSubject('PARLEY', 'lobby'), 'PARLEY.c.bG9iYnk');
  assert.equal(streamSubjects('PARLEY'), 'PARLEY.c.>');
});

test('subjects not made for a channel are not taken for one', () => {
  assert.equal(channelOfSubject('PARLEY', 'OTHER.c.bG9iYnk'), undefined);
  assert.equal(channelOfSubject('PARLEY', 'PARLEY.c.a.b'), undefined);
  assert.equal(channelOfSubject('PARLEY', 'PARLEY.c.'), undefined);
});

test('dedup ids: by client id per channel and uid, by origin seq for a peer message, none otherwise', () => {
  const base = { channel: 'c', uid: 'u', binary: false, payload: new Uint8Array() };
  assert.equal(dedupId(base), undefined);
  const a = dedupId({ ...base, cid: '1' });
  assert.equal(dedupId({ ...base, cid: '1', payload: new Uint8Array([1]) }), a);
  assert.notEqual(dedupId({ ...base, uid: 'v', cid: '1' }), a);
  assert.notEqual(dedupId({ ...base, channel: 'd', cid: '1' }), a);
  const stamp = { origin: 'o', originSeq: 5, ts: 1, id: new Uint8Array(32), prev: new Uint8Array(32) };
  assert.equal(dedupId({ ...base, replica: stamp }), dedupId({ ...base, uid: 'w', replica: stamp }));
  assert.notEqual(dedupId({ ...base, replica: stamp }), dedupId({ ...base, replica: { ...stamp, originSeq: 6 } }));
});
