// The join-header keepers, memory and SQLite, held to one contract: interleaving with
// messages, the per-channel bound, and retention with the messages around them.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MemoryStore } from '../store/memory-store.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { mergeMlesHistory } from './history.ts';
import { MemoryJoinHeaders, type JoinHeaders, type JoinHeadersOptions } from './join-headers.ts';
import { SqliteJoinHeaders } from './sqlite-join-headers.ts';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'parley-headers-')), 'parley.db');

type Pair = { store: Store; headers: JoinHeaders };
const kinds: Array<[string, (options: Omit<JoinHeadersOptions, 'firstSeq'>) => Pair]> = [
  [
    'memory',
    (options) => {
      const store = new MemoryStore({ nodeId: 'n', ...(options.now === undefined ? {} : { now: options.now }) });
      return { store, headers: new MemoryJoinHeaders({ ...options, firstSeq: (c) => store.bounds(c).first }) };
    },
  ],
  [
    'sqlite',
    (options) => {
      const path = tempFile();
      const store = new SqliteStore({ path, nodeId: 'n', ...(options.now === undefined ? {} : { now: options.now }) });
      return { store, headers: new SqliteJoinHeaders({ ...options, path, firstSeq: (c) => store.bounds(c).first }) };
    },
  ],
];

for (const [kind, make] of kinds) {
  describe(`${kind} join headers`, () => {
    const text = (s: string) => Buffer.from(s);
    const publish = (store: Store, ...payloads: string[]) => store.append(payloads.map((p) => ({ channel: 'a', uid: 'u', binary: false, payload: text(p) })));
    const show = ({ store, headers }: Pair, limit = 100) =>
      mergeMlesHistory(store.read('a', { limit, descending: true }).reverse(), headers.latest('a', limit), limit).map((e) =>
        Buffer.from(e.kind === 'header' ? e.frame : e.message.payload).toString(),
      );
    const header = (store: Store, frame: string) => ({ channel: 'a', position: store.bounds('a').last, frame: text(frame) });

    test('interleave with the messages in the order they happened, and keep the newest per channel', () => {
      const pair = make({ perChannel: 3 });
      const { store, headers } = pair;
      headers.append([header(store, 'h1')]);
      publish(store, 'm1', 'm2');
      headers.append([header(store, 'h2'), header(store, 'h3')]);
      publish(store, 'm3');
      assert.deepEqual(show(pair), ['h1', 'm1', 'm2', 'h2', 'h3', 'm3']);
      assert.deepEqual(show(pair, 3), ['h2', 'h3', 'm3']);
      headers.append([header(store, 'h4')]);
      assert.deepEqual(show(pair), ['m1', 'm2', 'h2', 'h3', 'm3', 'h4'], 'h1 went: three kept');
      assert.deepEqual(headers.latest('none', 10), []);
      headers.close();
      store.close();
    });

    test('go with the messages around them, and with age', () => {
      let clock = 1_000_000;
      const pair = make({ now: () => clock });
      const { store, headers } = pair;
      headers.append([header(store, 'h0')]);
      publish(store, 'm1', 'm2');
      headers.append([header(store, 'h2')]);
      publish(store, 'm3', 'm4');
      headers.append([header(store, 'h4')]);
      // Keeping 2 messages keeps m3, m4, and h2 (between m2 and m3) and h4.
      const count = { count: 2, ageMs: 0, bytes: 0 };
      while (store.enforceRetention(count, clock, 1) > 0);
      while (headers.enforceRetention(count, clock, 1) > 0);
      assert.deepEqual(show(pair), ['h2', 'm3', 'm4', 'h4']);
      // A day later everything is older than an hour: messages and headers all go.
      clock += 86_400_000;
      headers.append([header(store, 'fresh')]);
      const age = { count: 0, ageMs: 3_600_000, bytes: 0 };
      while (store.enforceRetention(age, clock, 2) > 0);
      while (headers.enforceRetention(age, clock, 2) > 0);
      assert.deepEqual(show(pair), ['fresh']);
      headers.close();
      store.close();
    });
  });
}

test('headers stored before they could age count from the upgrade, and those over 8 KiB go', () => {
  const path = tempFile();
  const db = new DatabaseSync(path);
  // The table as an earlier version made it: no time column.
  db.exec('CREATE TABLE mles_headers (n INTEGER PRIMARY KEY, channel TEXT NOT NULL, position INTEGER NOT NULL, frame BLOB NOT NULL) STRICT');
  db.prepare('INSERT INTO mles_headers (channel, position, frame) VALUES (?, ?, ?)').run('a', 0, Buffer.from('{"uid":"u","channel":"a"}'));
  db.prepare('INSERT INTO mles_headers (channel, position, frame) VALUES (?, ?, ?)').run('a', 0, Buffer.alloc(1 << 20, 0x20));
  db.close();
  const headers = new SqliteJoinHeaders({ path, now: () => 50_000, firstSeq: () => 1 });
  assert.equal(headers.latest('a', 10).length, 1, 'the megabyte header went');
  assert.equal(headers.enforceRetention({ count: 0, ageMs: 10_000, bytes: 0 }, 55_000, 10), 0, 'counted from the upgrade, not from 0');
  assert.equal(headers.enforceRetention({ count: 0, ageMs: 10_000, bytes: 0 }, 70_000, 10), 1);
  assert.deepEqual(headers.latest('a', 10), []);
  headers.close();
});
