// Three `parley serve --p2p` processes in a line, A <- B <- C (each bootstraps to the one
// before it only): they connect, say so in /v1/node, and A finds C by its node id and by
// a name C claims, through the DHT. The peer id a node reports is the one its key gives.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parley, startP2PNode, type P2PNode } from './helpers/p2p-node.ts';

let a: P2PNode;
let b: P2PNode;
let c: P2PNode;

before(async () => {
  a = await startP2PNode();
  b = await startP2PNode(['--bootstrap', a.addrs[0]!]);
  c = await startP2PNode(['--bootstrap', b.addrs[0]!, '--p2p-name', 'alice']);
});

after(async () => {
  await Promise.all([a, b, c].map((n) => n?.stop()));
});

test("the peer id a node reports comes from its node.key, and 'parley keys show' prints it", async () => {
  const shown = await parley(['keys', 'show', '--data', a.dataDir]);
  assert.equal(shown.code, 0, shown.stderr);
  const info = await a.info();
  assert.equal(info.peerId, a.peerId);
  assert.match(shown.stdout, new RegExp(`^node id: +${info.id}$`, 'm'));
  assert.match(shown.stdout, new RegExp(`^peer id: +${info.peerId}$`, 'm'));
  assert.ok(info.addrs.length > 0 && info.addrs.every((addr) => addr.endsWith(`/p2p/${info.peerId}`)), info.addrs.join());
});

test('A and C connect to B, and /v1/node lists them as peers with their addresses', async () => {
  await Promise.all([a.waitForPeer(b.peerId), b.waitForPeer(a.peerId), b.waitForPeer(c.peerId), c.waitForPeer(b.peerId)]);
  const peersOf = async (node: P2PNode) => (await node.info()).peers;
  const ofB = await peersOf(b);
  assert.ok(ofB.some((p) => p.peerId === a.peerId) && ofB.some((p) => p.peerId === c.peerId), JSON.stringify(ofB));
  const aOnB = ofB.find((p) => p.peerId === a.peerId)!;
  assert.ok(aOnB.addrs.length > 0 && aOnB.addrs.every((addr) => addr.endsWith(`/p2p/${a.peerId}`)), aOnB.addrs.join());
  assert.ok((await peersOf(a)).some((p) => p.peerId === b.peerId));
  assert.ok((await peersOf(c)).some((p) => p.peerId === b.peerId));
  const status = await parley(['p2p', 'status', '--node', b.url]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`^peer id: +${b.peerId}$`, 'm'));
  assert.match(status.stdout, new RegExp(`^  ${a.peerId}$`, 'm'));
  assert.match(status.stdout, new RegExp(`^  ${c.peerId}$`, 'm'));
});

test("A finds C by node id and by the name C claims, through the DHT, with C's addresses", async () => {
  // C has put its records in the DHT (at B, the only peer it knows).
  await c.waitForLogWhere('p2p records provided', () => true);
  const byId = await parley(['p2p', 'find', c.nodeId, '--node', a.url]);
  assert.equal(byId.code, 0, byId.stderr);
  assert.match(byId.stdout, new RegExp(`^node ${c.nodeId}  peer ${c.peerId}$`, 'm'));
  for (const addr of c.addrs) assert.ok(byId.stdout.includes(`  ${addr}\n`), `${addr} in\n${byId.stdout}`);

  const byName = await parley(['p2p', 'find', 'alice', '--node', a.url]);
  assert.equal(byName.code, 0, byName.stderr);
  assert.match(byName.stdout, new RegExp(`^node ${c.nodeId}  peer ${c.peerId}$`, 'm'));
  const found = (await (await fetch(new URL('v1/p2p/find?q=alice', a.url))).json()) as { found: Array<{ nodeId: string; peerId: string; addrs: string[] }> };
  assert.deepEqual(found.found.map((f) => f.nodeId), [c.nodeId]);

  const byPeer = (await (await fetch(new URL(`v1/p2p/find?q=${c.peerId}`, a.url))).json()) as { found: Array<{ nodeId: string }> };
  assert.deepEqual(byPeer.found.map((f) => f.nodeId), [c.nodeId]);
});

test('a find of nothing answers 404, a query that is no id or name 400, a node without --p2p 503', async () => {
  const missing = await fetch(new URL('v1/p2p/find?q=nobody-claims-this', a.url));
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { error: string }).error, /nothing found for "nobody-claims-this"/);
  const cli = await parley(['p2p', 'find', 'nobody-claims-this', '--node', a.url]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /nothing found/);
  const bad = await fetch(new URL('v1/p2p/find?q=%09tab', a.url));
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /a node id \(32 hex digits\), a peer id/);
});
