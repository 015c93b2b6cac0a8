// Sync and intents against an in-memory relay: races, past epochs, catching up, removed
// members and bad envelopes. The end-to-end tests under test/ repeat the main paths
// against a real node.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMlsMessage, encodeMlsMessage } from 'ts-mls';
import { encodeGroupMls } from './envelope.ts';
import { GroupClient } from './group-client.ts';
import { MemoryRelay } from './memory-relay.testkit.ts';
import { RETAINED_EPOCHS } from './mls.ts';
import type { GroupHooks } from './services.ts';
import { lines, tempDir, user } from './test-clients.testkit.ts';

async function trio(relay: MemoryRelay, group: string): Promise<GroupClient[]> {
  const users = [await user(relay, 'alice'), await user(relay, 'bob'), await user(relay, 'carol')];
  await users[0]!.create(group);
  await users[0]!.add(group, ['bob', 'carol']);
  for (const u of users) await u.sync();
  return users;
}

test('concurrent add and remove both take effect; the losing add sends no Welcome, the winning one sends one', async () => {
  const relay = new MemoryRelay();
  const [alice, bob, carol] = await trio(relay, 'g');
  const dave = await user(relay, 'dave');
  const epoch = alice!.epoch('g');
  bob!.queue('g', 'remove', { uids: ['carol'] });
  const add = alice!.queue('g', 'add', { uids: ['dave'] });
  await bob!.publishQueued('g'); // first in channel order: the remove wins
  await alice!.publishQueued('g'); // the add was built for the same epoch: it loses
  await alice!.sync('g'); // the add is rebuilt for the next epoch and lands
  assert.equal(alice!.intent(add)?.state, 'COMMITTED');
  assert.equal(relay.messages(`mls/inbox/dave/${dave.installation}`).length, 1);
  for (const u of [bob!, carol!, dave]) await u.sync();
  for (const u of [alice!, bob!, dave]) {
    assert.deepEqual(u.members('g').map((m) => m.uid).sort(), ['alice', 'bob', 'dave']);
    assert.equal(u.epoch('g'), epoch + 2);
  }
  assert.equal(carol!.status('g'), 'removed');
  await alice!.send('g', 'welcome dave');
  await dave.sync('g');
  assert.deepEqual(lines(dave, 'g'), ['alice: welcome dave']);
  await Promise.all([alice!, bob!, carol!, dave].map((u) => u.close()));
});

test('a message encrypted just before a commit is read after it', async () => {
  const relay = new MemoryRelay();
  const [alice, bob, carol] = await trio(relay, 'g');
  bob!.queue('g', 'update');
  alice!.queue('g', 'send', { text: 'written in the old epoch' });
  await bob!.publishQueued('g');
  await alice!.publishQueued('g'); // lands after bob's commit
  for (const u of [alice!, bob!, carol!]) await u.sync();
  for (const u of [alice!, bob!, carol!]) assert.deepEqual(lines(u, 'g'), ['alice: written in the old epoch']);
  assert.deepEqual(bob!.skipped('g'), []);
  await Promise.all([alice!, bob!, carol!].map((u) => u.close()));
});

test('a message too old to read is re-sent by its author and delivered once', async () => {
  const relay = new MemoryRelay();
  const aliceDir = tempDir();
  let crash = false;
  const hooks: GroupHooks = {
    reached(point) {
      if (crash && point === 'stored-not-sent') throw new Error('crash');
    },
  };
  const alice = await user(relay, 'alice', aliceDir, hooks);
  const bob = await user(relay, 'bob');
  await alice.create('g');
  await alice.add('g', ['bob']);
  await bob.sync();
  alice.queue('g', 'send', { text: 'late' });
  crash = true;
  await assert.rejects(alice.publishQueued('g'), /crash/); // stored for this epoch, not sent
  await alice.close();
  for (let i = 0; i < RETAINED_EPOCHS + 2; i++) await bob.updateKeys('g');
  crash = false;
  const again = await user(relay, 'alice', aliceDir, hooks);
  await again.sync('g'); // sends the stored bytes; they are too old for anyone
  await again.sync('g'); // the intent builds the message again for the current epoch
  await bob.sync('g');
  assert.deepEqual(lines(bob, 'g'), ['alice: late']);
  assert.deepEqual(lines(again, 'g'), ['alice: late']);
  assert.deepEqual(bob.skipped('g').map((s) => s.problem), ['too-old']);
  await Promise.all([again.close(), bob.close()]);
});

test('a message written 8 epochs back and delivered only then, as after a partition, is read by everyone once', async () => {
  const relay = new MemoryRelay();
  const aliceDir = tempDir();
  let cut = false;
  const hooks: GroupHooks = {
    reached(point) {
      if (cut && point === 'stored-not-sent') throw new Error('cut');
    },
  };
  const alice = await user(relay, 'alice', aliceDir, hooks);
  const [bob, carol] = [await user(relay, 'bob'), await user(relay, 'carol')];
  await alice.create('g');
  await alice.add('g', ['bob', 'carol']);
  await Promise.all([bob.sync(), carol.sync()]);
  const written = alice.epoch('g');
  const sent = alice.queue('g', 'send', { text: 'from the other side' });
  cut = true;
  await assert.rejects(alice.publishQueued('g'), /cut/); // encrypted for this epoch; nobody has it yet
  await alice.close();
  // Meanwhile the others move on: each update is a commit, an epoch. 8 is the bound
  // docs/groups.md promises (RETAINED_EPOCHS).
  const behind = 8;
  for (let i = 0; i < behind; i++) await (i % 2 === 0 ? bob : carol).updateKeys('g');
  await Promise.all([bob.sync(), carol.sync()]);
  assert.equal(bob.epoch('g'), written + behind);
  cut = false;
  const healed = await user(relay, 'alice', aliceDir, hooks);
  await healed.sync('g'); // the bytes written back then reach the channel now
  await Promise.all([bob.sync(), carol.sync(), healed.sync('g')]);
  for (const [name, u] of [['alice', healed], ['bob', bob], ['carol', carol]] as const) {
    assert.deepEqual(lines(u, 'g'), ['alice: from the other side'], name);
    // A message nobody could read would show as too-old here (and be built again).
    assert.deepEqual(u.skipped('g'), [], name);
  }
  assert.equal(healed.intent(sent)?.state, 'COMMITTED', 'delivered as written, not built again');
  await Promise.all([healed.close(), bob.close(), carol.close()]);
});

test('an offline member catches up over many commits and messages, in order', async () => {
  const relay = new MemoryRelay();
  const [alice, bob, carol] = await trio(relay, 'g');
  const expected: string[] = [];
  for (let i = 0; i < 12; i++) {
    await (i % 2 === 0 ? alice! : bob!).updateKeys('g');
    for (const [who, c] of [['alice', alice!], ['bob', bob!]] as const) {
      await c.send('g', `m${i}-${who}`);
      expected.push(`${who}: m${i}-${who}`);
    }
  }
  await alice!.sync('g');
  await carol!.sync();
  assert.equal(carol!.epoch('g'), alice!.epoch('g'));
  assert.deepEqual(lines(carol!, 'g'), expected);
  assert.deepEqual(lines(alice!, 'g'), expected);
  await Promise.all([alice!, bob!, carol!].map((u) => u.close()));
});

test('a removed member cannot read or send, and its late commit is rejected by all', async () => {
  const relay = new MemoryRelay();
  const [alice, bob, carol] = await trio(relay, 'g');
  carol!.queue('g', 'update');
  carol!.queue('g', 'send', { text: 'from carol, too late' });
  await alice!.remove('g', ['carol']);
  await alice!.send('g', 'after carol');
  await carol!.publishQueued('g'); // built before carol saw her removal
  await bob!.sync('g');
  await alice!.sync('g');
  await carol!.sync('g');
  assert.equal(carol!.status('g'), 'removed');
  assert.deepEqual(lines(carol!, 'g'), []);
  for (const u of [alice!, bob!]) {
    assert.deepEqual(lines(u, 'g'), ['alice: after carol']);
    assert.deepEqual(u.skipped('g').map((s) => s.problem).sort(), ['not-member', 'stale-commit']);
    assert.deepEqual(u.members('g').map((m) => m.uid), ['alice', 'bob']);
  }
  await assert.rejects(carol!.send('g', 'hello?'), { code: 'NOT_MEMBER' });
  await Promise.all([alice!, bob!, carol!].map((u) => u.close()));
});

test('garbage, duplicated, replayed, unordered and future-epoch envelopes are recorded and passed over', async () => {
  const relay = new MemoryRelay();
  const [alice, bob] = await trio(relay, 'g');
  const channel = 'mls/group/g';
  await alice!.send('g', 'one');
  const sent = relay.messages(channel).at(-1)!.payload;
  relay.inject(channel, 'mallory', new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  relay.inject(channel, 'mallory', sent); // the same bytes again
  const ordered = relay.messages(channel).find((m) => m.payload[0] === 3)!.payload; // the add commit, ordered
  relay.inject(channel, 'mallory', ordered); // replayed
  const submission = relay.messages(channel).find((m) => m.payload[0] === 2)!.payload;
  relay.inject(channel, 'mallory', encodeGroupMls(submission.subarray(1))); // a commit outside the order
  const message = decodeMlsMessage(sent.subarray(1), 0)![0];
  assert.equal(message.wireformat, 'mls_private_message');
  if (message.wireformat !== 'mls_private_message') return;
  const future = { ...message, privateMessage: { ...message.privateMessage, epoch: message.privateMessage.epoch + 5n } };
  relay.inject(channel, 'mallory', encodeGroupMls(encodeMlsMessage(future)));
  await alice!.send('g', 'two');
  await bob!.sync('g');
  assert.deepEqual(lines(bob!, 'g'), ['alice: one', 'alice: two']);
  await alice!.sync('g');
  // Bob joined after the add commit, so its replay is from before his time: passed over.
  assert.deepEqual(bob!.skipped('g').map((s) => s.problem), ['garbage', 'duplicate', 'unordered']);
  assert.deepEqual(alice!.skipped('g').map((s) => s.problem), ['garbage', 'duplicate', 'duplicate', 'unordered']);
  // A message of a future epoch waits for the commit that would start it.
  assert.equal(bob!.report('g').held, 1);
  assert.deepEqual(lines(alice!, 'g'), ['alice: one', 'alice: two']);
  await Promise.all([alice!, bob!].map((u) => u.close()));
});
