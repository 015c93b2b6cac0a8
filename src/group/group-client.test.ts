import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRelay } from './memory-relay.testkit.ts';
import { lines, user } from './test-clients.testkit.ts';

test('create, add, send, read, remove: members agree and authors are verified', async () => {
  const relay = new MemoryRelay();
  const alice = await user(relay, 'alice');
  const bob = await user(relay, 'bob');
  await alice.create('team');
  await alice.add('team', ['bob']);
  await bob.sync();
  assert.deepEqual(bob.members('team').map((m) => m.uid), ['alice', 'bob']);
  await alice.send('team', 'hi bob');
  await bob.send('team', 'hi alice');
  await alice.sync('team');
  await bob.sync('team');
  assert.deepEqual(lines(alice, 'team'), ['alice: hi bob', 'bob: hi alice']);
  assert.deepEqual(lines(bob, 'team'), lines(alice, 'team'));
  await alice.remove('team', ['bob']);
  await alice.send('team', 'bob is gone');
  await bob.sync();
  assert.equal(bob.status('team'), 'removed');
  assert.ok(!lines(bob, 'team').includes('alice: bob is gone'));
  await assert.rejects(bob.send('team', 'let me in'), { code: 'NOT_MEMBER' });
  await Promise.all([alice.close(), bob.close()]);
});

test('adding a uid that never ran a group command fails with NO_KEY_PACKAGES', async () => {
  const relay = new MemoryRelay();
  const alice = await user(relay, 'alice');
  await alice.create('solo');
  await assert.rejects(alice.add('solo', ['nobody']), { code: 'NO_KEY_PACKAGES' });
  await alice.close();
});

test('a second group with a taken name is refused', async () => {
  const relay = new MemoryRelay();
  const alice = await user(relay, 'alice');
  const bob = await user(relay, 'bob');
  await alice.create('taken');
  await assert.rejects(bob.create('taken'), { code: 'GROUP_EXISTS' });
  await Promise.all([alice.close(), bob.close()]);
});

test('concurrent commits in one epoch: the first wins, the other is rebuilt and lands', async () => {
  const relay = new MemoryRelay();
  const alice = await user(relay, 'alice');
  const bob = await user(relay, 'bob');
  const carol = await user(relay, 'carol');
  const dave = await user(relay, 'dave');
  await alice.create('race');
  await alice.add('race', ['bob', 'carol']);
  await bob.sync();
  await carol.sync();
  const epoch = alice.epoch('race');
  assert.equal(bob.epoch('race'), epoch);
  // Both build a commit for the same epoch and publish before seeing the other's.
  const aliceAdds = alice.queue('race', 'add', { uids: ['dave'] });
  const bobRemoves = bob.queue('race', 'remove', { uids: ['carol'] });
  alice.queue('race', 'send', { text: 'sent alongside the add' });
  await alice.publishQueued('race');
  await bob.publishQueued('race');
  for (const c of [alice, bob, carol]) await c.sync();
  // Bob's remove lost (alice's add came first): rebuilt for the next epoch and landed.
  await bob.sync('race');
  await alice.sync('race');
  await dave.sync();
  await carol.sync();
  assert.equal(alice.intent(aliceAdds)?.state, 'COMMITTED');
  assert.equal(bob.intent(bobRemoves)?.state, 'COMMITTED');
  assert.ok(bob.intent(bobRemoves)!.attempts >= 2);
  assert.equal(carol.status('race'), 'removed');
  const members = ['alice', 'bob', 'dave'];
  for (const c of [alice, bob, dave]) {
    assert.deepEqual(c.members('race').map((m) => m.uid).sort(), members);
    assert.equal(c.epoch('race'), epoch + 2);
  }
  assert.deepEqual(lines(bob, 'race'), ['alice: sent alongside the add']);
  assert.deepEqual(lines(alice, 'race'), ['alice: sent alongside the add']);
  // One Welcome, for dave only, from the winning commit.
  const daveInbox = relay.messages(`mls/inbox/dave/${dave.installation}`);
  assert.equal(daveInbox.length, 1);
  await Promise.all([alice.close(), bob.close(), carol.close(), dave.close()]);
});

test('leave: the request lands, the lowest remaining member commits it, the leaver ends as left', async () => {
  const relay = new MemoryRelay();
  const alice = await user(relay, 'alice');
  const bob = await user(relay, 'bob');
  const carol = await user(relay, 'carol');
  await alice.create('g');
  await alice.add('g', ['bob', 'carol']);
  await carol.sync();
  await carol.leave('g');
  assert.equal(carol.status('g'), 'active'); // asked; not yet committed
  await bob.sync(); // bob is not the lowest leaf: he only records the request
  await alice.sync('g'); // alice (leaf 0) commits the removal
  await bob.sync();
  await carol.sync();
  assert.equal(carol.status('g'), 'left');
  for (const c of [alice, bob]) assert.deepEqual(c.members('g').map((m) => m.uid), ['alice', 'bob']);
  assert.equal(alice.epoch('g'), bob.epoch('g'));
  await Promise.all([alice.close(), bob.close(), carol.close()]);
});
