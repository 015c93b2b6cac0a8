// Circuit relay: a node started with --p2p-listen /p2p-circuit reserves a slot on a relay
// (--relay) among its peers and advertises the relayed address, and another node reaches
// it through that address alone.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startP2PNode, type P2PNode } from '../helpers/p2p-node.ts';

const nodes: P2PNode[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

test('a node reserves a slot on a relay it knows, advertises the relayed address, and is reached through it', async () => {
  const relay = await startP2PNode(['--relay']);
  nodes.push(relay);
  const hidden = await startP2PNode(['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--p2p-listen', '/p2p-circuit', '--bootstrap', relay.addrs[0]!]);
  nodes.push(hidden);
  const expected = `${relay.addrs[0]}/p2p-circuit/p2p/${hidden.peerId}`;
  const changed = await hidden.waitForLogWhere('p2p addresses changed', (line) => (line.addrs as string[]).includes(expected));
  assert.ok((changed.addrs as string[]).includes(expected));
  assert.ok((await hidden.info()).addrs.includes(expected));

  const visitor = await startP2PNode(['--bootstrap', expected]);
  nodes.push(visitor);
  await Promise.all([visitor.waitForPeer(hidden.peerId), hidden.waitForPeer(visitor.peerId)]);
  const seen = (await visitor.info()).peers.find((p) => p.peerId === hidden.peerId);
  assert.ok(seen !== undefined);
});
