// A node without --p2p still answers /v1/node (no peer id, empty lists), refuses a find
// with 503, and loads no libp2p code.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { parley } from './helpers/p2p-node.ts';

let node: NodeProcess;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node?.stop();
});

test('without --p2p, /v1/node has the node id and no p2p parts, and find answers 503', async () => {
  const info = (await (await fetch(new URL('v1/node', node.url))).json()) as Record<string, unknown>;
  assert.match(String(info.id), /^[0-9a-f]{32}$/);
  assert.deepEqual(info, { id: info.id, addrs: [], peers: [] });
  const find = await fetch(new URL('v1/p2p/find?q=alice', node.url));
  assert.equal(find.status, 503);
  assert.match(((await find.json()) as { error: string }).error, /start it with --p2p/);
  const status = await parley(['p2p', 'status', '--node', node.url]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /peer-to-peer mode is off on this node/);
  const metrics = await (await fetch(new URL('metrics', node.url))).text();
  assert.doesNotMatch(metrics, /parley_p2p_/);
});

test('the help of parley, parley serve and parley p2p tells of peer-to-peer mode', async () => {
  assert.match((await parley(['help'])).stdout, /^ {2}p2p +Ask a node about its peer-to-peer side/m);
  const serve = (await parley(['serve', '--help'])).stdout;
  for (const flag of ['--p2p ', '--p2p-listen MULTIADDR', '--p2p-announce MULTIADDR', '--bootstrap MULTIADDR', '--no-mdns', '--p2p-secret FILE', '--relay', '--p2p-name NAME', '--p2p-channels LIST']) {
    assert.ok(serve.includes(flag), flag);
  }
  const p2p = await parley(['p2p', '--help']);
  assert.equal(p2p.code, 0);
  assert.match(p2p.stdout, /parley p2p find QUERY \[--node URL\]/);
  assert.equal((await parley(['p2p', 'frobnicate'])).code, 2);
});
