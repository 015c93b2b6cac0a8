import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './token-bucket.ts';

test('a bucket allows its capacity at once, then its rate', () => {
  let now = 0;
  const bucket = new TokenBucket(100, 50, () => now);
  assert.equal(bucket.tryTake(100), true);
  assert.equal(bucket.tryTake(1), false);
  assert.equal(bucket.msUntil(25), 500);
  now = 500;
  assert.equal(bucket.takeUpTo(40), 25);
  now = 10_000;
  assert.equal(bucket.takeUpTo(1000), 100, 'never more than the capacity saved up');
  assert.equal(bucket.msUntil(1000), 2000, 'waits for at most a full bucket');
});

test('0 a second is no limit', () => {
  const bucket = new TokenBucket(0, 0);
  assert.equal(bucket.tryTake(1e9), true);
  assert.equal(bucket.takeUpTo(7), 7);
  assert.equal(bucket.msUntil(1e9), 0);
});
