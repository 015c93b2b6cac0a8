import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameKey, ReplayFilter } from './chat-replay.ts';

const key = (text: string, binary = true) => frameKey(Buffer.from(text), binary);

test('a replay repeats frames shown before once each; new frames among them are new', () => {
  const filter = new ReplayFilter();
  assert.equal(filter.seenBefore(key('hi')), false);
  assert.equal(filter.seenBefore(key('hi')), false, 'said twice is two frames');
  filter.remember(key('mine'));
  filter.startReplay();
  assert.equal(filter.seenBefore(key('hi')), true);
  assert.equal(filter.seenBefore(key('mine')), true);
  assert.equal(filter.seenBefore(key('missed while away')), false);
  assert.equal(filter.seenBefore(key('hi')), true);
  assert.equal(filter.seenBefore(key('hi')), false, 'a third "hi" is new');
  filter.endReplay();
  assert.equal(filter.seenBefore(key('mine')), false, 'after the replay, nothing is a repeat');
  assert.notEqual(key('x', true), key('x', false), 'text and binary frames differ');
});

test('only the newest frames are remembered', () => {
  const filter = new ReplayFilter(2);
  for (const text of ['a', 'b', 'c']) filter.seenBefore(key(text));
  filter.startReplay();
  assert.equal(filter.seenBefore(key('a')), false);
  assert.equal(filter.seenBefore(key('b')), true);
  assert.equal(filter.seenBefore(key('c')), true);
});
