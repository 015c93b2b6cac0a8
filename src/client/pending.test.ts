import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyError } from './errors.ts';
import { PendingTable } from './pending.ts';

test('resolves and rejects by key, each entry once', async () => {
  const table = new PendingTable<number>('publish', 'cid');
  let settled = 0;
  const a = table.add('a', { onSettled: () => settled++ });
  const b = table.add('b');
  assert.equal(table.size, 2);
  assert.ok(table.resolve('a', 1));
  assert.ok(!table.resolve('a', 2), 'second answer is ignored');
  assert.ok(table.reject('b', new Error('no')));
  assert.equal(await a, 1);
  await assert.rejects(b, /no/);
  assert.equal(table.size, 0);
  assert.equal(settled, 1);
  const c = table.add('c');
  assert.throws(() => table.add('c'), /already pending/);
  table.rejectAll(new Error('cleanup'));
  await assert.rejects(c, /cleanup/);
});

test('times out with TIMEOUT naming the key', async () => {
  const table = new PendingTable<number>('query', 'qid');
  let settled = false;
  const started = Date.now();
  const error = await table.add('q1', { timeoutMs: 20, onSettled: () => (settled = true) }, { channel: 'ch' }).catch((e: unknown) => e);
  assert.ok(error instanceof ParleyError);
  assert.equal(error.code, 'TIMEOUT');
  assert.equal(error.qid, 'q1');
  assert.equal(error.channel, 'ch');
  assert.ok(Date.now() - started >= 15);
  assert.ok(settled);
  assert.ok(!table.has('q1'));
});

test('an AbortSignal rejects with ABORTED, before or after adding', async () => {
  const table = new PendingTable<number>('publish', 'cid');
  const controller = new AbortController();
  const pending = table.add('x', { signal: controller.signal });
  controller.abort(new Error('user'));
  const error = await pending.catch((e: unknown) => e);
  assert.ok(error instanceof ParleyError && error.code === 'ABORTED' && error.cid === 'x');
  let settled = false;
  const early = await table.add('y', { signal: controller.signal, onSettled: () => (settled = true) }).catch((e: unknown) => e);
  assert.ok(early instanceof ParleyError && early.code === 'ABORTED');
  assert.ok(settled, 'onSettled runs for an already aborted signal too');
  assert.equal(table.size, 0);
});

test('rejectAll settles everything and clears timers', async () => {
  const table = new PendingTable<number>('publish', 'cid');
  const all = [table.add('a', { timeoutMs: 60_000 }), table.add('b', { timeoutMs: 60_000 })];
  table.rejectAll(new ParleyError('CLOSED'));
  const results = await Promise.allSettled(all);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(table.size, 0);
});
