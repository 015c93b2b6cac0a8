import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffOptions } from './backoff.ts';

test('doubles from 250 ms to the 30 s cap without jitter', () => {
  const backoff = new Backoff({ jitter: 0 });
  const delays = Array.from({ length: 10 }, () => backoff.next());
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(backoff.attempt, 10);
});

test('jitter scales each delay within ±jitter', () => {
  const low = new Backoff({ jitter: 0.2 }, () => 0);
  const high = new Backoff({ jitter: 0.2 }, () => 0.999999);
  assert.deepEqual([low.next(), low.next()], [200, 400]);
  assert.deepEqual([high.next(), high.next()], [300, 600]);
  // At the cap the jitter still spreads clients out.
  const capped = new Backoff({ initialMs: 30_000, jitter: 0.2 }, () => 0.999999);
  assert.equal(capped.next(), 36_000);
});

test('random delays stay inside the bounds over many draws', () => {
  const backoff = new Backoff();
  for (let i = 0; i < 1000; i++) {
    const base = Math.min(30_000, 250 * 2 ** Math.min(i, 64));
    const delay = backoff.next();
    assert.ok(delay >= base * 0.8 - 1 && delay <= base * 1.2 + 1, `attempt ${i}: ${delay}`);
  }
});

test('a stable connection resets the delays, a short one does not', () => {
  const backoff = new Backoff({ jitter: 0, stableMs: 10_000 });
  backoff.next();
  backoff.next();
  backoff.connectionEnded(9_999);
  assert.equal(backoff.next(), 1000);
  backoff.connectionEnded(10_000);
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 250);
  backoff.next();
  backoff.reset();
  assert.equal(backoff.next(), 250);
});

test('rejects nonsense options', () => {
  assert.throws(() => backoffOptions({ initialMs: -1 }), RangeError);
  assert.throws(() => backoffOptions({ jitter: 1.5 }), RangeError);
  assert.throws(() => backoffOptions({ factor: 0.5 }), RangeError);
  assert.throws(() => backoffOptions({ initialMs: 1000, maxMs: 10 }), RangeError);
  assert.throws(() => backoffOptions({ maxMs: Number.NaN }), RangeError);
});
