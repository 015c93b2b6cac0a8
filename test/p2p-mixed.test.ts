// A network of both kinds of link: A and B peer over WebSocket (PEER_KEY), B and C over
// libp2p gossip (B runs --p2p as well; C bootstraps to B). B has no client of its own
// and is told of no channel: it carries the channel on gossip because its WebSocket
// peer asks it for it.
// A client on A and one on C talk both ways, each message arriving once.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { startP2PNode, type P2PNode } from './helpers/p2p-node.ts';
import { exactlyOnce, Participant } from './helpers/participant.ts';
import { PEER_KEY } from './helpers/peer-network.ts';

const CHANNEL = 'mixed';
const nodes: NodeProcess[] = [];
const participants: Participant[] = [];
after(async () => {
  await Promise.all(participants.map((p) => p.close().catch(() => {})));
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
});
async function participant(url: string, uid: string): Promise<Participant> {
  const joined = await Participant.join(url, uid, CHANNEL);
  participants.push(joined);
  return joined;
}

test('A -(WebSocket peering)- B -(gossip)- C: clients on A and C reach each other both ways, each message once; B has no client', async () => {
  const b: P2PNode = await startP2PNode([], {}, { PEER_KEY });
  nodes.push(b);
  const [a, c] = await Promise.all([startNode(['--peer', b.wsUrl], { PEER_KEY }, 60_000), startP2PNode(['--bootstrap', b.addrs[0]!])]);
  nodes.push(a, c);
  // The check and the wait are in one turn: no line is missed between them.
  const linkUp = a.logged('peer link up').length > 0 ? Promise.resolve() : a.waitForLog('peer link up', 30_000);
  await Promise.all([c.waitForPeer(b.peerId), linkUp]);
  const alice = await participant(a.wsUrl, 'alice');
  const carol = await participant(c.wsUrl, 'carol');

  await alice.client.publish(CHANNEL, 'a to c');
  await carol.waitUntil((m) => m.length >= 1, "A's message on C", 20_000);
  await carol.client.publish(CHANNEL, 'c to a');
  await alice.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'c to a'), "C's message on A", 20_000);

  const fromA = Array.from({ length: 100 }, (_, i) => `a ${i}`);
  const fromC = Array.from({ length: 100 }, (_, i) => `c ${i}`);
  await Promise.all([alice.publishMany(CHANNEL, 'a ', 100), carol.publishMany(CHANNEL, 'c ', 100)]);
  const expected = ['a to c', 'c to a', ...fromA, ...fromC];
  for (const client of [alice, carol]) {
    await client.waitUntil(() => new Set(client.texts()).size >= expected.length, 'every message', 20_000);
    assert.equal(exactlyOnce(client.texts(), expected), undefined, client.uid);
    assert.equal(client.received.length, expected.length, `${client.uid} has nothing else`);
  }
  // Each origin's messages arrive in the order its node stored them (what its own client saw).
  const only = (client: Participant, prefix: string) => client.texts().filter((t) => t.startsWith(prefix));
  assert.deepEqual(only(carol, 'a '), only(alice, 'a '), "A's messages in A's order on C");
  assert.deepEqual(only(alice, 'c '), only(carol, 'c '), "C's messages in C's order on A");
});
