import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyncNotifier } from './notifier.ts';

/** Whether the promise has settled once pending callbacks ran. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

test('a room wakes only the polls of users joined to it when they began waiting', async () => {
  const notifier = new SyncNotifier();
  const inA = notifier.wait('@a:x', ['!a:x'], 60_000);
  const inB = notifier.wait('@b:x', ['!b:x'], 60_000);
  const inBoth = notifier.wait('@c:x', ['!a:x', '!b:x'], 60_000);
  const inNone = notifier.wait('@d:x', [], 60_000);
  assert.equal(notifier.waiting(), 4);
  notifier.wakeRoom('!a:x');
  assert.equal(await settled(inA), true);
  assert.equal(await settled(inBoth), true);
  assert.equal(await settled(inB), false);
  assert.equal(await settled(inNone), false);
  assert.equal(notifier.waiting(), 2);
  notifier.wake(['@d:x']);
  assert.equal(await settled(inNone), true);
  notifier.wakeRoom('!a:x');
  assert.equal(await settled(inB), false, 'waking a room with no waiter left touches no other room');
  notifier.wakeAll();
  assert.equal(await settled(inB), true);
  assert.equal(notifier.waiting(), 0);
});

test('a poll that times out or is aborted leaves the indexes', async () => {
  const notifier = new SyncNotifier();
  await notifier.wait('@a:x', ['!a:x'], 1);
  const abort = new AbortController();
  const aborted = notifier.wait('@a:x', ['!a:x'], 60_000, abort.signal);
  abort.abort();
  await aborted;
  assert.equal(notifier.waiting(), 0);
  const later = notifier.wait('@a:x', ['!a:x'], 60_000);
  notifier.wakeRoom('!a:x');
  assert.equal(await settled(later), true);
});
