import { test } from 'node:test';
import assert from 'node:assert/strict';
import { positionOf, streamSeqOfPosition, StreamPositions } from './stream-positions.ts';

test('positions by channel seq, dropped from the front', () => {
  const p = new StreamPositions();
  p.record('a', 5, positionOf(100, 0));
  p.record('a', 6, positionOf(100, 1));
  p.record('b', 1, positionOf(101, 0));
  p.record('a', 7, positionOf(110, 0));
  assert.equal(p.positionOf('a', 6), positionOf(100, 1));
  assert.equal(p.positionOf('a', 4), undefined);
  assert.equal(p.last('a'), positionOf(110, 0));
  p.dropBefore('a', 7);
  assert.equal(p.first('a'), 7);
  assert.equal(p.positionOf('a', 6), undefined);
  assert.equal(streamSeqOfPosition(p.positionOf('a', 7)!), 110);
  assert.deepEqual([...p.channels()], ['a', 'b']);
});

test('a position orders by stream seq, then by index in the message', () => {
  assert.ok(positionOf(7, 511) < positionOf(8, 0));
  assert.equal(streamSeqOfPosition(positionOf(123_456_789, 300)), 123_456_789);
});
