// Crash points: the client is stopped by a throwing hook at each point where a crash
// can leave work half done, then opened again on the same state directory.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupClient } from './group-client.ts';
import { MemoryRelay } from './memory-relay.testkit.ts';
import type { CrashPoint } from './services.ts';
import { crashAt, tempDir, user } from './test-clients.testkit.ts';

function open(relay: MemoryRelay, uid: string, dataDir: string, crash?: { point: CrashPoint; armed: boolean }): Promise<GroupClient> {
  return user(relay, uid, dataDir, crashAt(crash));
}

const groupChannel = 'mls/group/g';

for (const point of ['stored-not-sent', 'sent-not-read', 'committed-no-welcome'] as const) {
  test(`an add that crashes at ${point} completes after a restart, once`, async () => {
    const relay = new MemoryRelay();
    const aliceDir = tempDir();
    const crash = { point, armed: false };
    const alice = await open(relay, 'alice', aliceDir, crash);
    const bob = await open(relay, 'bob', tempDir());
    await alice.create('g');
    crash.armed = true;
    await assert.rejects(alice.add('g', ['bob']), /crash at/);
    await alice.close();

    const restarted = await open(relay, 'alice', aliceDir);
    await restarted.sync();
    const commits = relay.messages(groupChannel).filter((m) => m.payload[0] === 2);
    assert.equal(commits.length, 1, 'one commit in the channel');
    assert.equal(relay.messages(`mls/inbox/bob/${bob.installation}`).length, 1, 'one Welcome');
    await bob.sync();
    assert.deepEqual(bob.members('g').map((m) => m.uid), ['alice', 'bob']);
    assert.equal(bob.epoch('g'), restarted.epoch('g'));
    await Promise.all([restarted.close(), bob.close()]);
  });
}

for (const point of ['stored-not-sent', 'sent-not-read'] as const) {
  test(`a message that crashes at ${point} is delivered once after a restart`, async () => {
    const relay = new MemoryRelay();
    const aliceDir = tempDir();
    const crash = { point, armed: false };
    const alice = await open(relay, 'alice', aliceDir, crash);
    const bob = await open(relay, 'bob', tempDir());
    await alice.create('g');
    await alice.add('g', ['bob']);
    const before = relay.messages(groupChannel).length;
    crash.armed = true;
    await assert.rejects(alice.send('g', 'survives'), /crash at/);
    await alice.close();

    const restarted = await open(relay, 'alice', aliceDir);
    await restarted.sync('g');
    assert.equal(relay.messages(groupChannel).length, before + 1, 'sent exactly once');
    await bob.sync();
    for (const c of [restarted, bob]) assert.deepEqual(c.messages('g').map((m) => `${m.sender.uid}: ${m.text}`), ['alice: survives']);
    await Promise.all([restarted.close(), bob.close()]);
  });
}
