// Hosts in this process on loopback sockets: gossip as parley runs it (validators before
// delivery, duplicates, size limit, mesh sizes) and peer scoring that disconnects a peer
// whose messages keep being rejected.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadOrCreateIdentity } from '../../identity/node-identity.ts';
import { MAX_GOSSIP_DATA } from './gossip-options.ts';
import { startP2PHost, type P2PHost } from './host.ts';

const log = pino({ level: 'silent' });
const hosts: P2PHost[] = [];

async function host(bootstrap: string[] = []): Promise<P2PHost> {
  const started = await startP2PHost({
    identity: loadOrCreateIdentity(mkdtempSync(join(tmpdir(), 'parley-p2p-host-'))),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    announce: [],
    bootstrap,
    mdns: false,
    secretFile: undefined,
    relay: false,
    names: [],
    log,
  });
  hosts.push(started);
  return started;
}

function connected(a: P2PHost, b: P2PHost): Promise<void> {
  if (a.peers().some((p) => p.peerId === b.peerId)) return Promise.resolve();
  return new Promise((resolve) => a.onPeerConnected((peer) => peer === b.peerId && resolve()));
}

/** Resolves once the host has a peer in its mesh for the topic (a heartbeat grafts it). */
async function meshed(h: P2PHost, topic: string): Promise<void> {
  while ((h.meshSizes().get(topic) ?? 0) === 0) await once(h.libp2p.services.pubsub, 'gossipsub:heartbeat');
}

let a: P2PHost;
let b: P2PHost;

before(async () => {
  a = await host();
  b = await host([a.addrs()[0]!]);
  await Promise.all([connected(a, b), connected(b, a)]);
});

after(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

test('a message passes the validator before it is delivered, with the peer it came from; identical bytes go once', async () => {
  const seen: string[] = [];
  const delivered: string[] = [];
  b.subscribe('chat', (data, from) => {
    seen.push(`${Buffer.from(data)} from ${from === a.peerId ? 'a' : from}`);
    return data[0] === 0x21 ? 'ignore' : 'accept';
  }, (data, from) => delivered.push(`${Buffer.from(data)} from ${from === a.peerId ? 'a' : from}`));
  a.subscribe('chat', () => 'accept');
  await Promise.all([meshed(a, 'chat'), meshed(b, 'chat')]);
  assert.deepEqual([a.meshSizes().get('chat'), b.meshSizes().get('chat')], [1, 1]);
  await a.publish('chat', Buffer.from('!dropped'));
  await a.publish('chat', Buffer.from('hello'));
  await a.publish('chat', Buffer.from('hello'));
  await a.publish('chat', Buffer.from('last'));
  while (delivered.length < 2) await once(b.libp2p.services.pubsub, 'gossipsub:message');
  assert.deepEqual(seen, ['!dropped from a', 'hello from a', 'last from a']);
  assert.deepEqual(delivered, ['hello from a', 'last from a']);
  await assert.rejects(a.publish('chat', new Uint8Array(MAX_GOSSIP_DATA + 1)), RangeError);
});

test('a peer whose messages are rejected again and again is disconnected and refused', async () => {
  const c = await host([b.addrs()[0]!]);
  await connected(b, c);
  let rejected = 0;
  b.subscribe('bad', () => {
    rejected++;
    return 'reject';
  });
  c.subscribe('bad', () => 'accept');
  await Promise.all([meshed(b, 'bad'), meshed(c, 'bad')]);
  const gone = new Promise<void>((resolve) => b.libp2p.addEventListener('peer:disconnect', (event) => event.detail.toString() === c.peerId && resolve()));
  for (let i = 0; i < 12; i++) await c.publish('bad', Buffer.from(`bad ${i}`));
  await gone;
  assert.ok(rejected >= 9, `${rejected} rejected`);
  assert.ok(!b.peers().some((p) => p.peerId === c.peerId));
  await assert.rejects(b.libp2p.dial(c.libp2p.peerId), /gater/);
  assert.ok(b.peers().some((p) => p.peerId === a.peerId), 'the well-behaved peer stays');
});
