// Test kit: the Store contract as one test suite, run against every implementation (memory and
// SQLite), so they cannot drift apart.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendRequest, Store } from './store.ts';
import { messageId, NO_PREV } from './message-id.ts';

export type StoreFactory = (options: { now: () => number }) => Store;

const text = (s: string) => Buffer.from(s);
const req = (channel: string, payload: string, extra: Partial<AppendRequest> = {}): AppendRequest => ({
  channel,
  uid: 'alice',
  binary: true,
  payload: text(payload),
  ...extra,
});
const payloads = (messages: ReadonlyArray<{ payload: Uint8Array }>) => messages.map((m) => Buffer.from(m.payload).toString());

export function describeStoreContract(name: string, makeStore: StoreFactory): void {
  describe(`${name} store contract`, () => {
    let clock = 1_000_000;
    const fresh = () => makeStore({ now: () => clock });

    test('assigns gap-free sequence numbers per channel, with ids and origins', () => {
      const store = fresh();
      const results = store.append([req('a', '1'), req('b', 'x'), req('a', '2', { binary: false, uid: 'bob' })]);
      assert.deepEqual(results.map((r) => [r.message.channel, r.message.seq, r.message.originSeq, r.duplicate]), [
        ['a', 1, 1, false],
        ['b', 1, 1, false],
        ['a', 2, 2, false],
      ]);
      const [first, , third] = results.map((r) => r.message);
      assert.equal(first!.origin, store.nodeId);
      assert.equal(first!.id.length, 32);
      assert.notDeepEqual(first!.id, third!.id);
      assert.equal(third!.uid, 'bob');
      assert.equal(third!.binary, false);
      assert.equal(first!.ts, clock);
      assert.deepEqual(store.bounds('a'), { first: 1, last: 2 });
      assert.deepEqual(store.bounds('none'), { first: 1, last: 0 });
      assert.deepEqual(store.stats(), { channels: 2, messages: 3, bytes: 3 });
      store.close();
    });

    test('a publish retried with the same client message id gets the same seq and stores nothing', () => {
      const store = fresh();
      const [first] = store.append([req('a', 'hello', { cid: 'c1' })]);
      const [again, other, otherUser] = store.append([
        req('a', 'hello', { cid: 'c1' }),
        req('a', 'world', { cid: 'c2' }),
        req('a', 'hello', { cid: 'c1', uid: 'bob' }),
      ]);
      assert.equal(again!.duplicate, true);
      assert.equal(again!.message.seq, first!.message.seq);
      assert.deepEqual(again!.message.id, first!.message.id);
      assert.equal(other!.message.seq, 2);
      assert.equal(otherUser!.duplicate, false, 'client ids are per uid');
      // A retry within the same batch is a duplicate too.
      const [x, y] = store.append([req('b', 'p', { cid: 'same' }), req('b', 'p', { cid: 'same' })]);
      assert.equal(y!.duplicate, true);
      assert.equal(y!.message.seq, x!.message.seq);
      assert.equal(store.stats().messages, 4);
      store.close();
    });

    test('lists the channels with messages stored, by name, paged by the last name seen', () => {
      const store = fresh();
      store.append([req('gone', 'old')]);
      clock += 10_000;
      store.append([req('b', '12'), req('a', '1'), req('c', 'x'), req('b', '3'), req('d', 'y')]);
      // A channel whose messages have all expired is not listed.
      assert.equal(store.enforceRetention({ count: 0, ageMs: 5000, bytes: 0 }, clock, 100), 1);
      assert.deepEqual(store.channels(undefined, 10).map((c) => c.channel), ['a', 'b', 'c', 'd']);
      assert.deepEqual(store.channels(undefined, 2), [
        { channel: 'a', count: 1, bytes: 1, last: 1 },
        { channel: 'b', count: 2, bytes: 3, last: 2 },
      ]);
      assert.deepEqual(store.channels('b', 10).map((c) => c.channel), ['c', 'd']);
      assert.deepEqual(store.channels('bb', 1).map((c) => c.channel), ['c']);
      assert.deepEqual(store.channels('d', 10), []);
      assert.deepEqual(fresh().channels(undefined, 10), []);
      store.close();
    });

    test('reads ranges by seq and time, either direction', () => {
      const store = fresh();
      for (let i = 1; i <= 10; i++) {
        clock = 2_000_000 + i * 10;
        store.append([req('a', String(i))]);
      }
      assert.deepEqual(payloads(store.read('a', { limit: 3 })), ['1', '2', '3']);
      assert.deepEqual(payloads(store.read('a', { after: 7, limit: 100 })), ['8', '9', '10']);
      assert.deepEqual(payloads(store.read('a', { after: 2, before: 5, limit: 100 })), ['3', '4']);
      assert.deepEqual(payloads(store.read('a', { before: 5, limit: 2, descending: true })), ['4', '3']);
      assert.deepEqual(payloads(store.read('a', { since: 2_000_030, until: 2_000_060, limit: 100 })), ['3', '4', '5']);
      assert.deepEqual(store.read('a', { after: 10, limit: 5 }), []);
      assert.deepEqual(store.read('nothing', { limit: 5 }), []);
      store.close();
    });

    test('looks messages up by id within a channel', () => {
      const store = fresh();
      const [a1, a2] = store.append([req('a', '1'), req('a', '2')]).map((r) => r.message);
      const [b1] = store.append([req('b', 'x')]).map((r) => r.message);
      const found = store.readByIds('a', [a2!.id, b1!.id, new Uint8Array(32), a1!.id]);
      assert.deepEqual(found.map((m) => m.seq), [1, 2]);
      store.close();
    });

    test('retention by count keeps the newest and never reuses sequence numbers', () => {
      const store = fresh();
      for (let i = 1; i <= 10; i++) store.append([req('a', String(i), { cid: `c${i}` })]);
      store.append([req('b', 'keep')]);
      const limits = { count: 4, ageMs: 0, bytes: 0 };
      assert.equal(store.enforceRetention(limits, clock, 4), 4, 'stops at the budget');
      assert.equal(store.enforceRetention(limits, clock, 100), 2);
      assert.equal(store.enforceRetention(limits, clock, 100), 0);
      assert.deepEqual(payloads(store.read('a', { limit: 100 })), ['7', '8', '9', '10']);
      assert.deepEqual(store.bounds('a'), { first: 7, last: 10 });
      assert.deepEqual(payloads(store.read('b', { limit: 100 })), ['keep']);
      const [next] = store.append([req('a', '11')]);
      assert.equal(next!.message.seq, 11);
      // A client id whose message retention removed is forgotten: a new publish is new.
      const [retried] = store.append([req('a', 'again', { cid: 'c1' })]);
      assert.equal(retried!.duplicate, false);
      store.close();
    });

    test('retention by age and by bytes', () => {
      const store = fresh();
      clock = 5_000_000;
      store.append([req('old', 'x'), req('old', 'y')]);
      clock = 5_010_000;
      store.append([req('old', 'z')]);
      assert.equal(store.enforceRetention({ count: 0, ageMs: 5000, bytes: 0 }, clock, 100), 2);
      assert.deepEqual(payloads(store.read('old', { limit: 10 })), ['z']);
      store.append([req('big', 'aaaa'), req('big', 'bbbb'), req('big', 'cccc')]);
      store.enforceRetention({ count: 0, ageMs: 0, bytes: 8 }, clock, 100);
      assert.deepEqual(payloads(store.read('big', { limit: 10 })), ['bbbb', 'cccc']);
      assert.equal(store.stats().bytes, 9);
      store.close();
    });

    test('a channel emptied by retention keeps counting', () => {
      const store = fresh();
      store.append([req('a', '1'), req('a', '2')]);
      store.enforceRetention({ count: 0, ageMs: 1, bytes: 0 }, clock + 10, 100);
      assert.deepEqual(store.bounds('a'), { first: 3, last: 2 });
      assert.equal(store.append([req('a', '3')])[0]!.message.seq, 3);
      store.close();
    });

    test("own messages chain their ids per channel, and lastId follows each origin's newest", () => {
      const store = fresh();
      const [a1, b1, a2] = store.append([req('a', 'one'), req('b', 'other'), req('a', 'two')]).map((r) => r.message);
      assert.deepEqual(Buffer.from(a1!.prev!), Buffer.from(NO_PREV), 'the first message of a channel starts the chain');
      assert.deepEqual(Buffer.from(a2!.prev!), Buffer.from(a1!.id), "the second covers the first's id");
      assert.deepEqual(Buffer.from(b1!.prev!), Buffer.from(NO_PREV), 'each channel has its own chain');
      assert.deepEqual(Buffer.from(a2!.id), Buffer.from(messageId({ ...a2!, prev: a1!.id })));
      const [read1, read2] = store.read('a', { limit: 10 });
      assert.deepEqual([Buffer.from(read1!.prev!), Buffer.from(read2!.prev!)], [Buffer.from(NO_PREV), Buffer.from(a1!.id)]);
      assert.equal(read2!.seal, undefined, 'own messages are sealed when sent, not stored with a seal');
      assert.deepEqual(Buffer.from(store.lastId('a', store.nodeId)!), Buffer.from(a2!.id));
      const seal = new Uint8Array(96).fill(5);
      const prev = new Uint8Array(32).fill(3);
      store.append([{ ...req('a', 'far'), replica: { origin: 'x', originSeq: 7, ts: 9, id: new Uint8Array(32).fill(8), prev, seal } }]);
      const [far] = store.read('a', { after: 2, limit: 10 });
      assert.deepEqual([Buffer.from(far!.prev!), Buffer.from(far!.seal!)], [Buffer.from(prev), Buffer.from(seal)], 'a replica keeps its prev and seal');
      assert.deepEqual(Buffer.from(store.readByIds('a', [far!.id])[0]!.seal!), Buffer.from(seal));
      assert.deepEqual(Buffer.from(store.lastId('a', 'x')!), Buffer.from(new Uint8Array(32).fill(8)));
      assert.equal(store.lastId('a', 'y'), undefined);
      assert.equal(store.lastId('none', 'x'), undefined);
      // The chain goes on from the newest own id, also after replicas.
      const [a3] = store.append([req('a', 'three')]);
      assert.deepEqual(Buffer.from(a3!.message.prev!), Buffer.from(a2!.id));
      store.close();
    });

    test('replicas keep their origin, get a local seq, and come once', () => {
      const store = fresh();
      const [own] = store.append([req('a', 'mine')]);
      const replica = (origin: string, originSeq: number, payload: string): AppendRequest => ({
        ...req('a', payload, { uid: 'remote' }),
        replica: { origin, originSeq, ts: 42, id: new Uint8Array(32).fill(originSeq), prev: new Uint8Array(32) },
      });
      const results = store.append([replica('x', 1, 'x1'), replica('x', 2, 'x2'), replica('x', 1, 'x1 again'), replica('y', 1, 'y1')]);
      assert.deepEqual(results.map((r) => [r.message.seq, r.duplicate]), [[2, false], [3, false], [0, true], [4, false]]);
      const stored = store.read('a', { after: 1, limit: 10 });
      assert.deepEqual(stored.map((m) => [m.origin, m.originSeq, m.ts, m.id[0]]), [['x', 1, 42, 1], ['x', 2, 42, 2], ['y', 1, 42, 1]]);
      assert.deepEqual([...store.vector('a')].sort(), [['x', 2], ['y', 1], [store.nodeId, 1]].sort());
      // A local publish after replicas continues this node's own origin seqs.
      const [next] = store.append([req('a', 'mine again')]);
      assert.deepEqual([next!.message.seq, next!.message.originSeq, next!.message.origin], [5, 2, store.nodeId]);
      assert.equal(own!.message.originSeq, 1);
      assert.deepEqual(store.vector('none'), new Map());
      store.close();
    });

    test('a replica past a hole in its origin\'s sequence is refused while the origin has messages here', () => {
      const store = fresh();
      const replica = (origin: string, originSeq: number): AppendRequest => ({
        ...req('a', `${origin}${originSeq}`, { uid: 'remote' }),
        replica: { origin, originSeq, ts: 42, id: new Uint8Array(32).fill(originSeq % 256), prev: new Uint8Array(32) },
      });
      // y is known here: a lying peer's y at 9e15 and one past a hole are refused, the next is taken.
      const results = store.append([replica('y', 1), replica('y', 9e15), replica('y', 3), replica('y', 2)]);
      assert.deepEqual(
        results.map((r) => [r.message.seq, r.duplicate, r.hole?.after]),
        [[1, false, undefined], [0, true, 1], [0, true, 1], [2, false, undefined]],
      );
      assert.deepEqual([...store.vector('a')], [['y', 2]]);
      assert.deepEqual(store.read('a', { limit: 10 }).map((m) => [m.origin, m.originSeq]), [['y', 1], ['y', 2]]);
      // An origin with nothing here may start anywhere (a peer's retention removed its
      // older messages), and is held to its sequence from then on.
      const [first, hole] = store.append([replica('x', 500), replica('x', 502)]);
      assert.deepEqual([first!.duplicate, hole!.hole?.after], [false, 500]);
      store.close();
    });

    test('asking about channels that do not exist makes none', () => {
      const store = fresh();
      for (let i = 0; i < 100; i++) {
        const name = `made-up-${i}`;
        assert.deepEqual(store.bounds(name), { first: 1, last: 0 });
        assert.deepEqual(store.read(name, { before: 50, limit: 10, descending: true }), []);
        assert.deepEqual(store.readByIds(name, [new Uint8Array(32)]), []);
        assert.equal(store.firstMissing(name, new Map()), undefined);
        store.vector(name).set('x', 1); // a copy: changing it changes nothing stored
        assert.deepEqual(store.vector(name), new Map());
      }
      assert.deepEqual(store.stats(), { channels: 0, messages: 0, bytes: 0 });
      assert.equal(store.append([req('made-up-0', 'first')])[0]!.message.seq, 1);
      store.close();
    });

    test('a read with maxBytes stops at the message that reaches it, either way round', () => {
      const store = fresh();
      const sizes = [10, 10, 1000, 10, 10, 500, 10];
      store.append(sizes.map((size, i) => req('a', String(i).repeat(size))));
      const seqs = (range: Parameters<Store['read']>[1]) => store.read('a', range).map((m) => m.seq);
      assert.deepEqual(seqs({ limit: 10, maxBytes: 15 }), [1, 2]);
      assert.deepEqual(seqs({ limit: 10, maxBytes: 20 }), [1, 2], 'the message that reaches the budget is the last');
      assert.deepEqual(seqs({ limit: 10, maxBytes: 21 }), [1, 2, 3]);
      assert.deepEqual(seqs({ after: 2, limit: 10, maxBytes: 1 }), [3], 'always at least one');
      assert.deepEqual(seqs({ after: 3, limit: 2, maxBytes: 10_000 }), [4, 5], 'the limit still applies');
      assert.deepEqual(seqs({ limit: 10, maxBytes: 520, descending: true }), [7, 6, 5]);
      assert.deepEqual(seqs({ before: 6, limit: 10, maxBytes: 1015, descending: true }), [5, 4, 3]);
      assert.deepEqual(seqs({ after: 7, limit: 10, maxBytes: 1 }), []);
      assert.deepEqual(store.read('none', { limit: 10, maxBytes: 1 }), []);
      store.close();
    });

    test('firstMissing finds the oldest message a peer lacks', () => {
      const store = fresh();
      const replica = (origin: string, originSeq: number): AppendRequest => ({
        ...req('a', `${origin}${originSeq}`),
        replica: { origin, originSeq, ts: 1, id: new Uint8Array(32), prev: new Uint8Array(32) },
      });
      // seqs: 1 x1, 2 own1, 3 x2, 4 y1, 5 own2, 6 x3
      store.append([replica('x', 1), req('a', 'own1'), replica('x', 2), replica('y', 1), req('a', 'own2'), replica('x', 3)]);
      const me = store.nodeId;
      assert.equal(store.firstMissing('a', new Map()), 1);
      assert.equal(store.firstMissing('a', new Map([['x', 3], ['y', 1], [me, 2]])), undefined);
      assert.equal(store.firstMissing('a', new Map([['x', 3], ['y', 1], [me, 1]])), 5);
      assert.equal(store.firstMissing('a', new Map([['x', 1], ['y', 1], [me, 2]])), 3);
      assert.equal(store.firstMissing('a', new Map([['x', 3], [me, 2]])), 4);
      assert.equal(store.firstMissing('a', new Map([['x', 9], ['y', 9], [me, 9]])), undefined, 'a peer ahead lacks nothing');
      assert.equal(store.firstMissing('none', new Map()), undefined);
      store.close();
    });
  });
}
