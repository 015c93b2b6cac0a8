// A query on a P2P node for a channel it does not carry (no client of its own uses it)
// fetches the channel from its peers first, as a query on a WebSocket-peered node does:
// B answers with what A holds, and carries the channel from then on. Tools that read
// before they write (a group member looking up key packages) depend on it.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { listable, startP2PNode, type P2PNode } from './helpers/p2p-node.ts';
import { Participant } from './helpers/participant.ts';
import { storedMessages } from './helpers/peer-network.ts';

const nodes: P2PNode[] = [];
const participants: Participant[] = [];
after(async () => {
  await Promise.all(participants.map((p) => p.close().catch(() => {})));
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
});

test('a query on B for a channel only A carries answers with what A holds, and B keeps it current', async () => {
  const a = await startP2PNode();
  nodes.push(a);
  const anna = await Participant.join(a.wsUrl, 'anna', 'asked');
  participants.push(anna);
  await anna.publishMany('asked', 'before ', 20);
  const b = await startP2PNode(['--bootstrap', a.addrs[0]!]);
  nodes.push(b);
  await b.waitForPeer(a.peerId);

  const first = await storedMessages(listable(b, 'B'), 'asked');
  assert.deepEqual(first.map((m) => m.text), Array.from({ length: 20 }, (_, i) => `before ${i}`), 'the first query already has them');

  // Carried from now on: a later message reaches B by gossip, with no query to pull it.
  await anna.client.publish('asked', 'after');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const held = await storedMessages(listable(b, 'B'), 'asked');
    if (held.some((m) => m.text === 'after')) break;
    assert.ok(Date.now() < deadline, 'the later message reached B within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 100)); // polling B's store over HTTP: no event to await
  }
});
