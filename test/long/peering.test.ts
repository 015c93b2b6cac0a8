// Peering between real node processes on loopback: chains, rings, bidirectional links,
// partitions, Mles clients, and a bad peer. Each message must reach each client exactly
// once, and after links heal every store must hold the same messages.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MlesTestClient } from '../helpers/mles-client.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { GroupClient } from '../../src/group/index.ts';
import { exactlyOnce } from '../helpers/participant.ts';
import { converged, metric, startNetworkNode, TestNetwork, type NetworkNode } from '../helpers/peer-network.ts';

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('peering', () => {
  const net = new TestNetwork();
  const node = (name: string, peers: string[] = [], args: string[] = []) => net.node(name, { peers, args });
  const join = (at: NetworkNode, uid: string, channel: string) => net.join(at, uid, channel);
  after(() => net.close());

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
    assert.equal((await converged([a, b, c], 'chain', 2 * N)).length, 2 * N);
  });

  test('a ring of 4 and a bidirectional pair: each client gets each message exactly once', async () => {
    const ports = await Promise.all([0, 1, 2, 3].map(async (i) => startNetworkNode(`R${i}`, {})));
    // The ring needs each node's URL before its neighbour starts: restart them with peers.
    for (const n of ports) await n.stop();
    const ring: NetworkNode[] = [];
    for (let i = 0; i < 4; i++) {
      ring.push(await node(`R${i}`, [ports[(i + 1) % 4]!.wsUrl], ['--listen', `127.0.0.1:${ports[i]!.port}`]));
    }
    // Each node dials its successor, so each has two links.
    await Promise.all(ring.map((n) => n.process.waitForLogCount('peer link up', 2)));
    const members = await Promise.all(ring.map((n, i) => join(n, `r${i}`, 'ring')));
    const N = 100;
    await Promise.all(members.map((m, i) => m.publishMany('ring', `r${i}-`, N)));
    const expected = members.flatMap((_, i) => range(`r${i}-`, N));
    for (const m of members) {
      await m.waitUntil((got) => got.length >= expected.length, 'every ring message');
      assert.equal(exactlyOnce(m.texts(), expected), undefined, m.uid);
    }
    assert.equal((await converged(ring, 'ring', expected.length)).length, expected.length);

    const x = await node('X');
    const y = await node('Y', [x.wsUrl]);
    // X dials Y too, once Y's URL is known: two links between the same two nodes.
    await x.stop();
    const x2 = await node('X2', [y.wsUrl], ['--listen', `127.0.0.1:${x.port}`]);
    // One of the two links is closed as a duplicate, and its dialer waits.
    const parked = 'peer already linked from its side; dialing again when that link ends';
    await Promise.race([x2.process.waitForLogCount(parked, 1), y.process.waitForLogCount(parked, 1)]);
    const [xm, ym] = await Promise.all([join(x2, 'xm', 'pair'), join(y, 'ym', 'pair')]);
    await Promise.all([xm.publishMany('pair', 'x', N), ym.publishMany('pair', 'y', N)]);
    const both = [...range('x', N), ...range('y', N)];
    for (const m of [xm, ym]) {
      await m.waitUntil((got) => got.length >= both.length, 'every pair message');
      assert.equal(exactlyOnce(m.texts(), both), undefined, m.uid);
    }
  });

  test('Mles clients on two nodes see each other, and native clients see them', async () => {
    const a = await node('MA');
    const b = await node('MB', [a.wsUrl]);
    await b.process.waitForLogCount('peer link up', 1);
    const anna = await MlesTestClient.join(a.wsUrl, { uid: 'anna', channel: 'mles-room' });
    const bert = await MlesTestClient.join(b.wsUrl, { uid: 'bert', channel: 'mles-room' });
    const nina = await join(b, 'nina', 'mles-room');
    // Both joined: the interest has to reach the other node before live frames can.
    anna.send('hello from A');
    await bert.waitForText('hello from A', 10_000);
    bert.send(Buffer.from([1, 2, 3]));
    await anna.waitFor(1, 10_000);
    assert.deepEqual(anna.received.map((r) => [...r.data]), [[1, 2, 3]]);
    assert.equal(anna.received[0]!.binary, true);
    await nina.waitUntil((m) => m.length >= 2, 'both Mles frames at the native client');
    assert.deepEqual(nina.received.map((m) => m.from), ['anna', 'bert']);
    anna.close();
    bert.close();
  });

  test('a partition of a 3-node line: both sides publish, and after healing every store and client has everything once', async () => {
    const a = await node('PA');
    const ab = await net.proxyTo(a);
    const b = await node('PB', [ab.url]);
    const bc = await net.proxyTo(b);
    const c = await node('PC', [bc.url]);
    await Promise.all([b.process.waitForLogCount('peer link up', 2), c.process.waitForLogCount('peer link up', 1)]);
    const [pa, pb, pc] = await Promise.all([join(a, 'pa', 'split'), join(b, 'pb', 'split'), join(c, 'pc', 'split')]);
    await Promise.all([pa.publishMany('split', 'before-a', 20), pc.publishMany('split', 'before-c', 20)]);
    await pc.waitUntil((m) => m.length >= 40, 'the messages before the split');
    bc.partition();
    await c.process.waitForLog('peer link down; reconnecting');
    await Promise.all([pa.publishMany('split', 'during-a', 100), pb.publishMany('split', 'during-b', 100), pc.publishMany('split', 'during-c', 100)]);
    assert.ok(pc.received.length < 340, 'C is cut off from A and B');
    bc.heal();
    const expected = [...range('before-a', 20), ...range('before-c', 20), ...range('during-a', 100), ...range('during-b', 100), ...range('during-c', 100)];
    for (const p of [pa, pb, pc]) {
      await p.waitUntil((m) => m.length >= expected.length, 'everything after healing');
      assert.equal(exactlyOnce(p.texts(), expected), undefined, p.uid);
    }
    assert.equal((await converged([a, b, c], 'split', expected.length)).length, expected.length);
  });

  test('a node receives only the channels someone behind it uses', async () => {
    const a = await node('IA');
    const b = await node('IB', [a.wsUrl]);
    await b.process.waitForLogCount('peer link up', 1);
    const local = await join(a, 'local', 'only-at-a');
    const shared = await join(a, 'sharer', 'shared');
    const remote = await join(b, 'remote', 'shared');
    await local.publishMany('only-at-a', 'x', 20);
    await shared.client.publish('shared', 'for both');
    await remote.waitUntil((m) => m.length === 1, 'the shared message');
    // (Asked through the metrics: a query for the channel would make B fetch it.)
    assert.equal(await metric(b, 'parley_peer_messages_received_total', { peer: a.wsUrl }), 1, 'B was sent only the shared channel');
    // Once someone on B joins it, B asks for it and gets its history.
    const late = await join(b, 'late', 'only-at-a');
    await late.waitUntil((m) => m.length === 20, 'the history of the channel');
    assert.equal(await metric(b, 'parley_peer_messages_received_total', { peer: a.wsUrl }), 21);
  });

  test('a query on one node sees what was published on another, also with nobody subscribed there', async () => {
    const a = await node('QA');
    const b = await node('QB', [a.wsUrl]);
    const c = await node('QC', [b.wsUrl]);
    await Promise.all([b.process.waitForLogCount('peer link up', 2), c.process.waitForLogCount('peer link up', 1)]);
    const writer = await join(a, 'writer', 'asked-later');
    await writer.publishMany('asked-later', 'm', 50);
    // Nobody on B or C has ever used the channel: C's query makes C ask B, and B ask A.
    const reader = await join(c, 'reader', 'other');
    const page = await reader.client.query('asked-later', { limit: 100 });
    assert.deepEqual(page.messages.map((m) => new TextDecoder().decode(m.payload)), Array.from({ length: 50 }, (_, i) => `m${i}`));
    const listed = await (await fetch(`${b.httpUrl}v1/channels/asked-later/messages?limit=100`)).json() as { messages: unknown[] };
    assert.equal(listed.messages.length, 50, 'the HTTP API too');
  });

  test('an encrypted group across two nodes: members on each see each other', async () => {
    const a = await node('GA');
    const b = await node('GB', [a.wsUrl]);
    await b.process.waitForLogCount('peer link up', 1);
    const dir = mkdtempSync(joinPath(tmpdir(), 'parley-group-net-'));
    const alice = await GroupClient.open({ url: a.wsUrl, uid: 'alice', dataDir: joinPath(dir, 'alice') });
    const bob = await GroupClient.open({ url: b.wsUrl, uid: 'bob', dataDir: joinPath(dir, 'bob') });
    try {
      await bob.init(); // bob's key packages are stored on B only
      await alice.create('across');
      await alice.add('across', ['bob']);
      await alice.send('across', 'hello from A');
      await bob.sync();
      await bob.send('across', 'hello from B');
      await alice.sync();
      const lines = (c: GroupClient) => c.messages('across').map((m) => `${m.sender.uid}: ${m.text}`);
      assert.deepEqual(lines(alice), ['alice: hello from A', 'bob: hello from B']);
      assert.deepEqual(lines(bob), ['alice: hello from A', 'bob: hello from B']);
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
