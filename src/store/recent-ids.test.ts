import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentIds } from './recent-ids.ts';

test('keeps between half the limit and the limit of the newest ids', () => {
  const ids = new RecentIds(10);
  for (let i = 0; i < 100; i++) ids.set('c', 'u', `k${i}`, i);
  assert.ok(ids.size >= 5 && ids.size <= 10, String(ids.size));
  assert.equal(ids.get('c', 'u', 'k99'), 99);
  assert.equal(ids.get('c', 'u', 'k95'), 95);
  assert.equal(ids.get('c', 'u', 'k0'), undefined);
});

test('the bound counts ids across channels and uids, and setting one again does not count twice', () => {
  const ids = new RecentIds(10);
  for (let i = 0; i < 4; i++) ids.set(`c${i}`, `u${i}`, 'same', i);
  ids.set('c0', 'u0', 'same', 7);
  assert.equal(ids.size, 4);
  assert.equal(ids.get('c0', 'u0', 'same'), 7);
  for (let i = 0; i < 40; i++) ids.set(`c${i % 3}`, `u${i % 5}`, `k${i}`, i);
  assert.ok(ids.size >= 5 && ids.size <= 10, String(ids.size));
  assert.equal(ids.get('c0', 'u0', 'same'), undefined, 'the oldest generation was dropped');
  assert.equal(ids.get('c0', 'u4', 'k39'), 39);
});

test('the parts of an id are kept apart: no two (channel, uid, cid) collide', () => {
  const ids = new RecentIds(100);
  ids.set('a', 'b\0c', 'd', 1);
  assert.equal(ids.get('a\0b', 'c', 'd'), undefined);
  assert.equal(ids.get('a', 'b', 'c\0d'), undefined);
  assert.equal(ids.get('a', 'b\0c', 'd'), 1);
});

test('holds 200,000 ids through a million publishes', () => {
  const ids = new RecentIds(200_000);
  for (let i = 0; i < 1_000_000; i++) ids.set('channel', 'uid', String(i), i);
  assert.equal(ids.get('channel', 'uid', '999999'), 999_999);
  assert.equal(ids.get('channel', 'uid', '900000'), 900_000);
  assert.equal(ids.get('channel', 'uid', '1'), undefined);
  assert.ok(ids.size >= 100_000 && ids.size <= 200_000);
});
