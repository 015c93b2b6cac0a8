import { MemoryStore } from './memory-store.ts';
import { messageId, NO_PREV } from './message-id.ts';
import { describeStoreContract } from './store-contract.testkit.ts';

import { test } from 'node:test';
import assert from 'node:assert/strict';

describeStoreContract('memory', ({ now }) => new MemoryStore({ nodeId: 'test-node', now }));

test('count and byte limits apply as messages arrive', () => {
  const store = new MemoryStore({ nodeId: 'n', retainCount: 3, retainBytes: 10 });
  for (let i = 1; i <= 5; i++) store.append([{ channel: 'a', uid: 'u', binary: true, payload: Buffer.from(String(i)) }]);
  assert.deepEqual(store.bounds('a'), { first: 3, last: 5 });
  store.append([{ channel: 'b', uid: 'u', binary: true, payload: Buffer.alloc(6) }, { channel: 'b', uid: 'u', binary: true, payload: Buffer.alloc(6) }]);
  assert.deepEqual(store.bounds('b'), { first: 2, last: 2 });
  store.append([{ channel: 'c', uid: 'u', binary: true, payload: Buffer.alloc(50) }]);
  assert.deepEqual(store.bounds('c'), { first: 1, last: 1 }, 'the newest message stays even when larger than the limit');
});

test('retention lets a chain nobody saw start again, and keeps one that was seen', () => {
  const store = new MemoryStore({ nodeId: 'n', retainCount: 1 });
  const publish = (text: string) => store.append([{ channel: 'c', uid: 'u', binary: false, payload: Buffer.from(text) }])[0]!.message;
  publish('one');
  publish('two'); // 'one' goes, its id never computed: no peer or native client saw it
  const [two] = store.read('c', { limit: 10 });
  assert.deepEqual(Buffer.from(two!.prev!), Buffer.from(NO_PREV), 'the chain starts again after a message nobody saw');
  const seen = two!.id; // now seen
  publish('three');
  const [three] = store.read('c', { limit: 10 });
  assert.deepEqual(Buffer.from(three!.prev!), Buffer.from(seen), 'a seen message stays in the chain');
  assert.deepEqual(Buffer.from(three!.id), Buffer.from(messageId({ ...three!, prev: seen })));
});
