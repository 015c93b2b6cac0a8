// Running a network: peers from a file that is edited while the node runs and from a
// URL, failover to the remaining peer when one goes away, and the per-peer metrics.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { makeLocalCertificate } from '../helpers/pebble.ts';
import { metric, TestNetwork, type NetworkNode, type NodeOptions } from '../helpers/peer-network.ts';

const net = new TestNetwork();
after(() => net.close());
const node = (name: string, options: NodeOptions = {}) => net.node(name, options);
const join = (at: NetworkNode, uid: string, channel: string) => net.join(at, uid, channel);

test('peers from a file (re-read when edited) and from a URL', async () => {
  const a = await node('FA');
  const b = await node('FB');
  const dir = mkdtempSync(joinPath(tmpdir(), 'parley-peers-'));
  const file = joinPath(dir, 'peers.txt');
  writeFileSync(file, `# the first peer\n${a.wsUrl}\n`);
  const list = createServer((_req, res) => res.end(`${b.wsUrl}\n`));
  list.listen(0, '127.0.0.1');
  await once(list, 'listening');
  try {
    const c = await node('FC', { args: ['--peers-file', file] });
    await c.process.waitForLogCount('peer link up', 1);
    writeFileSync(file, `${a.wsUrl}\n${b.wsUrl}\n`);
    await c.process.waitForLogCount('peer link up', 2);
    writeFileSync(file, `${b.wsUrl}\n`);
    await c.process.waitForLogCount('peer removed', 1);
    assert.equal(await metric(c, 'parley_peer_up', { peer: a.wsUrl }), undefined, 'a removed peer leaves the metrics');

    const d = await node('FD', { args: ['--peers-url', `http://127.0.0.1:${(list.address() as AddressInfo).port}/`] });
    await d.process.waitForLogCount('peer link up', 1);
    assert.equal(await metric(d, 'parley_peer_up', { peer: b.wsUrl }), 1);
  } finally {
    list.close();
  }
});

test('with two peers, losing one keeps the node in the network; metrics show state, lag and traffic', async () => {
  const a = await node('OA');
  const b = await node('OB', { peers: [a.wsUrl] });
  const c = await node('OC', { peers: [a.wsUrl, b.wsUrl] });
  await c.process.waitForLogCount('peer link up', 2);
  const bob = await join(b, 'bob', 'failover');
  const carol = await join(c, 'carol', 'failover');
  await carol.client.publish('failover', 'before');
  await bob.waitUntil((m) => m.length === 1, 'the first message');
  await a.stop();
  await c.process.waitForLogCount('peer link down; reconnecting', 1);
  await carol.client.publish('failover', 'after A went away');
  await bob.waitUntil((m) => m.length === 2, 'the message sent while A is down');
  assert.deepEqual(bob.texts(), ['before', 'after A went away']);
  assert.equal(await metric(c, 'parley_peer_up', { peer: a.wsUrl }), 0);
  assert.equal(((await (await fetch(`${c.httpUrl}healthz`)).json()) as { peers: number }).peers, 1);
  assert.equal(await metric(c, 'parley_peer_up', { peer: b.wsUrl }), 1);
  assert.equal(await metric(c, 'parley_peer_lag_messages', { peer: b.wsUrl }), 0);
  assert.ok((await metric(c, 'parley_peer_bytes_sent_total', { peer: b.wsUrl }))! > 0);
  assert.ok((await metric(c, 'parley_peer_messages_sent_total', { peer: b.wsUrl }))! >= 1);
  assert.ok((await metric(b, 'parley_peer_messages_received_total', { peer: 'inbound' }))! >= 1);
  // A comes back: C reconnects to it by itself (with backoff).
  await a.start();
  await c.process.waitForLogCount('peer link up', 3, 20_000);
  assert.equal(await metric(c, 'parley_peer_up', { peer: a.wsUrl }), 1);
});

test('a link over wss:// to a node with its own TLS certificate', async () => {
  const { cert, key } = makeLocalCertificate(mkdtempSync(joinPath(tmpdir(), 'parley-tls-')), 'node');
  const secure = await node('TLS', { args: ['--tls-cert', cert, '--tls-key', key] });
  assert.match(secure.process.url, /^https:/);
  const dialer = await node('DIALER', { peers: [`wss://localhost:${secure.port}/`], env: { NODE_EXTRA_CA_CERTS: cert } });
  await dialer.process.waitForLogCount('peer link up', 1);
  await secure.process.waitForLogCount('peer link up', 1);
  assert.equal(await metric(dialer, 'parley_peer_up', { peer: `wss://localhost:${secure.port}/` }), 1);
});

test('a peer URL that leads back to the node itself is dialed once, not forever', async () => {
  const lonely = await node('SELF');
  // The node's own address, given as a peer through the peers file.
  const dir = mkdtempSync(joinPath(tmpdir(), 'parley-self-'));
  writeFileSync(joinPath(dir, 'peers.txt'), `${lonely.wsUrl}\n`);
  await lonely.stop();
  const again = await node('SELF2', { args: ['--listen', `127.0.0.1:${lonely.port}`, '--peers-file', joinPath(dir, 'peers.txt')] });
  await again.process.waitForLogCount('this peer URL leads back to this node; not dialing it again', 1);
  // The same close handler would have scheduled a reconnect instead.
  assert.equal(again.process.stdout.filter((l) => l.includes('peer link down; reconnecting')).length, 0);
});

test('large messages cross a link in frames the peer accepts, also in a replay', async () => {
  const a = await node('BIG-A');
  const b = await node('BIG-B', { peers: [a.wsUrl] });
  await b.process.waitForLogCount('peer link up', 1);
  const sender = await join(a, 'sender', 'big');
  const big = (i: number) => `${i}:`.padEnd(900_000, 'x');
  // Stored before anyone on B asks for the channel: B gets them in one replay, 72 MB in
  // all, more than a link may hold back (64 MiB).
  for (let i = 0; i < 80; i++) await sender.client.publish('big', big(i));
  const receiver = await join(b, 'receiver', 'big');
  await receiver.waitUntil((m) => m.length === 80, 'all 80 large messages', 60_000);
  assert.deepEqual(receiver.texts(), Array.from({ length: 80 }, (_, i) => big(i)));
  assert.equal(a.process.stdout.filter((line) => line.includes('peer link closed')).length, 0);
});

test("a node sends a catch-up at the pace the peer allows, instead of being cut off as a flood", async () => {
  const source = await node('PACE-A');
  const sink = await node('PACE-B', { peers: [source.wsUrl], args: ['--peer-rate', '5000'] });
  await sink.process.waitForLogCount('peer link up', 1);
  const sender = await join(source, 'sender', 'paced');
  await sender.publishMany('paced', 'p', 12_000, 100);
  // 12,000 stored messages, then someone on the slow side asks for them all at once.
  const receiver = await join(sink, 'receiver', 'paced');
  await receiver.waitUntil((m) => m.length === 12_000, 'the whole catch-up', 30_000);
  assert.equal(sink.process.stdout.filter((line) => line.includes('peer sends too fast')).length, 0);
  assert.equal(source.process.stdout.filter((line) => line.includes('peer link closed')).length, 0);
});

test('a node given --peer without PEER_KEY or --trust warns at start, and warns again when the peer refuses it', async () => {
  const keyed = await node('KEYED');
  const keyless = await node('KEYLESS', { env: { PEER_KEY: undefined }, peers: [keyed.wsUrl] });
  const startWarning = '--peer needs PEER_KEY (the same on every node) or --trust NODEID; without them the peer will refuse this node';
  // Logged before 'listening', which startNode waited for.
  const [line] = keyless.process.logged(startWarning);
  assert.equal(line?.level, 40, 'at warn level');
  assert.deepEqual(keyed.process.logged(startWarning), [], 'a node with PEER_KEY and no peers does not warn');
  await keyless.process.waitForLogCount("the peer refused this node's handshake: is PEER_KEY set to the same value on both nodes?", 1);
});
