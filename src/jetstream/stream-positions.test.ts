import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamPositions } from './stream-positions.ts';

test('positions by channel seq, dropped from the front', () => {
  const p = new StreamPositions();
  p.record('a', 5, 100);
  p.record('a', 6, 104);
  p.record('b', 1, 101);
  p.record('a', 7, 110);
  assert.equal(p.streamSeqOf('a', 6), 104);
  assert.equal(p.streamSeqOf('a', 4), undefined);
  assert.equal(p.last('a'), 110);
  p.dropBefore('a', 7);
  assert.equal(p.first('a'), 7);
  assert.equal(p.streamSeqOf('a', 6), undefined);
  assert.equal(p.streamSeqOf('a', 7), 110);
  assert.deepEqual([...p.channels()], ['a', 'b']);
});
