import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory-store.ts';
import { checkpointBefore, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';

const publish = (store: MemoryStore, channel: string, text: string, ts: number) =>
  store.append([{ channel, uid: 'u', binary: false, payload: Buffer.from(text), ts }])[0]!.message;

test('a view seeded from a checkpoint numbers and ids the next messages as the view it was taken from', () => {
  const running = new MemoryStore({ nodeId: 'cluster', retainCount: 3 });
  for (let i = 0; i < 10; i++) publish(running, 'c', `m${i}`, 1000 + i);
  const kept = running.read('c', { limit: 100 });
  assert.deepEqual(kept.map((m) => m.seq), [8, 9, 10]);
  const checkpoint = decodeCheckpoint(encodeCheckpoint(checkpointBefore(77, kept, 10, running.vector('c'), (o) => running.lastId('c', o))))!;
  assert.equal(checkpoint.position, 77);
  assert.equal(checkpoint.lastSeq, 7);
  assert.deepEqual([...checkpoint.vector], [['cluster', 7]]);

  const fresh = new MemoryStore({ nodeId: 'cluster', retainCount: 3 });
  fresh.seed('c', checkpoint);
  // The fresh view reads the kept messages from the stream, then both take a new one.
  for (const m of kept) publish(fresh, 'c', Buffer.from(m.payload).toString(), m.ts);
  const a = publish(running, 'c', 'next', 2000);
  const b = publish(fresh, 'c', 'next', 2000);
  assert.equal(b.seq, 11);
  assert.deepEqual(fresh.read('c', { limit: 100 }).map((m) => [m.seq, Buffer.from(m.id).toString('hex')]), running.read('c', { limit: 100 }).map((m) => [m.seq, Buffer.from(m.id).toString('hex')]));
  assert.deepEqual(b.id, a.id);
  assert.deepEqual(fresh.vector('c'), running.vector('c'));
});

test('a checkpoint of a channel with nothing kept is the state now; one that is not a checkpoint is refused', () => {
  const store = new MemoryStore({ nodeId: 'n' });
  publish(store, 'c', 'only', 1);
  const checkpoint = checkpointBefore(5, [], 1, store.vector('c'), (o) => store.lastId('c', o));
  assert.equal(checkpoint.lastSeq, 1);
  assert.deepEqual(checkpoint.lastIds.get('n'), store.lastId('c', 'n'));
  assert.equal(decodeCheckpoint(new Uint8Array([0xff])), undefined);
  assert.equal(decodeCheckpoint(encodeCheckpoint(checkpoint).subarray(0, 3)), undefined);
});

test('only an empty channel is seeded', () => {
  const store = new MemoryStore({ nodeId: 'n' });
  publish(store, 'c', 'x', 1);
  assert.throws(() => store.seed('c', { lastSeq: 5, vector: new Map(), lastIds: new Map() }), /already has messages/);
});
