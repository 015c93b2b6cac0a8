// GroupClient over a real node: a commit race in one epoch, and a send that crashes
// after being stored, re-sent after a restart with the same cid, seen once.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ParleyClient } from '../src/client/index.ts';
import { GroupClient, type CrashPoint } from '../src/group/index.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

describe('GroupClient against a node', () => {
  let node: NodeProcess;
  let dir: string;
  before(async () => {
    node = await startNode();
    dir = mkdtempSync(join(tmpdir(), 'parley-group-node-'));
  });
  after(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (uid: string, crash?: { point: CrashPoint; armed: boolean }): Promise<GroupClient> =>
    GroupClient.open({
      url: node.wsUrl,
      uid,
      dataDir: join(dir, uid),
      hooks: {
        reached(point) {
          if (crash?.armed === true && crash.point === point) {
            crash.armed = false;
            throw new Error(`crash at ${point}`);
          }
        },
      },
    });

  test('two commits for one epoch: both land, members agree, the message survives', async (t) => {
    const [alice, bob, carol] = await Promise.all([open('alice'), open('bob'), open('carol')]);
    // Closed however the test ends: an open client's timers would keep the file running.
    t.after(() => Promise.all([alice.close(), bob.close(), carol.close()]));
    await Promise.all([bob.init(), carol.init()]);
    await alice.create('race');
    await alice.add('race', ['bob']);
    await bob.sync();
    const epoch = alice.epoch('race');
    alice.queue('race', 'update');
    bob.queue('race', 'add', { uids: ['carol'] });
    bob.queue('race', 'send', { text: 'next to the race' });
    await Promise.all([alice.publishQueued('race'), bob.publishQueued('race')]);
    // The node orders each commit in a turn of its own, and bob's welcome to carol goes
    // out only once his commit is ordered and applied: sync until carol is in.
    const deadline = Date.now() + 15_000;
    for (;;) {
      await Promise.all([alice.sync(), bob.sync(), carol.sync()]);
      if ([alice, bob, carol].every((c) => c.groups().some((g) => g.name === 'race' && g.epoch === epoch + 2))) break;
      assert.ok(Date.now() < deadline, 'every member reaches the epoch after both commits within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 50)); // a sync has no event to await for the node's ordering
    }
    for (const c of [alice, bob, carol]) {
      assert.deepEqual(c.members('race').map((m) => m.uid), ['alice', 'bob', 'carol']);
      assert.equal(c.epoch('race'), epoch + 2);
    }
    for (const c of [alice, bob]) assert.deepEqual(c.messages('race').map((m) => `${m.sender.uid}: ${m.text}`), ['bob: next to the race']);
  });

  test('a send stored but not sent before a crash goes out once after a restart', async () => {
    const crash = { point: 'stored-not-sent' as CrashPoint, armed: false };
    const dan = await open('dan', crash);
    const erin = await open('erin');
    await erin.init();
    await dan.create('crashy');
    await dan.add('crashy', ['erin']);
    crash.armed = true;
    await assert.rejects(dan.send('crashy', 'once only'), /crash at/);
    await dan.close();
    const again = await open('dan');
    await again.sync('crashy');
    await erin.sync();
    assert.deepEqual(erin.messages('crashy').map((m) => `${m.sender.uid}: ${m.text}`), ['dan: once only']);
    const reader = new ParleyClient({ url: node.wsUrl, uid: 'auditor' });
    await reader.connect();
    const page = await reader.query('mls/group/crashy', { limit: 1000 });
    await reader.close();
    assert.equal(page.messages.length, 4, 'genesis, the add commit (submitted, then ordered), one message');
    await Promise.all([again.close(), erin.close()]);
  });
});
