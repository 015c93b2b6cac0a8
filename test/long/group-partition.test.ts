// Encrypted groups across two peered nodes, with the real CLI: node B links to node A
// through a TCP proxy the test cuts and heals. The group is created on A, so A orders
// its commits. While cut, a member on each side adds someone: A's add is ordered at
// once, B's waits (the CLI says PENDING, `status` says why) and, after healing, loses to
// A's and is applied on top of it by itself. Every member then has the same members and
// reads everyone. Then a stale remove, and a member offline for many epochs.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GroupUsers, type Watcher } from '../helpers/group-cli.ts';
import { TestNetwork, type NetworkNode } from '../helpers/peer-network.ts';
import type { TcpProxy } from '../helpers/tcp-proxy.ts';

describe('a group over two nodes, partitioned and healed', { timeout: 240_000 }, () => {
  const net = new TestNetwork();
  let a: NetworkNode;
  let b: NetworkNode;
  let link: TcpProxy;
  let dir: string;
  let users: GroupUsers;
  const onA = ['alice', 'carol', 'erin', 'gina'];
  const onB = ['bob', 'dave', 'frank'];
  const everyone = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  let frankWatch: Watcher;

  before(async () => {
    b = await net.node('B');
    link = await net.proxyTo(b);
    a = await net.node('A', { peers: [link.url] });
    await b.process.waitForLogCount('peer link up', 1);
    dir = mkdtempSync(join(tmpdir(), 'parley-group-partition-'));
    users = new GroupUsers(dir);
    for (const uid of onA) users.at(uid, a.wsUrl);
    for (const uid of onB) users.at(uid, b.wsUrl);
    await Promise.all([...onA, ...onB].map((uid) => users.ok(uid, 'init')));
    await users.ok('alice', 'create', 'team');
    await users.ok('alice', 'add', 'team', 'bob', 'carol', 'dave');
    await Promise.all(['bob', 'carol', 'dave'].map((uid) => users.ok(uid, 'read', 'team')));
  });

  after(async () => {
    users?.close();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each side adds someone while cut; after healing all agree on the members and read each other', async () => {
    link.hold();
    await a.process.waitForLog('peer link down; reconnecting');
    const [erinAdded, frankAdded] = await Promise.all([
      users.run('alice', 'add', 'team', 'erin'),
      users.run('bob', 'add', 'team', 'frank', '--wait', '1'),
      users.ok('carol', 'send', 'team', 'carol during the cut'),
      users.ok('dave', 'send', 'team', 'dave during the cut'),
    ]);
    assert.equal(erinAdded.code, 0, erinAdded.stderr);
    // B cannot reach the ordering node: the add waits, and says so.
    assert.equal(frankAdded.code, 3, frankAdded.stderr);
    assert.match(frankAdded.stderr, /^parley group: PENDING: add \(intent \d+\) is not applied yet: submitted for epoch \d+; waits for the ordering node [0-9a-f]{32}/);
    const [status, bobRead] = await Promise.all([users.ok('bob', 'status', 'team'), users.ok('bob', 'read', 'team')]);
    assert.match(status, /ordering node: [0-9a-f]{32} \(another node\)/);
    assert.match(status, /pending: add frank \(intent \d+, since [\d:]+ UTC\): submitted for epoch \d+; waits for the ordering node/);
    // Messages go on on both sides.
    assert.match(bobRead, /dave: dave during the cut/);

    frankWatch = users.watch('frank', 'team');
    const bobWatch = users.watch('bob', 'team');
    link.heal();
    // Nobody runs a command: bob's watch applies the add once it is ordered (after
    // erin's, which won the epoch both were built for) and sends frank his Welcome.
    await frankWatch.seen('* you joined team');
    await bobWatch.stop();
    assert.ok(!bobWatch.lines.some((l) => l.startsWith('parley group:')), bobWatch.lines.join('\n'));

    await Promise.all(everyone.map((uid) => users.ok(uid, 'send', 'team', `${uid} after healing`)));
    const lists = await Promise.all(everyone.map((uid) => users.members(uid, 'team')));
    for (const [i, list] of lists.entries()) assert.deepEqual(list, everyone, `${everyone[i]}'s members`);
    const reads = await Promise.all(everyone.map((uid) => users.ok(uid, 'read', 'team')));
    for (const [i, read] of reads.entries()) {
      for (const uid of everyone) assert.match(read, new RegExp(`^${uid}: ${uid} after healing$`, 'm'), `${everyone[i]} reads ${uid}`);
    }
    // The members of the group before the cut read what both sides said during it.
    for (const i of [0, 1, 2, 3]) {
      assert.match(reads[i]!, /^carol: carol during the cut$/m, `${everyone[i]} reads carol`);
      assert.match(reads[i]!, /^dave: dave during the cut$/m, `${everyone[i]} reads dave`);
    }
    assert.match(await users.ok('bob', 'status', 'team'), /no pending changes/);
  });

  test('a remove by a member who has not read lately catches up first; removing a non-member fails clearly', async () => {
    await users.ok('alice', 'add', 'team', 'gina');
    // dave has not synced since gina was added.
    assert.equal(await users.ok('dave', 'remove', 'team', 'gina'), 'removed gina from team\n');
    const refused = await users.run('dave', 'remove', 'team', 'zed');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^parley group: UNKNOWN_MEMBER: zed is not in group "team" \(members: [a-z, ]+\)\n$/);
    assert.deepEqual(await users.members('alice', 'team'), everyone);
  });

  test('a member offline for many epochs catches up and reads everything', async () => {
    await frankWatch.stop();
    const before = await users.ok('frank', 'read', 'team');
    const active = ['alice', 'bob', 'carol', 'dave', 'erin'];
    // frank applies each commit before reading the messages after it: catching up does
    // not depend on the past epochs whose keys a member keeps.
    const steps = 4;
    for (let step = 0; step < steps; step++) {
      const updater = active[step % active.length]!;
      const sender = active[(step + 2) % active.length]!;
      await Promise.all([users.ok(updater, 'update', 'team'), users.ok(sender, 'send', 'team', `step ${step} from ${sender}`)]);
    }
    const status = await users.ok('alice', 'status', 'team');
    const epoch = Number(/epoch (\d+)/.exec(status)![1]);
    const read = await users.ok('frank', 'read', 'team');
    assert.ok(read.startsWith(before), 'what frank had read stays');
    for (let step = 0; step < steps; step++) {
      const sender = active[(step + 2) % active.length]!;
      assert.match(read, new RegExp(`^${sender}: step ${step} from ${sender}$`, 'm'));
    }
    assert.equal(Number(/epoch (\d+)/.exec(await users.ok('frank', 'status', 'team'))![1]), epoch);
  });
});
