import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyError } from './errors.ts';
import { SubscriptionCore } from './subscription.ts';
import type { SubscriptionHost } from './subscription.ts';
import type { Message } from './wire.ts';

function message(seq: number): Message {
  return { channel: 'c', seq, id: new Uint8Array(32), ts: seq, from: 'a', origin: 'n', binary: true, payload: new Uint8Array([seq]) };
}

function core(options = {}) {
  const commits: number[] = [];
  let unsubscribed = 0;
  const host: SubscriptionHost = {
    commit: (_channel, seq) => commits.push(seq),
    unsubscribe: async (c) => {
      unsubscribed++;
      c.end();
    },
  };
  const sub = new SubscriptionCore('c', host, options);
  return { sub, commits, unsubscribed: () => unsubscribed };
}

test('drops what it already took in, and everything before it is subscribing', () => {
  const { sub } = core();
  sub.deliver(message(1));
  sub.start(0, undefined);
  sub.deliver(message(1));
  assert.equal(sub.received, 0, 'not subscribing yet: ignored');
  sub.state = 'subscribing';
  for (const seq of [1, 2, 2, 1, 3]) sub.deliver(message(seq));
  assert.equal(sub.received, 3);
  assert.equal(sub.resumeAfter, 3);
});

test('iterator: a message is committed when the next is asked for, or the loop is left', async () => {
  const { sub, commits, unsubscribed } = core();
  sub.start(0, undefined);
  sub.state = 'subscribing';
  for (const seq of [1, 2, 3]) sub.deliver(message(seq));
  const iterator = sub.view[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).value?.seq, 1);
  assert.deepEqual(commits, []);
  assert.equal((await iterator.next()).value?.seq, 2);
  assert.deepEqual(commits, [1]);
  await iterator.return?.();
  assert.deepEqual(commits, [1, 2]);
  assert.equal(unsubscribed(), 1);
  assert.deepEqual(await iterator.next(), { value: undefined, done: true });
});

test('listeners: committed after each listener call; queued messages flushed to a late listener', async () => {
  const { sub, commits } = core();
  sub.start(0, undefined);
  sub.state = 'subscribing';
  sub.deliver(message(1));
  sub.deliver(message(2));
  const seen: number[] = [];
  sub.view.on('message', (m) => seen.push(m.seq));
  await Promise.resolve();
  sub.deliver(message(3));
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(commits, [1, 2, 3]);
});

test("'now' becomes live at the node's newest seq, which is the cursor", () => {
  const { sub, commits } = core();
  sub.start(undefined, undefined);
  sub.state = 'subscribing';
  const lives: number[] = [];
  sub.view.on('live', (l) => lives.push(l.last));
  sub.live(41);
  assert.equal(sub.received, 41);
  assert.deepEqual(commits, [41]);
  assert.deepEqual(lives, [41]);
  assert.ok(sub.view.live);
  sub.disconnected();
  assert.equal(sub.state, 'ready');
  assert.equal(sub.resumeAfter, 41);
});

test('a failure is thrown once by the iterator after the queued messages, then it is done', async () => {
  const { sub } = core();
  sub.start(0, undefined);
  sub.state = 'subscribing';
  sub.deliver(message(1));
  const errors: ParleyError[] = [];
  sub.view.on('error', (e) => errors.push(e));
  sub.fail(new ParleyError('AUTH_FAILED'));
  const iterator = sub.view[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).value?.seq, 1);
  await assert.rejects(iterator.next(), (e: unknown) => e instanceof ParleyError && e.code === 'AUTH_FAILED');
  assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  assert.equal(errors.length, 1);
  assert.ok(sub.view.closed);
});

test('restart: messages of the old store are still delivered but never move the new cursor', async () => {
  const { sub, commits } = core();
  sub.start(10, 10);
  sub.state = 'subscribing';
  sub.deliver(message(11));
  sub.deliver(message(12));
  sub.restart();
  assert.deepEqual(commits, [0]);
  sub.state = 'subscribing';
  sub.deliver(message(1));
  const iterator = sub.view[Symbol.asyncIterator]();
  const seqs = [];
  for (let i = 0; i < 3; i++) seqs.push((await iterator.next()).value?.seq);
  assert.deepEqual(seqs, [11, 12, 1]);
  await iterator.return?.();
  assert.deepEqual(commits, [0, 1]);
});
