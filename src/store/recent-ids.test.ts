import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentIds } from './recent-ids.ts';

test('keeps between half the limit and the limit of the newest keys', () => {
  const ids = new RecentIds(10);
  for (let i = 0; i < 100; i++) ids.set(`k${i}`, i);
  assert.ok(ids.size >= 5 && ids.size <= 10, String(ids.size));
  assert.equal(ids.get('k99'), 99);
  assert.equal(ids.get('k95'), 95);
  assert.equal(ids.get('k0'), undefined);
});

test('stays fast with many evictions', () => {
  const ids = new RecentIds(200_000);
  const start = performance.now();
  for (let i = 0; i < 1_000_000; i++) ids.set(`channel\0uid\0${i}`, i);
  // Not a timing assertion: the run above would take minutes with one-by-one eviction.
  assert.equal(ids.get(`channel\0uid\0${999_999}`), 999_999);
  assert.ok(performance.now() - start >= 0);
});

test('delete and forgetBelow', () => {
  const ids = new RecentIds(100);
  ids.set('a\0x', 1);
  ids.set('a\0y', 5);
  ids.set('b\0z', 1);
  ids.delete('a\0y');
  assert.equal(ids.get('a\0y'), undefined);
  ids.forgetBelow(3, (key) => key.startsWith('a\0'));
  assert.equal(ids.get('a\0x'), undefined);
  assert.equal(ids.get('b\0z'), 1);
});
