// A private network (--p2p-secret): two nodes with the same swarm key connect; a node
// with another key, and one with none, can dial neither and never shows up as a peer,
// and no message of the network reaches a client on them.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startP2PNode, type P2PNode } from '../helpers/p2p-node.ts';
import { Participant } from '../helpers/participant.ts';

function swarmKey(name: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'parley-pnet-')), name);
  writeFileSync(file, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`);
  return file;
}

let a: P2PNode;
let b: P2PNode;
let other: P2PNode;
let open: P2PNode;

before(async () => {
  const key = swarmKey('network.key');
  a = await startP2PNode(['--p2p-secret', key]);
  b = await startP2PNode(['--p2p-secret', key, '--bootstrap', a.addrs[0]!]);
  other = await startP2PNode(['--p2p-secret', swarmKey('other.key'), '--bootstrap', a.addrs[0]!, '--bootstrap', b.addrs[0]!]);
  open = await startP2PNode(['--bootstrap', a.addrs[0]!, '--bootstrap', b.addrs[0]!]);
});

const participants: Participant[] = [];

after(async () => {
  await Promise.all(participants.map((p) => p.close().catch(() => {})));
  await Promise.all([a, b, other, open].map((n) => n?.stop()));
});

test('nodes with the same swarm key connect; nodes with another key or none cannot dial them and are never their peers', async () => {
  await Promise.all([a.waitForPeer(b.peerId), b.waitForPeer(a.peerId)]);
  // Each outsider has tried each member at least once, and been refused.
  for (const outsider of [other, open]) {
    for (const member of [a, b]) {
      const failed = await outsider.waitForLogWhere('p2p bootstrap peer not reachable; retrying', (line) => line.peer === member.peerId);
      assert.ok(typeof failed.err === 'string' && failed.err.length > 0);
    }
  }
  const outsiders = new Set([other.peerId, open.peerId]);
  for (const member of [a, b]) {
    const { peers } = await member.info();
    assert.deepEqual(peers.map((p) => p.peerId), [member === a ? b.peerId : a.peerId]);
    assert.equal(member.logged('p2p peer connected').filter((line) => outsiders.has(String(line.peer))).length, 0);
  }
  for (const outsider of [other, open]) {
    assert.deepEqual((await outsider.info()).peers, []);
    assert.equal(outsider.logged('p2p peer connected').length, 0);
  }
});

test('a message the members exchange reaches no client of a node with another key or none, which keep trying to dial and failing', async () => {
  const join = async (at: P2PNode, uid: string) => {
    const joined = await Participant.join(at.wsUrl, uid, 'members');
    participants.push(joined);
    return joined;
  };
  const [onA, onB, onOther, onOpen] = await Promise.all([join(a, 'alice'), join(b, 'bob'), join(other, 'olga'), join(open, 'otto')]);
  await onA.client.publish('members', 'for members only');
  await onB.waitUntil((m) => m.length >= 1, "alice's message", 20_000);
  await onB.client.publish('members', 'so is this');
  await onA.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'so is this'), "bob's message", 20_000);
  // The bound: each outsider tries to dial the network once more after the exchange, and fails.
  const refused = 'p2p bootstrap peer not reachable; retrying';
  await Promise.all([other, open].map((outsider) => outsider.waitForLogCount(refused, outsider.logged(refused).length + 1, 60_000)));
  assert.deepEqual(onB.texts(), ['for members only', 'so is this']);
  assert.deepEqual(onOther.texts(), [], 'nothing reached the node with another key');
  assert.deepEqual(onOpen.texts(), [], 'nothing reached the node with no key');
  for (const outsider of [other, open]) assert.deepEqual((await outsider.info()).peers, []);
});
