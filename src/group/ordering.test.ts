// Members and the group's ordering node, over an in-memory relay that orders like a
// node: a commit waits while the ordering node cannot be reached, and members detect a
// misbehaving one (forged, conflicting or missing records) and say so.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeOrdered, encodeOrdered, encodeSubmission, orderedHash, signOrdered } from '../ordering/wire.ts';
import { GroupClient } from './group-client.ts';
import { MemoryRelay, orderingKey } from './memory-relay.testkit.ts';
import { lines, tempDir, user } from './test-clients.testkit.ts';

test('a commit waits (PENDING) while the ordering node is out of reach, says why, and applies once ordered', async () => {
  const relay = new MemoryRelay();
  const alice = await GroupClient.open({ uid: 'alice', dataDir: tempDir(), relay: relay.as('alice'), orderWaitMs: 50 });
  const bob = await user(relay, 'bob');
  await alice.create('g');
  relay.ordering = false;
  await assert.rejects(alice.add('g', ['bob']), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PENDING');
    assert.match(error.message, /^add \(intent \d+\) is not applied yet: submitted for epoch 0; waits for the ordering node [0-9a-f]{32} \(this node\) to order it/);
    return true;
  });
  // Messages do not wait for it.
  await alice.send('g', 'still talking');
  const report = alice.report('g');
  assert.equal(report.pending.length, 1);
  assert.equal(report.pending[0]!.kind, 'add');
  assert.equal(alice.members('g').length, 1);
  relay.ordering = true;
  await alice.sync('g');
  assert.deepEqual(alice.report('g').pending, []);
  await bob.sync();
  assert.deepEqual(bob.members('g').map((m) => m.uid), ['alice', 'bob']);
  await alice.send('g', 'hello bob');
  await bob.sync('g');
  assert.deepEqual(lines(bob, 'g'), ['alice: hello bob']);
  await Promise.all([alice.close(), bob.close()]);
});

test('a record not signed by the ordering node is passed over; commits go on', async () => {
  const relay = new MemoryRelay();
  const alice = await user(relay, 'alice');
  const bob = await user(relay, 'bob');
  await alice.create('g');
  await alice.add('g', ['bob']);
  await bob.sync();
  const channel = 'mls/group/g';
  const real = decodeOrdered(relay.messages(channel).find((m) => m.payload[0] === 3)!.payload)!;
  const mallory = orderingKey();
  const forged = signOrdered({ groupId: real.groupId, n: real.n + 1, prev: orderedHash(real), submission: encodeSubmission(new Uint8Array([1, 2])) }, mallory.privateKey, mallory.publicKey);
  relay.inject(channel, 'mallory', encodeOrdered(forged));
  await bob.updateKeys('g');
  await alice.sync('g');
  assert.equal(alice.epoch('g'), 2);
  assert.deepEqual(alice.skipped('g').map((s) => s.problem), ['forged-order']);
  assert.equal(alice.report('g').orderProblem, undefined);
  await Promise.all([alice.close(), bob.close()]);
});

test('two different records for one number, or a missing number, stop commits and are reported', async () => {
  for (const kind of ['conflict', 'gap'] as const) {
    const relay = new MemoryRelay();
    const alice = await user(relay, 'alice');
    const bob = await user(relay, 'bob');
    await alice.create('g');
    await alice.add('g', ['bob']);
    await bob.sync();
    await alice.updateKeys('g');
    await bob.sync('g');
    const channel = 'mls/group/g';
    const real = decodeOrdered(relay.messages(channel).findLast((m) => m.payload[0] === 3)!.payload)!;
    assert.equal(real.n, 2);
    // The ordering node's own key: it (or whoever holds its key) misbehaves.
    const other = encodeSubmission(new Uint8Array([9, 9, 9]));
    const bad = kind === 'conflict' ? { ...real, submission: other } : { groupId: real.groupId, n: real.n + 2, prev: orderedHash(real), submission: other };
    relay.inject(channel, 'parley-orderer', encodeOrdered(signOrdered(bad, relay.key.privateKey, relay.key.publicKey)));
    const seen: string[] = [];
    bob.on('misbehaviour', (e) => seen.push(e.problem));
    await bob.sync('g');
    assert.deepEqual(seen, [kind === 'conflict' ? 'order-conflict' : 'order-gap']);
    assert.match(bob.report('g').orderProblem!, kind === 'conflict' ? /two different records numbered 2/ : /record 4 came before record 3, which is missing/);
    // Messages are still read; commits are no longer applied.
    await alice.send('g', 'still readable');
    const next = { groupId: real.groupId, n: real.n + 1, prev: orderedHash(real), submission: encodeSubmission(new Uint8Array([7])) };
    relay.inject(channel, 'parley-orderer', encodeOrdered(signOrdered(next, relay.key.privateKey, relay.key.publicKey)));
    await bob.sync('g');
    assert.deepEqual(lines(bob, 'g'), ['alice: still readable']);
    assert.equal(bob.skipped('g').at(-1)!.problem, 'order-stalled');
    assert.equal(bob.epoch('g'), 2);
    await Promise.all([alice.close(), bob.close()]);
  }
});

test('the admin hands the ordering to another node: a commit that waited is ordered by it, and members follow', async () => {
  const relay = new MemoryRelay();
  const open = (uid: string): Promise<GroupClient> => GroupClient.open({ uid, dataDir: tempDir(), relay: relay.as(uid), orderWaitMs: 50 });
  const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
  await bob.init();
  await alice.create('g');
  await alice.add('g', ['bob']);
  await bob.sync();
  const old = relay.key.nodeId;
  relay.ordering = false; // the ordering node is gone for good
  await assert.rejects(bob.updateKeys('g'), (error: Error & { code?: string }) => error.code === 'PENDING');
  relay.becomeAnotherNode();
  relay.ordering = true;
  assert.equal(bob.report('g').pending.length, 1, 'the new node does not order a group it was not handed');
  await assert.rejects(bob.handover('g', relay.key.nodeId), (error: Error & { code?: string }) => error.code === 'NOT_ADMIN');
  assert.deepEqual(await alice.handover('g', relay.key.nodeId), { afterN: 1 });
  await bob.sync('g');
  assert.deepEqual(bob.report('g').pending, []);
  for (const member of [alice, bob]) {
    assert.equal(member.report('g').orderer, relay.key.nodeId);
    assert.notEqual(member.report('g').orderer, old);
    assert.equal(member.epoch('g'), 2);
    assert.equal(member.report('g').orderProblem, undefined);
  }
  await alice.send('g', 'after the handover');
  await bob.sync('g');
  assert.deepEqual(lines(bob, 'g'), ['alice: after the handover']);
  await Promise.all([alice.close(), bob.close()]);
});
