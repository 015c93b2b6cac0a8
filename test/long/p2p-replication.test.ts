// Channels across a peer-to-peer network of real `parley serve --p2p` processes: gossip
// carries what is new, /parley/sync/1 what a node missed, and every message arrives
// once, in its origin's order, signed by its origin.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { MlesTestClient } from '../helpers/mles-client.ts';
import { parley, startP2PNode, type P2PNode } from '../helpers/p2p-node.ts';
import { exactlyOnce, Participant } from '../helpers/participant.ts';

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

test('a public channel announced by one node is listed by the others, with who announced it and its last activity', async () => {
  const a = await node(['--public', 'town-square=Everyone welcome']);
  const talker = await Participant.join(a.wsUrl, 'crier', 'town-square');
  closers.push(() => talker.close());
  await talker.client.publish('town-square', 'hear ye');
  const b = await node(['--bootstrap', a.addrs[0]!]);
  await b.waitForPeer(a.peerId);
  type Listed = { channels: Array<{ channel: string; about: string; node: string; lastActivity: number; announced: number }> };
  const listed = async (n: P2PNode) => ((await (await fetch(new URL('v1/directory', n.url))).json()) as Listed).channels;
  // Announced within a second of B joining the directory topic, then every minute.
  await b.waitForLogWhere('p2p directory lists a public channel', (line) => line.channel === 'town-square' && line.node === a.nodeId, 10_000);
  const entry = (await listed(b)).find((c) => c.channel === 'town-square');
  assert.ok(entry !== undefined && entry.lastActivity > 0, JSON.stringify(await listed(b)));
  assert.deepEqual({ ...entry, lastActivity: 0, announced: 0 }, { channel: 'town-square', about: 'Everyone welcome', node: a.nodeId, lastActivity: 0, announced: 0 });
  const shown = await parley(['p2p', 'channels', '--node', b.url]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^town-square  Everyone welcome\\n  by node ${a.nodeId}, last message 20`, 'm'));
});
