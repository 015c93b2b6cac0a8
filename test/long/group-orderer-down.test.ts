// Encrypted groups across three nodes while the group's ordering node is down, with the
// real CLI: A orders the group (its creator uses A); B and C are linked to each other
// and to A. With A stopped, members on B and C keep talking; their commits (an add, a
// key update, both built for the same epoch) wait, and are applied by themselves once
// A is back: one wins the epoch, the other is built again on top of it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GroupUsers } from '../helpers/group-cli.ts';
import { TestNetwork, type NetworkNode } from '../helpers/peer-network.ts';

describe('a group whose ordering node is down', { timeout: 240_000 }, () => {
  const net = new TestNetwork();
  let a: NetworkNode;
  let dir: string;
  let users: GroupUsers;

  before(async () => {
    const c = await net.node('C');
    const b = await net.node('B', { peers: [c.wsUrl] });
    // A dials: when it comes back it links at once, without waiting for a redial.
    a = await net.node('A', { peers: [b.wsUrl, c.wsUrl] });
    await Promise.all([a.process.waitForLogCount('peer link up', 2), b.process.waitForLogCount('peer link up', 2), c.process.waitForLogCount('peer link up', 2)]);
    dir = mkdtempSync(join(tmpdir(), 'parley-group-orderer-down-'));
    users = new GroupUsers(dir);
    users.at('alice', a.wsUrl);
    users.at('bob', b.wsUrl);
    users.at('carol', c.wsUrl);
    users.at('dave', c.wsUrl);
    await Promise.all(['alice', 'bob', 'carol', 'dave'].map((uid) => users.ok(uid, 'init')));
    await users.ok('alice', 'create', 'ops');
    await users.ok('alice', 'add', 'ops', 'bob', 'carol');
    await Promise.all(['bob', 'carol'].map((uid) => users.ok(uid, 'read', 'ops')));
  });

  after(async () => {
    users?.close();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('members on the other nodes keep talking; their commits wait and apply once it is back', async () => {
    await a.stop();
    await Promise.all([users.ok('bob', 'send', 'ops', 'bob while A is down'), users.ok('carol', 'send', 'ops', 'carol while A is down')]);
    const reads = await Promise.all([users.ok('bob', 'read', 'ops'), users.ok('carol', 'read', 'ops')]);
    for (const read of reads) {
      assert.match(read, /^bob: bob while A is down$/m);
      assert.match(read, /^carol: carol while A is down$/m);
    }
    const [added, updated] = await Promise.all([users.run('bob', 'add', 'ops', 'dave', '--wait', '1'), users.run('carol', 'update', 'ops', '--wait', '1')]);
    assert.equal(added.code, 3, added.stderr);
    assert.equal(updated.code, 3, updated.stderr);
    assert.match(added.stderr, /PENDING: add \(intent \d+\) is not applied yet: submitted for epoch \d+; waits for the ordering node [0-9a-f]{32}/);
    assert.match(await users.ok('carol', 'status', 'ops'), /^pending: update \(intent \d+, since [\d:]+ UTC\): submitted for epoch \d+; waits for the ordering node/m);

    const bobWatch = users.watch('bob', 'ops');
    const carolWatch = users.watch('carol', 'ops');
    const daveWatch = users.watch('dave', 'ops');
    await a.start();
    await Promise.all([bobWatch.seen('* your add is applied'), carolWatch.seen('* your update is applied'), daveWatch.seen('* you joined ops')]);
    await Promise.all([bobWatch.stop(), carolWatch.stop(), daveWatch.stop()]);

    const everyone = ['alice', 'bob', 'carol', 'dave'];
    const lists = await Promise.all(everyone.map((uid) => users.members(uid, 'ops')));
    for (const [i, list] of lists.entries()) assert.deepEqual(list, everyone, `${everyone[i]}'s members`);
    await Promise.all(everyone.map((uid) => users.ok(uid, 'send', 'ops', `${uid} once A is back`)));
    const after = await Promise.all(everyone.map((uid) => users.ok(uid, 'read', 'ops')));
    for (const [i, read] of after.entries()) {
      for (const uid of everyone) assert.match(read, new RegExp(`^${uid}: ${uid} once A is back$`, 'm'), `${everyone[i]} reads ${uid}`);
    }
    // alice was on the stopped node: she reads what was said meanwhile.
    assert.match(after[0]!, /^bob: bob while A is down$/m);
    assert.match(after[0]!, /^carol: carol while A is down$/m);
  });
});
