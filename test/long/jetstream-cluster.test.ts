// Three parley nodes over a three-server NATS cluster on loopback, with a stream of three
// replicas: clients spread over the nodes talk in one channel exactly once and in one
// order; clients behind a round-robin balancer reconnect to whichever node and miss
// nothing; killing the stream's leader server while clients publish loses no acked
// message; a node killed with SIGKILL right after its clients' acks loses nothing either,
// and a reader resumes on another node from its cursor with exactly what it missed.

import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { MemoryCursorStore } from '../../src/client/index.ts';
import { natsUnavailable, startNatsCluster, type NatsCluster } from '../helpers/nats-servers.ts';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';
import { exactlyOnce, Participant } from '../helpers/participant.ts';
import { startTcpBalancer } from '../helpers/tcp-balancer.ts';

const skip = natsUnavailable();
let nats: NatsCluster;
let nodes: NodeProcess[] = [];

before(async () => {
  if (skip !== undefined) return;
  nats = await startNatsCluster(3);
  // One node first: it creates the stream and the cluster key the others then find.
  nodes.push(await startNode(['--nats', nats.urls, '--nats-replicas', '3'], {}, 30_000));
  nodes.push(...(await Promise.all([1, 2].map(() => startNode(['--nats', nats.urls, '--nats-replicas', '3'], {}, 30_000)))));
});

after(async () => {
  if (skip !== undefined) return;
  await Promise.all(nodes.map((n) => n.stop()));
  await nats?.stop();
});

async function history(node: NodeProcess, channel: string): Promise<Array<{ seq: number; id: string; payload: string }>> {
  const res = await fetch(new URL(`/v1/channels/${encodeURIComponent(channel)}/messages?limit=1000&encoding=text`, node.url));
  assert.equal(res.status, 200);
  return ((await res.json()) as { messages: Array<{ seq: number; id: string; payload: string }> }).messages;
}

const texts = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

test('clients spread over three nodes talk in one channel: exactly once, in one order', { skip }, async () => {
  const channel = 'spread';
  const people = await Promise.all(nodes.map((node, i) => Participant.join(node.wsUrl, `p${i}`, channel)));
  try {
    await Promise.all(people.map((p, i) => p.publishMany(channel, `n${i}-`, 60)));
    const expected = people.flatMap((_, i) => texts(`n${i}-`, 60));
    for (const p of people) {
      await p.waitUntil((r) => r.length >= expected.length, `${expected.length} messages`);
      assert.equal(exactlyOnce(p.texts(), expected), undefined);
      assert.deepEqual(p.received.map((m) => m.seq), Array.from({ length: expected.length }, (_, i) => i + 1));
      assert.deepEqual(p.texts(), people[0]!.texts(), 'one order on every node');
    }
    const [h0, h1, h2] = await Promise.all(nodes.map((n) => history(n, channel)));
    assert.deepEqual(h1, h0);
    assert.deepEqual(h2, h0);
  } finally {
    await Promise.all(people.map((p) => p.close()));
  }
});

test('clients behind a round-robin balancer reconnect to other nodes and miss nothing', { skip }, async () => {
  const channel = 'balanced';
  const balancer = await startTcpBalancer(nodes.map((n) => n.port));
  const people = await Promise.all([0, 1, 2, 3].map((i) => Participant.join(balancer.url.replace(/^http/, 'ws'), `b${i}`, channel)));
  try {
    const publishing = Promise.all(people.map((p, i) => p.publishMany(channel, `b${i}-`, 80, 10)));
    await people[0]!.waitUntil((r) => r.length >= 40, 'some messages before the cut');
    balancer.cutAll();
    await people[1]!.waitUntil((r) => r.length >= 160, 'more messages before the second cut');
    balancer.cutAll();
    await publishing;
    const expected = people.flatMap((_, i) => texts(`b${i}-`, 80));
    for (const p of people) {
      await p.waitUntil((r) => r.length >= expected.length, `${expected.length} messages`);
      assert.equal(exactlyOnce(p.texts(), expected), undefined);
      assert.deepEqual(p.texts(), people[0]!.texts());
    }
    assert.ok(balancer.counts.filter((c) => c > 0).length >= 2, `connections went to several nodes: ${balancer.counts}`);
  } finally {
    await Promise.all(people.map((p) => p.close()));
    await balancer.close();
  }
});

test('the stream leader server killed while clients publish: no acked message lost', { skip }, async () => {
  const channel = 'failover';
  const people = await Promise.all(nodes.map((node, i) => Participant.join(node.wsUrl, `f${i}`, channel)));
  const leader = await nats.streamLeader('PARLEY');
  const server = nats.servers.find((s) => s.name === leader);
  assert.ok(server !== undefined, `the stream has a leader (${leader})`);
  try {
    const acked: string[] = [];
    const publishing = Promise.all(
      people.map(async (p, i) => {
        for (let k = 0; k < 40; k++) {
          const text = `f${i}-${k}`;
          await p.client.publish(channel, text);
          acked.push(text);
        }
      }),
    );
    await people[0]!.waitUntil((r) => r.length >= 30, 'messages before the kill');
    await server.kill('SIGKILL');
    await publishing;
    assert.equal(acked.length, 120);
    for (const node of nodes) {
      const deadline = Date.now() + 30_000;
      let stored = await history(node, channel);
      while (stored.length < acked.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        stored = await history(node, channel);
      }
      assert.equal(exactlyOnce(stored.map((m) => m.payload), acked), undefined);
      assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: acked.length }, (_, i) => i + 1));
    }
  } catch (error) {
    // What the nodes said about NATS, to tell a slow failover from a fault of the node's.
    const warnings = nodes.map((n) => n.stdout.filter((l) => !l.includes('"level":30')).join('\n')).join('\n--\n');
    throw new Error(`${(error as Error).message}\nnode warnings:\n${warnings}`, { cause: error });
  } finally {
    await Promise.all(people.map((p) => p.close()));
    await server.restart();
    await nats.ready();
  }
});

test('a node killed right after its acks: the others serve every acked message, and a reader resumes on another node', { skip }, async () => {
  const channel = 'killed';
  const [a, , c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  const cursors = new MemoryCursorStore();
  const reader = await Participant.join(c.wsUrl, 'reader', channel, cursors);
  const writer = await Participant.join(c.wsUrl, 'writer', channel);
  await writer.publishMany(channel, 'k', 50);
  await c.stop('SIGKILL');
  await Promise.all([reader.close(), writer.close()]);
  const seen = reader.texts();
  for (const node of nodes.filter((n) => n !== c)) {
    assert.deepEqual((await history(node, channel)).map((m) => m.payload).sort(), texts('k', 50).sort());
  }
  // More is said while the reader is away, then it comes back on another node.
  const other = await Participant.join(a.wsUrl, 'other', channel);
  await other.publishMany(channel, 'later', 10);
  await other.close();
  const cursor = cursors.get(channel) ?? 0;
  assert.ok(cursor > 0, 'the reader had processed messages before its node died');
  const resumed = await Participant.join(a.wsUrl, 'reader', channel, cursors);
  try {
    const all = (await history(a, channel)).map((m) => m.payload);
    const missed = all.slice(cursor);
    await resumed.waitUntil((r) => r.length >= missed.length, `${missed.length} missed messages`);
    assert.deepEqual(resumed.texts(), missed);
    assert.deepEqual([...seen.slice(0, cursor), ...resumed.texts()], all);
  } finally {
    await resumed.close();
    nodes = nodes.filter((n) => n !== c);
  }
});
