// A private network (--p2p-secret): two nodes with the same swarm key connect; a node
// with another key, and one with none, can dial neither and never shows up as a peer.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startP2PNode, type P2PNode } from './helpers/p2p-node.ts';

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

after(async () => {
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
