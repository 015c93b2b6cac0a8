// mDNS on a real LAN: two nodes in network namespaces of their own, on one bridge, find
// and connect to each other with no bootstrap address; with --no-mdns they do not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNetnsLan, netnsUnavailable } from './helpers/netns-lan.ts';
import { startP2PNode, type P2PNode } from './helpers/p2p-node.ts';

const unavailable = netnsUnavailable();

/**
 * How long two nodes without mDNS are watched for a connection that must not happen.
 * With mDNS on, nodes here find each other 100-150 ms after the second starts (the first
 * query goes out at start), so 3 s is twenty times what discovery takes.
 */
const ABSENCE_MS = 3000;

async function startPair(mdns: boolean): Promise<{ nodes: P2PNode[]; remove: () => Promise<void> }> {
  const lan = createNetnsLan(2);
  const nodes: P2PNode[] = [];
  const remove = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    lan.remove();
  };
  try {
    for (const host of lan.hosts) {
      // Its listening address on the LAN replaces the loopback one the helper gives.
      nodes.push(await startP2PNode(['--p2p-listen', `/ip4/${host.address}/tcp/4100`, ...(mdns ? ['--mdns'] : [])], { prefix: lan.prefix(host.netns) }));
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { nodes, remove };
}

test('two nodes on one LAN find and connect to each other by mDNS, with no bootstrap', { skip: unavailable }, async () => {
  const { nodes, remove } = await startPair(true);
  try {
    const [a, b] = nodes as [P2PNode, P2PNode];
    await Promise.all([a.waitForPeer(b.peerId), b.waitForPeer(a.peerId)]);
    // The connection came from a dial on discovery (each may have dialled; one's dial is enough).
    const dialled = (node: P2PNode, other: P2PNode) => node.waitForLogWhere('p2p dialled a peer found by mDNS', (line) => line.peer === other.peerId);
    await Promise.any([dialled(a, b), dialled(b, a)]);
    assert.ok(a.addrs.some((addr) => addr.startsWith('/ip4/10.231.')), a.addrs.join());
    assert.ok((await a.info()).peers.some((p) => p.peerId === b.peerId));
  } finally {
    await remove();
  }
});

test('with --no-mdns, two nodes on one LAN do not find each other', { skip: unavailable }, async () => {
  const { nodes, remove } = await startPair(false);
  try {
    const [a, b] = nodes as [P2PNode, P2PNode];
    await new Promise((resolve) => setTimeout(resolve, ABSENCE_MS));
    assert.deepEqual([a.logged('p2p peer connected'), b.logged('p2p peer connected')], [[], []]);
  } finally {
    await remove();
  }
});

if (unavailable !== undefined) test(`mDNS between network namespaces skipped: ${unavailable}`, () => {});
