import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStore } from './sqlite-store.ts';
import { describeStoreContract } from './store-contract.ts';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'parley-store-')), 'store.db');

describeStoreContract('sqlite', ({ now }) => new SqliteStore({ path: tempFile(), nodeId: 'test-node', now }));

test('everything survives reopening the file', () => {
  const path = tempFile();
  const first = new SqliteStore({ path, nodeId: 'n' });
  first.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('1'), cid: 'x' }]);
  first.appendHeaders([{ channel: 'a', position: 1, frame: Buffer.from('h') }]);
  first.close();
  const second = new SqliteStore({ path, nodeId: 'n' });
  const [again, next] = second.append([
    { channel: 'a', uid: 'u', binary: true, payload: Buffer.from('1'), cid: 'x' },
    { channel: 'a', uid: 'u', binary: true, payload: Buffer.from('2') },
  ]);
  assert.equal(again!.duplicate, true);
  assert.equal(next!.message.seq, 2);
  assert.equal(next!.message.originSeq, 2);
  assert.deepEqual(
    second.mlesHistory('a', 10, 1e9).map((e) => e.kind),
    ['message', 'header', 'message'],
  );
  second.close();
});

test('refuses a database written by another schema version', () => {
  const path = tempFile();
  new SqliteStore({ path, nodeId: 'n' }).close();
  const db = new DatabaseSync(path);
  db.exec("UPDATE meta SET value = '99' WHERE key = 'schema'");
  db.close();
  assert.throws(() => new SqliteStore({ path, nodeId: 'n' }), /has schema 99/);
});

test('a failed batch stores nothing and leaves the counters where they were', () => {
  const store = new SqliteStore({ path: tempFile(), nodeId: 'n' });
  store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('1') }]);
  const bad = { channel: 'a', uid: 'u', binary: true, payload: 'not bytes' as unknown as Uint8Array };
  assert.throws(() => store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('2') }, bad]));
  assert.deepEqual(store.bounds('a'), { first: 1, last: 1 });
  assert.equal(store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('3') }])[0]!.message.seq, 2);
  store.close();
});

test('asking about a channel that does not exist keeps nothing for it', () => {
  const path = tempFile();
  const store = new SqliteStore({ path, nodeId: 'n' });
  assert.deepEqual(store.bounds('later'), { first: 1, last: 0 });
  assert.deepEqual(store.vector('later'), new Map());
  assert.deepEqual(store.read('later', { before: 10, limit: 10, descending: true }), []);
  assert.equal(store.firstMissing('later', new Map()), undefined);
  // A second writer on the same file makes the channel: a store that had kept what it
  // answered about the name would go on answering that from memory.
  const other = new SqliteStore({ path, nodeId: 'm' });
  other.append([{ channel: 'later', uid: 'u', binary: true, payload: Buffer.from('now') }]);
  other.close();
  assert.deepEqual(store.bounds('later'), { first: 1, last: 1 });
  assert.deepEqual(store.vector('later'), new Map([['m', 1]]));
  assert.equal(store.append([{ channel: 'later', uid: 'u', binary: true, payload: Buffer.from('next') }])[0]!.message.seq, 2);
  store.close();
});

test('a failed batch that would have made a channel leaves it unmade', () => {
  const store = new SqliteStore({ path: tempFile(), nodeId: 'n' });
  const bad = { channel: 'new', uid: 'u', binary: true, payload: 'not bytes' as unknown as Uint8Array };
  assert.throws(() => store.append([{ channel: 'new', uid: 'u', binary: true, payload: Buffer.from('1') }, bad]));
  assert.deepEqual(store.bounds('new'), { first: 1, last: 0 });
  assert.deepEqual(store.vector('new'), new Map());
  assert.equal(store.append([{ channel: 'new', uid: 'u', binary: true, payload: Buffer.from('2') }])[0]!.message.originSeq, 1);
  store.close();
});

test('client ids past the remembered window are found when the publish says it is a retry', () => {
  const store = new SqliteStore({ path: tempFile(), nodeId: 'n', recentPublishes: 1 });
  const publish = (cid: string, retry?: boolean) =>
    store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from(cid), cid, retry }])[0]!;
  const first = publish('c1');
  publish('c2'); // pushes c1 out of memory
  const marked = publish('c1', true);
  assert.equal(marked.duplicate, true);
  assert.equal(marked.message.seq, first.message.seq);
  assert.equal(publish('c3').message.seq, 3);
  store.close();
});

test('a schema 1 store is migrated: its origin vectors come from the stored messages', () => {
  const path = tempFile();
  const old = new SqliteStore({ path, nodeId: 'n' });
  old.append([1, 2, 3].map((i) => ({ channel: 'a', uid: 'u', binary: true, payload: Buffer.from(String(i)) })));
  old.close();
  const db = new DatabaseSync(path);
  db.exec("DROP TABLE origins; UPDATE meta SET value = '1' WHERE key = 'schema'");
  db.close();
  const migrated = new SqliteStore({ path, nodeId: 'n' });
  assert.deepEqual(migrated.vector('a'), new Map([['n', 3]]));
  assert.equal(migrated.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('4') }])[0]!.message.originSeq, 4);
  migrated.close();
  const reopened = new SqliteStore({ path, nodeId: 'n' });
  assert.deepEqual(reopened.vector('a'), new Map([['n', 4]]));
  reopened.close();
});

test('range reads give back every byte of ids and payloads, and each message its origin', () => {
  const path = tempFile();
  const payloads = [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(0), Buffer.from([0xc3, 0x00, 0xff, 0xfe])];
  const first = new SqliteStore({ path, nodeId: 'node-a' });
  const stored = first.append(payloads.map((payload) => ({ channel: 'c', uid: 'u', binary: true, payload })));
  first.close();
  // Reopened as another node: the messages keep the origin that accepted them.
  const second = new SqliteStore({ path, nodeId: 'node-b' });
  second.append([{ channel: 'c', uid: 'v', binary: false, payload: Buffer.from('text') }]);
  for (const descending of [false, true]) {
    const read = second.read('c', { after: 0, limit: 10, descending });
    if (descending) read.reverse();
    assert.deepEqual(
      read.map((m) => [m.seq, m.origin, m.uid, m.binary, Buffer.from(m.id).toString('hex'), Buffer.from(m.payload).toString('hex')]),
      [
        ...stored.map(({ message: m }) => [m.seq, 'node-a', 'u', true, Buffer.from(m.id).toString('hex'), Buffer.from(m.payload).toString('hex')]),
        [4, 'node-b', 'v', false, Buffer.from(read[3]!.id).toString('hex'), Buffer.from('text').toString('hex')],
      ],
    );
    assert.equal(read[3]!.id.length, 32);
  }
  second.close();
});
