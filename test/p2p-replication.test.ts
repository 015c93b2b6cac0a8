// Channels across a peer-to-peer network of real `parley serve --p2p` processes: gossip
// carries what is new, /parley/sync/1 what a node missed, and every message arrives
// once, in its origin's order, signed by its origin.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { MlesTestClient } from './helpers/mles-client.ts';
import { startP2PNode, type P2PNode } from './helpers/p2p-node.ts';
import { exactlyOnce, Participant } from './helpers/participant.ts';

const nodes: P2PNode[] = [];
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers) await close().catch(() => {});
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
});
async function node(args: readonly string[] = []): Promise<P2PNode> {
  const started = await startP2PNode(args);
  nodes.push(started);
  return started;
}

test('a line A <- B <- C: an Mles message on A reaches Mles and native clients on C, through B, which has no client', async () => {
  const a = await node();
  const b = await node(['--bootstrap', a.addrs[0]!]);
  const c = await node(['--bootstrap', b.addrs[0]!]);
  await Promise.all([b.waitForPeer(a.peerId), c.waitForPeer(b.peerId)]);
  const mlesOnC = await MlesTestClient.join(c.wsUrl, { uid: 'carol', channel: 'line' });
  closers.push(async () => mlesOnC.ws.close());
  const nativeOnC = await Participant.join(c.wsUrl, 'cecil', 'line');
  closers.push(() => nativeOnC.close());
  const mlesOnA = await MlesTestClient.join(a.wsUrl, { uid: 'anna', channel: 'line' });
  closers.push(async () => mlesOnA.ws.close());
  mlesOnA.send('hello over gossip');
  await mlesOnC.waitForText('hello over gossip', 20_000);
  await nativeOnC.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'hello over gossip'), 'the message from A', 20_000);
  const message = nativeOnC.received.find((x) => new TextDecoder().decode(x.payload) === 'hello over gossip')!;
  assert.equal(message.origin, a.nodeId, 'the origin is A');

  // A burst comes through exactly once, in A's order.
  const texts = Array.from({ length: 200 }, (_, i) => `burst ${i}`);
  for (const text of texts) mlesOnA.send(text);
  await nativeOnC.waitUntil((m) => m.length >= 201, 'the burst', 30_000);
  const got = nativeOnC.texts().filter((t) => t.startsWith('burst '));
  assert.equal(exactlyOnce(got, texts), undefined);
  assert.deepEqual(got, texts, "in A's order");
});
