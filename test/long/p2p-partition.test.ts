// A network split and healed: five nodes, X = {1, 2} and Y = {3, 4, 5}, whose only link
// (2 -> 3) runs through a TCP proxy that holds connections during the split (nothing
// gets through, as when packets are dropped). Both sides publish while apart; once the
// proxy lets node 2's bootstrap dial through, every node stores the same messages and
// every client has seen each exactly once.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startP2PNode, listable, type P2PNode } from '../helpers/p2p-node.ts';
import { exactlyOnce, Participant } from '../helpers/participant.ts';
import { converged } from '../helpers/peer-network.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const CHANNEL = 'split';
const nodes: P2PNode[] = [];
const participants: Participant[] = [];
let proxy: TcpProxy | undefined;
after(async () => {
  await Promise.all(participants.map((p) => p.close().catch(() => {})));
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  await proxy?.close();
});
async function node(args: readonly string[]): Promise<P2PNode> {
  const started = await startP2PNode(args);
  nodes.push(started);
  return started;
}

/** The TCP port of a loopback multiaddr (/ip4/127.0.0.1/tcp/PORT/p2p/ID). */
function tcpPort(addr: string): number {
  const port = /\/tcp\/(\d+)\//.exec(addr)?.[1];
  if (port === undefined) throw new Error(`no TCP port in ${addr}`);
  return Number(port);
}

test('a 5-node network split 2+3, publishing on both sides, then healed: every node stores the same messages, no client sees one twice', async () => {
  const [n1, n3] = await Promise.all([node([]), node([])]);
  proxy = await startTcpProxy(tcpPort(n3.addrs[0]!));
  proxy.hold();
  const [n2, n4, n5] = await Promise.all([
    node(['--bootstrap', n1.addrs[0]!, '--bootstrap', `/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${n3.peerId}`]),
    node(['--bootstrap', n3.addrs[0]!]),
    node(['--bootstrap', n3.addrs[0]!]),
  ]);
  const all = [n1, n2, n3, n4, n5];
  await Promise.all([n2.waitForPeer(n1.peerId), n4.waitForPeer(n3.peerId), n5.waitForPeer(n3.peerId)]);
  const clients = await Promise.all(all.map(async (n, i) => {
    const joined = await Participant.join(n.wsUrl, `user${i + 1}`, CHANNEL);
    participants.push(joined);
    return joined;
  }));
  const [c1, c2, c3, c4, c5] = clients as [Participant, Participant, Participant, Participant, Participant];

  // Apart: each side carries its own messages.
  const x = Array.from({ length: 50 }, (_, i) => `x ${i}`);
  const y = Array.from({ length: 50 }, (_, i) => `y ${i}`);
  await Promise.all([c1.publishMany(CHANNEL, 'x ', 40), c4.publishMany(CHANNEL, 'y ', 40)]);
  await Promise.all([c2.publishMany(CHANNEL, 'x 4', 10), c5.publishMany(CHANNEL, 'y 4', 10)]); // x 40-49, y 40-49
  for (const c of [c1, c2]) await c.waitUntil(() => exactlyOnce(c.texts(), x) === undefined, "X's messages", 20_000);
  for (const c of [c3, c4, c5]) await c.waitUntil(() => exactlyOnce(c.texts(), y) === undefined, "Y's messages", 20_000);
  const groupX = new Set([n1.peerId, n2.peerId]);
  const groupY = new Set([n3.peerId, n4.peerId, n5.peerId]);
  for (const n of all) {
    const own = groupX.has(n.peerId) ? groupX : groupY;
    const peers = (await n.info()).peers.map((p) => p.peerId);
    assert.deepEqual(peers.filter((p) => !own.has(p)), [], `no connection across the split from ${n.peerId}`);
  }
  assert.deepEqual(c1.texts().filter((t) => t.startsWith('y ')), [], 'nothing of Y reached X');
  assert.deepEqual(c4.texts().filter((t) => t.startsWith('x ')), [], 'nothing of X reached Y');

  // Healed: node 2's bootstrap dial waiting in the proxy goes through (or its next one).
  // Nodes 2 and 3 sync and pass what they took on by gossip: the others have it well
  // before their own next sync round (30 s).
  const healedAt = Date.now();
  proxy.heal();
  await n2.waitForPeer(n3.peerId, 45_000);
  const stored = await converged(all.map((n, i) => listable(n, `node ${i + 1}`)), CHANNEL, 100, 20_000);
  const healMs = Date.now() - healedAt;
  assert.equal(stored.length, 100);
  assert.equal(exactlyOnce(stored.map((m) => m.text), [...x, ...y]), undefined);

  await c3.client.publish(CHANNEL, 'healed');
  const expected = [...x, ...y, 'healed'];
  for (const c of clients) {
    await c.waitUntil(() => c.texts().includes('healed'), 'the message after healing', 20_000);
    await c.waitUntil(() => new Set(c.texts()).size >= expected.length, 'every message', 20_000);
    assert.equal(exactlyOnce(c.texts(), expected), undefined, c.uid);
    assert.equal(c.received.length, expected.length, `${c.uid} has nothing else`);
  }
  console.log(`stores converged ${healMs} ms after the heal`);
});
