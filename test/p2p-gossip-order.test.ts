// Gossip has no order: the first runs a node hears from an origin may come in any order.
// A foreign peer made here (the node's own libp2p packages) publishes its own honest runs
// to a node, the second before the first; the node must store both, in the origin's order.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { OriginWriter } from '../src/envelope/origin-writer.testkit.ts';
import { encodeGossip, topicOf } from '../src/p2p/gossip-codec.ts';
import { ForeignPeer } from './helpers/foreign-peer.ts';
import { startP2PNode, type P2PNode } from './helpers/p2p-node.ts';
import { Participant } from './helpers/participant.ts';

const CHANNEL = 'unordered';
let node: P2PNode | undefined;
let foreign: ForeignPeer | undefined;
let reader: Participant | undefined;
after(async () => {
  await reader?.close().catch(() => {});
  await foreign?.stop().catch(() => {});
  await node?.stop('SIGKILL');
});

test("an origin's first two runs arriving by gossip in reverse order are both stored, in the origin's order", async () => {
  const a = (node = await startP2PNode([]));
  const alice = (reader = await Participant.join(a.wsUrl, 'alice', CHANNEL));
  const f = (foreign = await ForeignPeer.start());
  await f.dial(a.addrs[0]!);
  f.subscribe(topicOf(CHANNEL));
  await f.waitForSubscriber(topicOf(CHANNEL), a.peerId);

  const writer = new OriginWriter(f.identity);
  const first = writer.envelope(CHANNEL, 1, ['first 0', 'first 1'], { uid: 'frank' });
  const second = writer.envelope(CHANNEL, 3, ['second 0'], { uid: 'frank' });
  await f.publish(topicOf(CHANNEL), encodeGossip(CHANNEL, second));
  await f.publish(topicOf(CHANNEL), encodeGossip(CHANNEL, first));
  await alice.waitUntil((m) => m.length >= 3, 'all three messages', 15_000);
  assert.deepEqual(alice.texts(), ['first 0', 'first 1', 'second 0']);
  assert.deepEqual(alice.received.map((m) => m.origin), [f.identity.nodeId, f.identity.nodeId, f.identity.nodeId]);
});
