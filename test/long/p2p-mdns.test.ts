// mDNS on a real LAN: two nodes in network namespaces of their own, on one bridge, find
// and connect to each other with no bootstrap address, and their clients talk; with
// --no-mdns they do not find each other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatProcess } from '../helpers/chat-process.ts';
import { createNetnsLan, netnsUnavailable, type NetnsLan } from '../helpers/netns-lan.ts';
import { startP2PNode, type P2PNode } from '../helpers/p2p-node.ts';

const unavailable = netnsUnavailable();

/**
 * How long two nodes without mDNS are watched for a connection that must not happen.
 * With mDNS on, nodes here find each other 100-150 ms after the second starts (the first
 * query goes out at start), so 3 s is twenty times what discovery takes.
 */
const ABSENCE_MS = 3000;

async function startPair(mdns: boolean): Promise<{ nodes: P2PNode[]; lan: NetnsLan; remove: () => Promise<void> }> {
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
  return { nodes, lan, remove };
}

test('two nodes on one LAN find and connect to each other by mDNS, with no bootstrap, and a client on each reaches the other', { skip: unavailable }, async () => {
  const { nodes, lan, remove } = await startPair(true);
  const chats: ChatProcess[] = [];
  try {
    const [a, b] = nodes as [P2PNode, P2PNode];
    await Promise.all([a.waitForPeer(b.peerId), b.waitForPeer(a.peerId)]);
    // The connection came from a dial on discovery (each may have dialled; one's dial is enough).
    const dialled = (node: P2PNode, other: P2PNode) => node.waitForLogWhere('p2p dialled a peer found by mDNS', (line) => line.peer === other.peerId);
    await Promise.any([dialled(a, b), dialled(b, a)]);
    assert.ok(a.addrs.some((addr) => addr.startsWith('/ip4/10.231.')), a.addrs.join());
    assert.ok((await a.info()).peers.some((p) => p.peerId === b.peerId));

    // A native chat client in each namespace, on its own node (listening on loopback there).
    const [hostA, hostB] = lan.hosts as [NetnsLan['hosts'][number], NetnsLan['hosts'][number]];
    const chat = (node: P2PNode, uid: string, netns: string) => {
      const made = new ChatProcess(['--url', node.wsUrl, '--uid', uid, '--channel', 'lan', '--native'], {}, 30_000, lan.prefix(netns));
      chats.push(made);
      return made;
    };
    const [alice, bob] = [chat(a, 'alice', hostA.netns), chat(b, 'bob', hostB.netns)];
    await Promise.all([alice.connected(), bob.connected()]);
    alice.type('hello across the LAN');
    await bob.waitForLine('stdout', (line) => line.includes('hello across the LAN'));
    bob.type('hello back');
    await alice.waitForLine('stdout', (line) => line.includes('hello back'));
    assert.equal(bob.stdout.filter((line) => line.includes('hello across the LAN')).length, 1);
  } finally {
    for (const c of chats) c.kill();
    await Promise.all(chats.map((c) => c.exited));
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
