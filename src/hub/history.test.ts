import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryHistory } from './history.ts';

const frame = (id: number, size = 10) => ({ id, size });

test('keeps the last N frames per channel, oldest first', () => {
  const history = new MemoryHistory<{ id: number; size: number }>({ frames: 3, bytes: 1e9 });
  for (let i = 1; i <= 5; i++) history.append('a', frame(i));
  history.append('b', frame(9));
  assert.deepEqual(history.recent('a').map((f) => f.id), [3, 4, 5]);
  assert.deepEqual(history.recent('b').map((f) => f.id), [9]);
  assert.deepEqual(history.recent('none'), []);
  assert.deepEqual(history.stats(), { channels: 2, frames: 4, bytes: 40 });
});

test('drops the oldest frames when over the byte limit', () => {
  const history = new MemoryHistory<{ id: number; size: number }>({ frames: 100, bytes: 25 });
  history.append('a', frame(1));
  history.append('a', frame(2));
  history.append('a', frame(3));
  assert.deepEqual(history.recent('a').map((f) => f.id), [2, 3]);
  history.append('a', frame(4, 30)); // larger than the whole budget: not kept
  assert.deepEqual(history.recent('a').map((f) => f.id), [2, 3]);
  assert.equal(history.stats().bytes, 20);
});

test('a limit of 0 keeps nothing', () => {
  const history = new MemoryHistory<{ id: number; size: number }>({ frames: 0, bytes: 100 });
  history.append('a', frame(1));
  assert.deepEqual(history.recent('a'), []);
});

test('stays correct across many compactions', () => {
  const history = new MemoryHistory<{ id: number; size: number }>({ frames: 7, bytes: 1e9 });
  for (let i = 0; i < 10_000; i++) history.append('a', frame(i, 1));
  assert.deepEqual(history.recent('a').map((f) => f.id), [9993, 9994, 9995, 9996, 9997, 9998, 9999]);
  assert.deepEqual(history.stats(), { channels: 1, frames: 7, bytes: 7 });
});
