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

test('with restartChains, limits apply when the next batch comes, and a chain nobody saw starts again', () => {
  const store = new MemoryStore({ nodeId: 'n', retainCount: 1, restartChains: true });
  const publish = (text: string) => ({ channel: 'c', uid: 'u', binary: false, payload: Buffer.from(text) });
  const [one, two] = store.append([publish('one'), publish('two')]).map((r) => r.message);
  assert.deepEqual(store.bounds('c'), { first: 1, last: 2 }, 'the batch is kept whole until the next one: it is still being handed out');
  const twoId = two!.id; // a peer or a native client took it: 'one' is now in the chain too
  assert.deepEqual(Buffer.from(two!.prev!), Buffer.from(one!.id));
  store.append([publish('three')]);
  store.append([publish('four')]); // 'three' goes: its id was never asked for
  assert.deepEqual(store.read('c', { limit: 10 }).map((m) => Buffer.from(m.payload).toString()), ['three', 'four'], 'one batch over the limit at most');
  store.append([publish('five')]);
  const [four, five] = store.read('c', { limit: 10 });
  assert.deepEqual(Buffer.from(four!.prev!), Buffer.from(NO_PREV), 'the chain starts again after a message nobody saw');
  assert.deepEqual(Buffer.from(five!.prev!), Buffer.from(four!.id), 'and goes on from there');
  assert.deepEqual(Buffer.from(five!.id), Buffer.from(messageId({ ...five!, prev: four!.id })));
  assert.notDeepEqual(Buffer.from(twoId), Buffer.from(four!.id));
});

test('retention keeps the chain whole: a message removed before its id was asked for is still the one before the next', () => {
  // The hub hands a batch out only after the append, in which retention already ran: a
  // removed message may still be packed for a peer, with the next one chained onto it.
  const store = new MemoryStore({ nodeId: 'n', retainCount: 1 });
  const publish = (text: string) => ({ channel: 'c', uid: 'u', binary: false, payload: Buffer.from(text) });
  const [one, two] = store.append([publish('one'), publish('two')]).map((r) => r.message);
  const [three] = store.append([publish('three')]).map((r) => r.message);
  assert.deepEqual(Buffer.from(two!.prev!), Buffer.from(one!.id));
  assert.deepEqual(Buffer.from(three!.prev!), Buffer.from(two!.id));
});

test('reseed drops what a channel holds and numbers on from the state given; older cursors resume from the first kept', () => {
  const store = new MemoryStore({ nodeId: 'n' });
  for (let i = 1; i <= 3; i++) store.append([{ channel: 'a', uid: 'u', binary: false, payload: Buffer.from(`m${i}`), cid: `c${i}` }]);
  store.reseed('a', { lastSeq: 7, vector: new Map([['n', 7]]), lastIds: new Map() });
  assert.deepEqual(store.bounds('a'), { first: 8, last: 7 });
  const [next] = store.append([{ channel: 'a', uid: 'u', binary: false, payload: Buffer.from('m8'), cid: 'c1' }]);
  assert.equal(next!.duplicate, false, 'a client id of a dropped message is new again');
  assert.equal(next!.message.seq, 8);
  assert.equal(next!.message.originSeq, 8);
  assert.deepEqual(store.read('a', { after: 2, limit: 10 }).map((m) => m.seq), [8]);
});
