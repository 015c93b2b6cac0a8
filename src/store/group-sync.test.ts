import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite-store.ts';
import type { AppendRequest } from './store.ts';
import { GroupSync } from './group-sync.ts';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'parley-group-')), 'store.db');
const req = (channel: string, text: string, cid?: string): AppendRequest => ({ channel, uid: 'alice', binary: true, payload: Buffer.from(text), cid });
const payloads = (messages: ReadonlyArray<{ payload: Uint8Array }>) => messages.map((m) => Buffer.from(m.payload).toString());
const synced = (store: SqliteStore) => new Promise<Error | undefined>((resolve) => store.sync!(resolve));

test('with group commit, appends are seen only once a sync made them durable', async () => {
  const store = new SqliteStore({ path: tempFile(), nodeId: 'n', groupCommit: true });
  try {
    assert.equal(typeof store.sync, 'function');
    store.append([req('a', '1'), req('a', '2'), req('b', 'x')]);
    assert.deepEqual(store.bounds('a'), { first: 1, last: 0 }, 'bounds stop at the durable seq');
    assert.equal(store.lastAssigned('a'), 2, 'what happens now falls after the seqs assigned, durable or not');
    assert.deepEqual(store.read('a', { limit: 10 }), []);
    assert.deepEqual(store.read('a', { limit: 10, descending: true, maxBytes: 1 }), []);
    assert.deepEqual(store.channels(undefined, 10).map((c) => [c.channel, c.last]), [['a', 0], ['b', 0]]);
    assert.equal(await synced(store), undefined);
    assert.deepEqual(store.bounds('a'), { first: 1, last: 2 });
    assert.deepEqual(payloads(store.read('a', { limit: 10 })), ['1', '2']);
    assert.deepEqual(store.channels(undefined, 10).map((c) => [c.channel, c.last]), [['a', 2], ['b', 1]]);
  } finally {
    store.close();
  }
});

test('commits made while a sync runs wait for the next one, and callers hear in order', async () => {
  const store = new SqliteStore({ path: tempFile(), nodeId: 'n', groupCommit: true });
  try {
    const heard: string[] = [];
    const [first] = store.append([req('a', '1')]);
    const firstSynced = new Promise<void>((resolve) =>
      store.sync!(() => {
        heard.push('first');
        // The second commit is not covered by the first sync.
        assert.deepEqual(payloads(store.read('a', { limit: 10 })), ['1']);
        assert.equal(store.bounds('a').last, 1);
        assert.deepEqual(payloads(store.readByIds('a', [first!.message.id])), ['1']);
        resolve();
      }),
    );
    const [second] = store.append([req('a', '2')]);
    assert.deepEqual(store.readByIds('a', [second!.message.id]), [], 'an id read stops at the durable seq too');
    const secondSynced = new Promise<void>((resolve) =>
      store.sync!(() => {
        heard.push('second');
        resolve();
      }),
    );
    await Promise.all([firstSynced, secondSynced]);
    assert.deepEqual(heard, ['first', 'second']);
    assert.deepEqual(payloads(store.read('a', { limit: 10 })), ['1', '2']);
    assert.deepEqual(payloads(store.readByIds('a', [second!.message.id])), ['2']);
  } finally {
    store.close();
  }
});

test('what was synced survives reopening, and a retry of it is found', async () => {
  const path = tempFile();
  const store = new SqliteStore({ path, nodeId: 'n', groupCommit: true });
  store.append([req('a', '1', 'c1'), req('a', '2', 'c2')]);
  await synced(store);
  store.close();
  const again = new SqliteStore({ path, nodeId: 'n', groupCommit: true });
  try {
    assert.deepEqual(payloads(again.read('a', { limit: 10 })), ['1', '2']);
    const [retry] = again.append([req('a', 'other', 'c2')]);
    assert.equal(retry!.duplicate, true);
    assert.equal(retry!.message.seq, 2);
  } finally {
    again.close();
  }
});

test('a sync that cannot reach the log fails with a store error, and its commits become visible', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-group-'));
  const toError = (error: unknown) => new Error(`store: ${(error as Error).message}`);
  const sync = new GroupSync(join(dir, 'missing-wal'), toError);
  sync.committed('a', 0, 3);
  assert.equal(sync.durableLast('a'), 0);
  const error = await new Promise<Error | undefined>((resolve) => sync.sync(resolve));
  assert.match(error?.message ?? '', /^store: ENOENT/);
  assert.equal(sync.durableLast('a'), undefined, 'no longer held back');
  sync.close();
  rmSync(dir, { recursive: true });
});

test('without a file (":memory:") there is no group commit: appends are seen at once', () => {
  const store = new SqliteStore({ path: ':memory:', nodeId: 'n', groupCommit: true });
  assert.equal(store.sync, undefined);
  store.append([req('a', '1')]);
  assert.equal(store.bounds('a').last, 1);
  store.close();
});

test('syncNow makes every commit durable before it returns, calling waiting callers first; the overtaken sync is ignored', async () => {
  const store = new SqliteStore({ path: tempFile(), nodeId: 'n', groupCommit: true });
  try {
    const heard: string[] = [];
    store.append([req('a', '1')]);
    store.sync!(() => heard.push('first')); // an fdatasync is now under way
    store.append([req('a', '2')]);
    store.sync!(() => heard.push('second')); // waits for the next one
    store.syncNow!('b'); // nothing of b waits: no sync
    assert.deepEqual(heard, []);
    store.syncNow!('a');
    assert.deepEqual(heard, ['first', 'second'], 'both told, in order, before syncNow returned');
    assert.deepEqual(payloads(store.read('a', { limit: 10 })), ['1', '2']);
    // The fdatasync that was under way comes back later and tells nobody again.
    store.append([req('a', '3')]);
    await synced(store);
    assert.deepEqual(heard, ['first', 'second']);
    assert.deepEqual(payloads(store.read('a', { limit: 10 })), ['1', '2', '3']);
  } finally {
    store.close();
  }
});
