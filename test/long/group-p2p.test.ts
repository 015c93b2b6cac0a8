// Encrypted groups across two `parley serve --p2p` nodes, with the real CLI: members on
// both nodes, their records carried by libp2p gossip and sync. Each node listens behind
// a TCP proxy the test holds and heals, and announces only the proxy's address, so every
// dial between them (B's --bootstrap dial, and the redials libp2p makes to a peer it
// knows) goes through a proxy; mDNS is off, so nothing depends on the LAN. The group is
// created on A, so A orders its commits.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GroupUsers } from '../helpers/group-cli.ts';
import { startP2PNode, type P2PNode } from '../helpers/p2p-node.ts';
import { freePort } from '../helpers/pebble.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

/** A P2P node listening on a free loopback port, reachable only through a proxy in front of it. */
async function behindProxy(args: readonly string[]): Promise<{ node: P2PNode; proxy: TcpProxy }> {
  const port = await freePort();
  const proxy = await startTcpProxy(port);
  const node = await startP2PNode(['--p2p-listen', `/ip4/127.0.0.1/tcp/${port}`, '--p2p-announce', `/ip4/127.0.0.1/tcp/${proxy.port}`, ...args]);
  return { node, proxy };
}

describe('a group whose members use two P2P nodes', { timeout: 240_000 }, () => {
  let a: P2PNode;
  let b: P2PNode;
  let toA: TcpProxy;
  let toB: TcpProxy;
  let dir: string;
  let users: GroupUsers;
  const onA = ['alice', 'carol', 'erin', 'gina'];
  const onB = ['bob', 'dave', 'frank', 'hank'];

  before(async () => {
    ({ node: a, proxy: toA } = await behindProxy([]));
    ({ node: b, proxy: toB } = await behindProxy(['--bootstrap', `/ip4/127.0.0.1/tcp/${toA.port}/p2p/${a.peerId}`]));
    await b.waitForPeer(a.peerId);
    dir = mkdtempSync(join(tmpdir(), 'parley-group-p2p-'));
    users = new GroupUsers(dir);
    for (const uid of onA) users.at(uid, a.wsUrl);
    for (const uid of onB) users.at(uid, b.wsUrl);
    await Promise.all([...onA, ...onB].map((uid) => users.ok(uid, 'init')));
  });

  after(async () => {
    users?.close();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await Promise.all([toA?.close(), toB?.close()]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('created on A, a member added on B; both read each other', async () => {
    await users.ok('alice', 'create', 'team');
    // bob's key package is on B only: A finds it by asking its peer.
    await users.ok('alice', 'add', 'team', 'bob');
    await users.ok('bob', 'read', 'team');
    await users.ok('alice', 'send', 'team', 'hello from A');
    await users.ok('bob', 'send', 'team', 'hello from B');
    assert.match(await users.ok('bob', 'read', 'team'), /^alice: hello from A$/m);
    assert.match(await users.ok('alice', 'read', 'team'), /^bob: hello from B$/m);
  });

  test('a member on B adds people on both nodes (the commit goes B -> A -> B) and removes one', async () => {
    await users.ok('bob', 'add', 'team', 'carol', 'dave');
    await Promise.all([users.ok('carol', 'read', 'team'), users.ok('dave', 'read', 'team')]);
    // One member per node (the last test compares every member's list).
    for (const uid of ['alice', 'dave']) assert.deepEqual(await users.members(uid, 'team'), ['alice', 'bob', 'carol', 'dave'], `${uid}'s members`);
    assert.equal(await users.ok('bob', 'remove', 'team', 'carol'), 'removed carol from team\n');
    assert.deepEqual(await users.members('alice', 'team'), ['alice', 'bob', 'dave']);
    await users.ok('dave', 'send', 'team', 'dave after carol left');
    assert.match(await users.ok('alice', 'read', 'team'), /^dave: dave after carol left$/m);
  });

  test('concurrent adds from both nodes: both apply, one on top of the other', async () => {
    const [erinAdded, frankAdded] = await Promise.all([users.run('alice', 'add', 'team', 'erin'), users.run('dave', 'add', 'team', 'frank')]);
    assert.equal(erinAdded.code, 0, erinAdded.stderr);
    assert.equal(frankAdded.code, 0, frankAdded.stderr);
    await Promise.all([users.ok('erin', 'read', 'team'), users.ok('frank', 'read', 'team')]);
    const lists = await Promise.all(['bob', 'erin'].map((uid) => users.members(uid, 'team')));
    for (const list of lists) assert.deepEqual(list, ['alice', 'bob', 'dave', 'erin', 'frank']);
  });

  test('each side adds someone while the link is held; after healing all agree on the members and read every message', async () => {
    toA.hold();
    toB.hold();
    await b.waitForLogWhere('p2p peer disconnected', (line) => line.peer === a.peerId);
    const [ginaAdded, hankAdded] = await Promise.all([
      users.run('alice', 'add', 'team', 'gina'),
      users.run('bob', 'add', 'team', 'hank', '--wait', '1'),
      users.ok('erin', 'send', 'team', 'erin during the cut'),
      users.ok('frank', 'send', 'team', 'frank during the cut'),
    ]);
    assert.equal(ginaAdded.code, 0, ginaAdded.stderr);
    // B cannot reach the ordering node: the add waits, and says so.
    assert.equal(hankAdded.code, 3, hankAdded.stderr);
    assert.match(hankAdded.stderr, /^parley group: PENDING: add \(intent \d+\) is not applied yet: submitted for epoch \d+; waits for the ordering node [0-9a-f]{32}/);
    assert.match(await users.ok('bob', 'status', 'team'), /pending: add hank \(intent \d+, since [\d:]+ UTC\)/);
    // A moves on by more epochs than members once kept keys for (3): frank's message,
    // written in the epoch before gina's add, is 4 epochs old on A's side when it arrives.
    for (let i = 0; i < 3; i++) await users.ok('alice', 'update', 'team');
    // Each side reads its own side meanwhile.
    assert.match(await users.ok('dave', 'read', 'team'), /^frank: frank during the cut$/m);
    assert.match(await users.ok('alice', 'read', 'team'), /^erin: erin during the cut$/m);
    const peersOfB = (await b.info()).peers.map((p) => p.peerId);
    assert.ok(!peersOfB.includes(a.peerId), 'B has no connection to A while the link is held');

    const hankWatch = users.watch('hank', 'team');
    const bobWatch = users.watch('bob', 'team');
    toA.heal();
    toB.heal();
    // Nobody runs a command: bob's watch applies his add once A has ordered it (after
    // gina's, which won the epoch both were built for) and sends hank his Welcome.
    await Promise.all([bobWatch.seen('* your add is applied'), hankWatch.seen('* you joined team')]);
    await Promise.all([bobWatch.stop(), hankWatch.stop()]);

    const everyone = ['alice', 'bob', 'dave', 'erin', 'frank', 'gina', 'hank'];
    const senders = ['alice', 'bob', 'gina', 'hank'];
    await Promise.all(senders.map((uid) => users.ok(uid, 'send', 'team', `${uid} after healing`)));
    const lists = await Promise.all(everyone.map((uid) => users.members(uid, 'team')));
    for (const [i, list] of lists.entries()) assert.deepEqual(list, everyone, `${everyone[i]}'s members`);
    const reads = await Promise.all(everyone.map((uid) => users.ok(uid, 'read', 'team')));
    for (const [i, read] of reads.entries()) {
      for (const uid of senders) assert.match(read, new RegExp(`^${uid}: ${uid} after healing$`, 'm'), `${everyone[i]} reads ${uid}`);
    }
    // Those who were members during the cut read what both sides said in it.
    for (const uid of ['alice', 'bob', 'dave', 'erin', 'frank']) {
      const read = reads[everyone.indexOf(uid)]!;
      assert.match(read, /^erin: erin during the cut$/m, `${uid} reads erin`);
      assert.match(read, /^frank: frank during the cut$/m, `${uid} reads frank`);
    }
    assert.match(await users.ok('bob', 'status', 'team'), /no pending changes/);
  });
});
