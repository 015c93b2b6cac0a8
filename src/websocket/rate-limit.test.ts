import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRateLimiter } from './rate-limit.ts';

test('allows a burst up to the budget, then refuses until time refills it', () => {
  let now = 0;
  const limiter = new ConnectionRateLimiter(3, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow('a')), [true, true, true, false]);
  assert.equal(limiter.allow('b'), true, 'addresses have separate budgets');
  now += 20_000; // a third of a minute refills one connection
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), false);
});

test('a limit of 0 disables limiting', () => {
  const limiter = new ConnectionRateLimiter(0);
  for (let i = 0; i < 1000; i++) assert.equal(limiter.allow('a'), true);
});

test('prune forgets only addresses whose budget is full again', () => {
  let now = 0;
  const limiter = new ConnectionRateLimiter(2, () => now);
  limiter.allow('a');
  limiter.allow('a');
  limiter.allow('a');
  now += 30_000;
  limiter.prune();
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), false, 'a was still draining and must not have been forgotten');
});
