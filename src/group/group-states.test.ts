// Group states kept in memory and saved in parts (group-states.ts): a send saves only its
// ratchet, so these tests check that no restart, crash or second process on the same
// directory ever makes a sender use a generation (key and nonce) twice. A reader that
// gets a generation again cannot decrypt it: such a message would show up as skipped.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { MemoryIdentityPins, PinnedAuthenticationService } from './credential.ts';
import { GroupClient } from './group-client.ts';
import { GroupRecords } from './group-records.ts';
import { GroupStates, StateConflict } from './group-states.ts';
import { createInstallationIdentity } from './identity.ts';
import { LocalState } from './local-state.ts';
import { MemoryRelay } from './memory-relay.testkit.ts';
import {
  buildCommit,
  clientConfig,
  createGroupState,
  createKeyPackage,
  decodeKeyPackage,
  decodeState,
  encodeState,
  encryptApplication,
  joinFromWelcome,
  loadSuite,
  processIncoming,
  ratchetChanges,
  withRatchetNodes,
} from './mls.ts';
import type { CrashPoint } from './services.ts';
import { crashAt, tempDir, user } from './test-clients.testkit.ts';

function open(relay: MemoryRelay, uid: string, dataDir: string, crash?: { point: CrashPoint; armed: boolean }): Promise<GroupClient> {
  return user(relay, uid, dataDir, crashAt(crash));
}

/** Alice (in aliceDir) and bob in group g; bob has read up to the add. */
async function pair(relay: MemoryRelay, aliceDir: string): Promise<{ alice: GroupClient; bob: GroupClient }> {
  const alice = await open(relay, 'alice', aliceDir);
  const bob = await open(relay, 'bob', tempDir());
  await alice.create('g');
  await alice.add('g', ['bob']);
  await bob.sync();
  return { alice, bob };
}

const lines = (c: GroupClient): string[] => c.messages('g').map((m) => `${m.sender.uid}: ${m.text}`);

test('sends after a restart continue the ratchet: no generation is used twice', async () => {
  const relay = new MemoryRelay();
  const aliceDir = tempDir();
  let { alice, bob } = await pair(relay, aliceDir);
  for (const text of ['one', 'two', 'three']) await alice.send('g', text);
  await alice.close();
  alice = await open(relay, 'alice', aliceDir);
  for (const text of ['four', 'five']) await alice.send('g', text);
  await alice.close();
  alice = await open(relay, 'alice', aliceDir);
  await alice.send('g', 'six');
  await bob.sync('g');
  assert.deepEqual(bob.skipped('g'), []);
  assert.deepEqual(lines(bob), ['one', 'two', 'three', 'four', 'five', 'six'].map((t) => `alice: ${t}`));
  await Promise.all([alice.close(), bob.close()]);
});

for (const point of ['stored-not-sent', 'sent-not-read'] as const) {
  test(`sends that crash at ${point} and go on after a restart never reuse a generation`, async () => {
    const relay = new MemoryRelay();
    const aliceDir = tempDir();
    const first = await pair(relay, aliceDir);
    let alice = first.alice;
    const bob = first.bob;
    await alice.send('g', 'before');
    for (let i = 0; i < 3; i++) {
      await alice.close();
      const crash = { point, armed: true };
      alice = await open(relay, 'alice', aliceDir, crash);
      await assert.rejects(alice.send('g', `crashed ${i}`), /crash at/);
      await alice.send('g', `after ${i}`);
    }
    await bob.sync('g');
    assert.deepEqual(bob.skipped('g'), []);
    assert.deepEqual(lines(bob), ['before', 'crashed 0', 'after 0', 'crashed 1', 'after 1', 'crashed 2', 'after 2'].map((t) => `alice: ${t}`));
    await Promise.all([alice.close(), bob.close()]);
  });
}

test('two clients on one directory take turns without reusing a generation', async () => {
  const relay = new MemoryRelay();
  const aliceDir = tempDir();
  const { alice, bob } = await pair(relay, aliceDir);
  const other = await open(relay, 'alice', aliceDir);
  await alice.send('g', 'a1');
  await other.send('g', 'b1');
  await alice.send('g', 'a2');
  await bob.send('g', 'from bob');
  await other.send('g', 'b2');
  await alice.send('g', 'a3');
  await bob.sync('g');
  assert.deepEqual(bob.skipped('g'), []);
  assert.deepEqual(lines(bob), ['alice: a1', 'alice: b1', 'alice: a2', 'bob: from bob', 'alice: b2', 'alice: a3']);
  await Promise.all([alice.close(), other.close(), bob.close()]);
});

test('two clients publishing the same queued sends at once: each lands once and is readable', async () => {
  const relay = new MemoryRelay();
  const aliceDir = tempDir();
  const { alice, bob } = await pair(relay, aliceDir);
  const other = await open(relay, 'alice', aliceDir);
  await other.sync('g');
  const first = alice.queue('g', 'send', { text: 'from the first' });
  const second = other.queue('g', 'send', { text: 'from the second' });
  // Both load the same state, then both encrypt before either saves (each client sees
  // both queued intents: the directory is shared).
  await Promise.all([alice.publishQueued('g'), other.publishQueued('g')]);
  await alice.sync('g');
  for (const id of [first, second]) assert.equal(alice.intent(id)?.state, 'COMMITTED');
  await bob.sync('g');
  assert.deepEqual(bob.skipped('g'), []);
  assert.deepEqual(lines(bob).toSorted(), ['alice: from the first', 'alice: from the second']);
  await Promise.all([alice.close(), other.close(), bob.close()]);
});

test('a save built from a state another connection has replaced is refused', async () => {
  const relay = new MemoryRelay();
  const dir = tempDir();
  const alice = await open(relay, 'alice', dir);
  await alice.create('g');
  await alice.close();
  const cs = await loadSuite();
  const config = clientConfig(new PinnedAuthenticationService(cs.signature, new MemoryIdentityPins()));
  const connect = () => {
    const local = new LocalState(dir);
    return { local, states: new GroupStates(local, new GroupRecords(local), config) };
  };
  const one = connect();
  const two = connect();
  const fromOne = one.states.load('g');
  const fromTwo = two.states.load('g');
  const a = await encryptApplication(cs, fromOne.state, new TextEncoder().encode('a'));
  const b = await encryptApplication(cs, fromTwo.state, new TextEncoder().encode('b'));
  one.states.save('g', fromOne, a.state);
  assert.throws(() => two.states.save('g', fromTwo, b.state), StateConflict);
  // The refused save left nothing behind, and the second connection now sees the first's.
  assert.deepEqual(encodeState(two.states.load('g').state), encodeState(a.state));
  one.local.close();
  two.local.close();
});

test('messages change only ratchet nodes, and laying them over the old state gives the new one', async () => {
  const cs = await loadSuite();
  const config = clientConfig(new PinnedAuthenticationService(cs.signature, new MemoryIdentityPins()));
  const kp = async (uid: string) => {
    const id = await createInstallationIdentity(cs, uid);
    return createKeyPackage(cs, id.credential, id.signatureKey);
  };
  const creator = await createGroupState(cs, new Uint8Array(16).fill(7), await kp('alice'), config);
  const bobKp = await kp('bob');
  const add = await buildCommit(cs, creator, { add: [decodeKeyPackage(bobKp.publicBytes)!] });
  let alice = add.state;
  let bob = await joinFromWelcome(cs, add.welcome!, bobKp, config);
  const early = await encryptApplication(cs, alice, new TextEncoder().encode('written before the commit'));
  alice = early.state;
  const update = await buildCommit(cs, alice, {});
  assert.equal(ratchetChanges(alice, update.state), undefined, 'a commit changes more than ratchets');
  const applied = await processIncoming(cs, bob, update.commit, () => true);
  assert.equal(applied.kind, 'commit');
  if (applied.kind !== 'commit') return;
  bob = applied.state;
  const saved = encodeState(bob);

  // Bob reads a past-epoch message and a current one, then sends: three changed nodes.
  const late = await processIncoming(cs, bob, early.message, () => true);
  assert.equal(late.kind, 'application');
  if (late.kind !== 'application') return;
  const now = await encryptApplication(cs, update.state, new TextEncoder().encode('current'));
  const read = await processIncoming(cs, late.state, now.message, () => true);
  assert.equal(read.kind, 'application');
  if (read.kind !== 'application') return;
  const sent = await encryptApplication(cs, read.state, new TextEncoder().encode('reply'));
  const nodes = ratchetChanges(bob, sent.state);
  assert.ok(nodes !== undefined);
  assert.equal(nodes.length, 3);
  assert.deepEqual(new Set(nodes.map((n) => n.epoch)), new Set([1n, 2n]));
  const rebuilt = withRatchetNodes(decodeState(saved, config), nodes);
  assert.deepEqual(encodeState(rebuilt), encodeState(sent.state));
});

test('a schema 1 database is upgraded in place, to schema 3', () => {
  const dir = tempDir();
  new LocalState(dir).close();
  const raw = new DatabaseSync(join(dir, 'groups.sqlite'));
  raw.exec("ALTER TABLE groups DROP COLUMN state_token; DROP TABLE ratchet_nodes; UPDATE meta SET value = '1' WHERE key = 'schema'");
  for (const column of ['orderer', 'order_n', 'order_hash', 'order_problem', 'join_epoch', 'admin', 'pending_handover']) raw.exec(`ALTER TABLE groups DROP COLUMN ${column}`);
  for (const column of ['committed_order', 'published_at']) raw.exec(`ALTER TABLE intents DROP COLUMN ${column}`);
  raw.exec('DROP TABLE order_log; DROP TABLE held');
  raw.close();
  const local = new LocalState(dir);
  assert.equal(local.getMeta('schema'), '3');
  const columns = (local.db.prepare('PRAGMA table_info(groups)').all() as Array<{ name: string }>).map((c) => c.name);
  assert.ok(columns.includes('state_token'));
  assert.ok(columns.includes('orderer'));
  local.close();
});
