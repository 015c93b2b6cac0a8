// Peering between real node processes on loopback: chains, rings, bidirectional links,
// partitions, Mles clients, and a bad peer. Each message must reach each client exactly
// once, and after links heal every store must hold the same messages.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MlesTestClient } from './helpers/mles-client.ts';
import { exactlyOnce, Participant } from './helpers/participant.ts';
import { proxyTo, startNetworkNode, storedIds, type NetworkNode } from './helpers/peer-network.ts';
import type { TcpProxy } from './helpers/tcp-proxy.ts';

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Waits until every node stores the same ids in the channel; returns how many. */
async function converged(nodes: readonly NetworkNode[], channel: string, expected: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stores = await Promise.all(nodes.map((n) => storedIds(n, channel)));
    const sets = stores.map((ids) => [...ids].sort().join());
    const dup = stores.findIndex((ids) => new Set(ids).size !== ids.length);
    assert.equal(dup, -1, `node ${nodes[dup]?.name} stores a message twice`);
    if (sets.every((s) => s === sets[0]) && stores[0]!.length === expected) return expected;
    if (Date.now() > deadline) {
      assert.fail(`stores did not converge: ${nodes.map((n, i) => `${n.name}=${stores[i]!.length}`).join(' ')}, expected ${expected}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // polling a store over HTTP: there is no event to await
  }
}

describe('peering', () => {
  const nodes: NetworkNode[] = [];
  const participants: Participant[] = [];
  const proxies: TcpProxy[] = [];
  const node = async (name: string, peers: string[] = [], args: string[] = []) => {
    const made = await startNetworkNode(name, { peers, args });
    nodes.push(made);
    return made;
  };
  const join = async (at: NetworkNode, uid: string, channel: string) => {
    const p = await Participant.join(at.wsUrl, uid, channel);
    participants.push(p);
    return p;
  };

  after(async () => {
    await Promise.all(participants.map((p) => p.close()));
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await Promise.all(proxies.map((p) => p.close()));
  });

  test('chain A-B-C: clients on A and C talk, and B restarts mid-stream without loss or duplicates', async () => {
    const a = await node('A');
    const b = await node('B', [a.wsUrl]);
    const c = await node('C', [b.wsUrl]);
    await Promise.all([b.process.waitForLogCount('peer link up', 2), c.process.waitForLogCount('peer link up', 1)]);
    const alice = await join(a, 'alice', 'chain');
    const carol = await join(c, 'carol', 'chain');
    const N = 300;
    const sending = Promise.all([alice.publishMany('chain', 'a', N), carol.publishMany('chain', 'c', N)]);
    await carol.waitUntil((m) => m.length >= 50, 'the first messages from alice');
    await b.restart();
    await sending;
    const expected = [...range('a', N), ...range('c', N)];
    await alice.waitUntil((m) => m.length >= 2 * N, 'every message at alice');
    await carol.waitUntil((m) => m.length >= 2 * N, 'every message at carol');
    assert.equal(exactlyOnce(alice.texts(), expected), undefined);
    assert.equal(exactlyOnce(carol.texts(), expected), undefined);
    // Each sender's messages arrive in the order it sent them.
    for (const p of [alice, carol]) {
      for (const prefix of ['a', 'c']) {
        const own = p.texts().filter((t) => t.startsWith(prefix)).map((t) => Number(t.slice(1)));
        assert.ok(own.every((n, i) => i === 0 || n > own[i - 1]!) || prefix === p.uid[0], `${p.uid} got ${prefix} out of order`);
      }
    }
    await converged([a, b, c], 'chain', 2 * N);
  });
});
