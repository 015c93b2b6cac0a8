import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { ReadRange, Store, StoredMessage } from '../store/store.ts';
import { replayThenLive } from './replay.ts';

/** A store whose reads are counted in payload bytes handed out. */
function counted(store: Store): { store: Store; bytesRead: () => number } {
  let bytes = 0;
  const read = (channel: string, range: ReadRange): StoredMessage[] => {
    const messages = store.read(channel, range);
    for (const m of messages) bytes += m.payload.length;
    return messages;
  };
  return { store: Object.assign(Object.create(store) as Store, { read }), bytesRead: () => bytes };
}

test('a replay of large messages reads each about once, then goes live after the last', async () => {
  const sqlite = new SqliteStore({ path: ':memory:', nodeId: 'n'.repeat(32) });
  const size = 256 * 1024;
  for (let i = 0; i < 100; i++) sqlite.append([{ channel: 'big', uid: 'u', binary: true, payload: Buffer.alloc(size, i) }]);
  const { store, bytesRead } = counted(sqlite);
  const delivered: number[] = [];
  let live: number | undefined;
  let drains = 0;
  await replayThenLive(store, 'big', 10, { rows: 500, bytes: 1024 * 1024 }, {
    stopped: () => false,
    deliver: (messages) => delivered.push(...messages.map((m) => m.seq)),
    live: (last) => (live = last),
    drain: async () => (drains++, true),
  });
  assert.deepEqual(delivered, Array.from({ length: 90 }, (_, i) => i + 11));
  assert.equal(live, 100);
  assert.equal(drains, Math.ceil(90 / 4) - 1, 'one step per 1 MiB');
  // Reading 500-row pages and sending 1 MiB of each read about 45 times as much.
  assert.equal(bytesRead(), 90 * size);
  sqlite.close();
});

test('a replay stops when the reader does, and goes live at once on an empty channel', async () => {
  const sqlite = new SqliteStore({ path: ':memory:', nodeId: 'n'.repeat(32) });
  for (let i = 0; i < 10; i++) sqlite.append([{ channel: 'c', uid: 'u', binary: true, payload: Buffer.alloc(100) }]);
  let steps = 0;
  let wentLive = false;
  await replayThenLive(sqlite, 'c', 0, { rows: 3, bytes: 1 << 20 }, {
    stopped: () => steps === 2,
    deliver: () => steps++,
    live: () => (wentLive = true),
    drain: async () => true,
  });
  assert.deepEqual([steps, wentLive], [2, false]);
  let last: number | undefined;
  await replayThenLive(sqlite, 'empty', 0, { rows: 3, bytes: 1 << 20 }, {
    stopped: () => false,
    deliver: () => assert.fail('nothing to deliver'),
    live: (seq) => (last = seq),
    drain: async () => assert.fail('no step to wait for'),
  });
  assert.equal(last, 0);
  sqlite.close();
});

test('the first step of a replay is short, so the first messages go out before a whole page is read', async () => {
  const sqlite = new SqliteStore({ path: ':memory:', nodeId: 'n'.repeat(32) });
  sqlite.append(Array.from({ length: 1000 }, (_, i) => ({ channel: 'small', uid: 'u', binary: true, payload: Buffer.from(String(i)) })));
  const steps: number[] = [];
  await replayThenLive(sqlite, 'small', 0, { rows: 500, bytes: 1024 * 1024 }, {
    stopped: () => false,
    deliver: (messages) => steps.push(messages.length),
    live: () => {},
    drain: async () => true,
  });
  assert.deepEqual(steps, [8, 500, 492]);
  sqlite.close();
});
