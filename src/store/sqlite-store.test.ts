import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStore } from './sqlite-store.ts';
import type { AppendRequest, Store } from './store.ts';
import { StoreError } from './store-error.ts';
import { describeStoreContract } from './store-contract.testkit.ts';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'parley-store-')), 'store.db');

describeStoreContract('sqlite', ({ now }) => new SqliteStore({ path: tempFile(), nodeId: 'test-node', now }));

test('everything survives reopening the file', () => {
  const path = tempFile();
  const first = new SqliteStore({ path, nodeId: 'n' });
  first.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('1'), cid: 'x' }]);
  first.close();
  const second = new SqliteStore({ path, nodeId: 'n' });
  const [again, next] = second.append([
    { channel: 'a', uid: 'u', binary: true, payload: Buffer.from('1'), cid: 'x' },
    { channel: 'a', uid: 'u', binary: true, payload: Buffer.from('2') },
  ]);
  assert.equal(again!.duplicate, true);
  assert.equal(next!.message.seq, 2);
  assert.equal(next!.message.originSeq, 2);
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
  assert.throws(
    () => store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('2') }, bad]),
    (error: unknown) => error instanceof StoreError && error.code === 'failed' && /SQLITE_CONSTRAINT/.test(error.message),
  );
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

/**
 * Where the file disagrees with itself: a channel's counters against the messages it
 * holds, seqs with holes, origin vectors below a stored origin seq. Empty when sound.
 */
function inconsistencies(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const found: string[] = [];
    for (const row of db.prepare('SELECT channel, last_seq, count, bytes FROM channels').all() as Array<Record<string, number | string>>) {
      const held = db
        .prepare('SELECT count(*) AS count, coalesce(sum(length(payload)), 0) AS bytes, min(seq) AS low, max(seq) AS high FROM messages WHERE channel = ?')
        .get(row.channel!) as { count: number; bytes: number; low: number | null; high: number | null };
      if (row.count !== held.count || row.bytes !== held.bytes) found.push(`${row.channel}: counted ${row.count}/${row.bytes}, holds ${held.count}/${held.bytes}`);
      if (held.high !== null && held.high - held.low! + 1 !== held.count) found.push(`${row.channel}: seqs ${held.low}-${held.high} have holes`);
      if (held.high !== null && row.last_seq !== held.high) found.push(`${row.channel}: last_seq ${row.last_seq}, newest ${held.high}`);
    }
    const behind = db
      .prepare('SELECT m.channel, m.origin FROM messages m LEFT JOIN origins o USING (channel, origin) GROUP BY m.channel, m.origin HAVING max(m.origin_seq) > coalesce(max(o.highest), 0)')
      .all() as Array<{ channel: string; origin: string }>;
    for (const { channel, origin } of behind) found.push(`${channel}: vector entry for ${origin} is behind`);
    return found;
  } finally {
    db.close();
  }
}

/** What a store shows of its cached state for these channels. */
function snapshot(store: Store, channels: readonly string[]) {
  return {
    stats: store.stats(),
    channels: channels.map((channel) => ({ channel, bounds: store.bounds(channel), vector: [...store.vector(channel)] })),
  };
}

const isFull = (error: unknown) =>
  error instanceof StoreError && error.code === 'full' && error.message.startsWith('store full: SQLITE_FULL: database or disk is full');

test('a batch the disk has no room for fails as full and leaves the cached counters, vectors and client ids as they were', () => {
  const path = tempFile();
  const store = new SqliteStore({ path, nodeId: 'n', maxBytes: 160 * 1024 });
  const publish = (channel: string, cid: string, size = 100): AppendRequest => ({ channel, uid: 'u', binary: true, payload: Buffer.alloc(size, 7), cid });
  const replica = (originSeq: number): AppendRequest => ({
    channel: 'a',
    uid: 'w',
    binary: true,
    payload: Buffer.from(`from the peer ${originSeq}`),
    replica: { origin: 'peer', originSeq, ts: 1, id: new Uint8Array(32).fill(originSeq), prev: new Uint8Array(32) },
  });
  store.append([publish('a', 'c1'), publish('a', 'c2'), publish('b', 'c1'), replica(1)]);
  const before = snapshot(store, ['a', 'b']);

  // New messages, a retry of a stored one and the peer's next one, then more than fits.
  const big = Array.from({ length: 60 }, (_, i) => publish(i % 2 === 0 ? 'a' : 'b', `big${i}`, 8000));
  assert.throws(() => store.append([publish('a', 'c3'), publish('a', 'c1'), replica(2), ...big]), isFull);
  assert.deepEqual(snapshot(store, ['a', 'b']), before);

  // The same publishes now fit: they get the next seqs; the retry is still known.
  const [c3, c1, peer] = store.append([publish('a', 'c3'), publish('a', 'c1'), replica(2)]);
  assert.deepEqual([c3!.message.seq, c3!.duplicate], [before.channels[0]!.bounds.last + 1, false]);
  assert.deepEqual([c1!.message.seq, c1!.duplicate], [1, true]);
  assert.deepEqual([peer!.message.seq, peer!.duplicate], [before.channels[0]!.bounds.last + 2, false]);
  assert.deepEqual(store.bounds('b'), before.channels[1]!.bounds);
  store.close();
  assert.deepEqual(inconsistencies(path), []);
});

test('a removal the disk has no room for fails as full and leaves the cached counters as they were', () => {
  const path = tempFile();
  const store = new SqliteStore({ path, nodeId: 'n', maxBytes: 160 * 1024 });
  for (const channel of ['a', 'b']) {
    store.append(Array.from({ length: 10 }, (_, i) => ({ channel, uid: 'u', binary: true, payload: Buffer.alloc(10 + i, 1) })));
  }
  const before = snapshot(store, ['a', 'b']);
  // Deleting takes no new pages: a trigger that writes on every delete stands in for
  // a removal whose journal no longer fits.
  const other = new DatabaseSync(path);
  other.exec('CREATE TABLE ballast (b BLOB); CREATE TRIGGER grow AFTER DELETE ON messages WHEN OLD.seq = 3 BEGIN INSERT INTO ballast VALUES (zeroblob(400000)); END');
  const limits = { count: 4, ageMs: 0, bytes: 0 };
  assert.throws(() => store.enforceRetention(limits, Date.now(), 100), isFull);
  assert.deepEqual(snapshot(store, ['a', 'b']), before);
  other.exec('DROP TRIGGER grow; DROP TABLE ballast');
  other.close();
  assert.equal(store.enforceRetention(limits, Date.now(), 100), 12);
  assert.deepEqual(store.bounds('a'), { first: 7, last: 10 });
  assert.equal(store.stats().messages, 8);
  // The next append writes the cached counters back: they must match what is stored.
  store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('x') }, { channel: 'b', uid: 'u', binary: true, payload: Buffer.from('y') }]);
  store.close();
  assert.deepEqual(inconsistencies(path), []);
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

test('a schema 2 store is migrated: old messages have no chain, and the next one chains onto the newest id', () => {
  const path = tempFile();
  const old = new SqliteStore({ path, nodeId: 'n' });
  const stored = old.append([1, 2, 3].map((i) => ({ channel: 'a', uid: 'u', binary: true, payload: Buffer.from(String(i)) })));
  old.close();
  const db = new DatabaseSync(path);
  db.exec("ALTER TABLE messages DROP COLUMN chain; ALTER TABLE origins DROP COLUMN last_id; UPDATE meta SET value = '2' WHERE key = 'schema'");
  db.close();
  const migrated = new SqliteStore({ path, nodeId: 'n' });
  assert.deepEqual(migrated.read('a', { limit: 10 }).map((m) => m.prev), [undefined, undefined, undefined]);
  assert.deepEqual(Buffer.from(migrated.lastId('a', 'n')!), Buffer.from(stored[2]!.message.id));
  const [next] = migrated.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from('4') }]);
  assert.deepEqual(Buffer.from(next!.message.prev!), Buffer.from(stored[2]!.message.id));
  migrated.close();
});

test('a schema 3 store is migrated: each channel learns its largest payload, so reads keep to their byte budget', () => {
  const path = tempFile();
  const old = new SqliteStore({ path, nodeId: 'n' });
  old.append([10, 5000, 10, 10].map((size) => ({ channel: 'a', uid: 'u', binary: true, payload: Buffer.alloc(size) })));
  old.close();
  const db = new DatabaseSync(path);
  db.exec("ALTER TABLE channels DROP COLUMN largest; UPDATE meta SET value = '3' WHERE key = 'schema'");
  db.close();
  const migrated = new SqliteStore({ path, nodeId: 'n' });
  // The second message reaches the budget: the read stops there.
  assert.deepEqual(migrated.read('a', { limit: 4, maxBytes: 1000 }).map((m) => m.payload.length), [10, 5000]);
  migrated.close();
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
