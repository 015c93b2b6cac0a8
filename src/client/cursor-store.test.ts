import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryCursorStore } from './cursor-store.ts';

test('memory store: get what was set, per channel', () => {
  const store = new MemoryCursorStore([['a', 3]]);
  assert.equal(store.get('a'), 3);
  assert.equal(store.get('b'), undefined);
  store.set('b', 0);
  store.set('a', 7);
  assert.deepEqual(store.entries().sort(), [['a', 7], ['b', 0]]);
  assert.throws(() => store.set('a', -1), RangeError);
  assert.throws(() => store.set('a', 1.5), RangeError);
});
