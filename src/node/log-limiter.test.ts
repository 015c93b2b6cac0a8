import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RepeatLimiter } from './log-limiter.ts';

const ERROR = 50;

test('identical lines past the limit are dropped in their window, and the next window says how many', () => {
  const limiter = new RepeatLimiter({ perWindow: 3, windowMs: 10_000 });
  const verdicts = Array.from({ length: 10 }, (_, i) => limiter.admit(ERROR, 'store refused a batch', 'full', 1000 + i));
  assert.deepEqual(
    verdicts.map((v) => v.write),
    [true, true, true, false, false, false, false, false, false, false],
  );
  assert.equal(limiter.droppedTotal, 7);
  const next = limiter.admit(ERROR, 'store refused a batch', 'full', 11_000);
  assert.deepEqual(next, { write: true, ended: { msg: 'store refused a batch', code: 'full', level: ERROR, count: 7 } });
  // The new window starts afresh, and has nothing to report yet.
  assert.deepEqual(limiter.admit(ERROR, 'store refused a batch', 'full', 11_001), { write: true });
});

test('lines differing in message, code or level are limited apart', () => {
  const limiter = new RepeatLimiter({ perWindow: 1, windowMs: 10_000 });
  assert.equal(limiter.admit(ERROR, 'a', 'full', 0).write, true);
  assert.equal(limiter.admit(ERROR, 'a', 'full', 1).write, false);
  assert.equal(limiter.admit(ERROR, 'a', 'corrupt', 2).write, true);
  assert.equal(limiter.admit(ERROR, 'a', undefined, 3).write, true);
  assert.equal(limiter.admit(ERROR, 'b', 'full', 4).write, true);
  assert.equal(limiter.admit(30, 'a', 'full', 5).write, true);
  assert.equal(limiter.droppedTotal, 1);
});

test('a sweep reports the windows that ended with drops and forgets every ended window', () => {
  const limiter = new RepeatLimiter({ perWindow: 1, windowMs: 100 });
  for (let i = 0; i < 5; i++) limiter.admit(ERROR, 'storm', 'ENOSPC', i);
  limiter.admit(ERROR, 'once', undefined, 0);
  limiter.admit(ERROR, 'late', 'x', 90);
  limiter.admit(ERROR, 'late', 'x', 91);
  assert.deepEqual(limiter.sweep(50), []);
  assert.deepEqual(limiter.sweep(100), [{ msg: 'storm', code: 'ENOSPC', level: ERROR, count: 4 }]);
  // Reported once: the same kind later starts a window with nothing to report.
  assert.deepEqual(limiter.admit(ERROR, 'storm', 'ENOSPC', 101), { write: true });
  assert.deepEqual(limiter.sweep(1000), [{ msg: 'late', code: 'x', level: ERROR, count: 1 }]);
});

test('past the number of kinds it tracks, new kinds are let through', () => {
  const limiter = new RepeatLimiter({ perWindow: 1, windowMs: 10_000, maxKinds: 2 });
  limiter.admit(ERROR, 'a', undefined, 0);
  limiter.admit(ERROR, 'b', undefined, 0);
  assert.equal(limiter.admit(ERROR, 'c', undefined, 0).write, true);
  assert.equal(limiter.admit(ERROR, 'c', undefined, 0).write, true);
  assert.equal(limiter.admit(ERROR, 'a', undefined, 0).write, false);
});
