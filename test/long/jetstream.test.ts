// parley nodes over one real `nats-server -js`: two nodes share a stream, their clients
// talk in one channel and see the same seqs and ids, a client id through both nodes is
// stored once, Mles history (join headers too) and the query API answer the same on both; NATS going away
// while running fails publishes clearly and the node recovers by itself; NATS unreachable
// or a stream with conflicting settings at start exits 1 with a message that says why.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { MlesTestClient } from '../helpers/mles-client.ts';
import { natsUnavailable, startNatsCluster, type NatsCluster } from '../helpers/nats-servers.ts';
import { CLI, startNode, type NodeProcess } from '../helpers/node-process.ts';
import { exactlyOnce, Participant } from '../helpers/participant.ts';
import { freePort, makeLocalCertificate } from '../helpers/pebble.ts';

const skip = natsUnavailable();
let nats: NatsCluster;
let a: NodeProcess;
let b: NodeProcess;
/** A node of another site, on SQLite, that both nodes of the cluster peer with. */
let site: NodeProcess;
const PEER_KEY = 'jetstream-peering-test';

before(async () => {
  if (skip !== undefined) return;
  nats = await startNatsCluster(1);
  site = await startNode([], { PEER_KEY });
  const cluster = ['--nats', nats.urls, '--peer', site.wsUrl];
  [a, b] = await Promise.all([startNode(cluster, { PEER_KEY }), startNode(cluster, { PEER_KEY })]);
});

after(async () => {
  if (skip !== undefined) return;
  await Promise.all([a?.stop(), b?.stop(), site?.stop()]);
  await nats?.stop();
});

async function publishHttp(node: NodeProcess, channel: string, text: string, cid?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = new URLSearchParams({ uid: 'curl', ...(cid === undefined ? {} : { cid }) });
  const res = await fetch(new URL(`/v1/channels/${encodeURIComponent(channel)}/messages?${query}`, node.url), {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: text,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function history(node: NodeProcess, channel: string): Promise<Array<{ seq: number; id: string; payload: string }>> {
  const res = await fetch(new URL(`/v1/channels/${encodeURIComponent(channel)}/messages?limit=1000&encoding=text`, node.url));
  assert.equal(res.status, 200);
  return ((await res.json()) as { messages: Array<{ seq: number; id: string; payload: string }> }).messages;
}

test('clients on two nodes talk in one channel: each message once, in one order, with the same seqs and ids', { skip }, async () => {
  const channel = 'room. with *dots* > and spaces';
  const alice = await Participant.join(a.wsUrl, 'alice', channel);
  const bob = await Participant.join(b.wsUrl, 'bob', channel);
  try {
    await Promise.all([alice.publishMany(channel, 'a', 100), bob.publishMany(channel, 'b', 100)]);
    const expected = [...Array.from({ length: 100 }, (_, i) => `a${i}`), ...Array.from({ length: 100 }, (_, i) => `b${i}`)];
    for (const p of [alice, bob]) {
      await p.waitUntil((r) => r.length >= 200, '200 messages');
      assert.equal(exactlyOnce(p.texts(), expected), undefined);
      assert.deepEqual(p.received.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    }
    assert.deepEqual(alice.texts(), bob.texts());
    assert.deepEqual(alice.received.map((m) => Buffer.from(m.id).toString('hex')), bob.received.map((m) => Buffer.from(m.id).toString('hex')));
    assert.equal(new Set(alice.received.map((m) => m.origin)).size, 1, 'the nodes are one origin');
    assert.deepEqual(await history(a, channel), await history(b, channel));
  } finally {
    await Promise.all([alice.close(), bob.close()]);
  }
});

test('a node of another site peers with the cluster as with one node: messages cross both ways, once', { skip }, async () => {
  const channel = 'peered';
  const far = await Participant.join(site.wsUrl, 'far', channel);
  const near = await Participant.join(b.wsUrl, 'near', channel);
  try {
    await Promise.all([far.publishMany(channel, 'far', 20), near.publishMany(channel, 'near', 20)]);
    const expected = [...Array.from({ length: 20 }, (_, i) => `far${i}`), ...Array.from({ length: 20 }, (_, i) => `near${i}`)];
    for (const p of [far, near]) {
      await p.waitUntil((r) => r.length >= 40, '40 messages');
      assert.equal(exactlyOnce(p.texts(), expected), undefined);
    }
    const nodeIds = await Promise.all([a, b].map(async (n) => ((await (await fetch(new URL('/v1/node', n.url))).json()) as { id: string }).id));
    assert.equal(nodeIds[0], nodeIds[1], 'the nodes of the cluster share one node id');
    assert.deepEqual(await history(a, channel), await history(b, channel));
  } finally {
    await Promise.all([far.close(), near.close()]);
  }
});

test('the same client message id published through both nodes is stored once', { skip }, async () => {
  const first = await publishHttp(a, 'dedup', 'once', 'cid-1');
  const again = await publishHttp(b, 'dedup', 'once', 'cid-1');
  assert.equal(first.status, 201);
  assert.equal(again.status, 201);
  assert.equal(first.body.duplicate, false);
  assert.equal(again.body.duplicate, true);
  assert.equal(again.body.seq, first.body.seq);
  assert.equal(again.body.id, first.body.id);
  assert.deepEqual((await history(b, 'dedup')).map((m) => m.payload), ['once']);
});

test('an Mles client joining one node gets the history (messages and join headers) published through the other', { skip }, async () => {
  const sender = await MlesTestClient.join(a.wsUrl, { uid: 'm1', channel: 'mles-room' });
  for (let i = 0; i < 5; i++) sender.send(`line ${i}`);
  // The Mles sender gets no acks: the query API on the other node waits for the stream.
  const deadline = Date.now() + 10_000;
  while ((await history(b, 'mles-room')).length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const joiner = await MlesTestClient.join(b.wsUrl, { uid: 'm2', channel: 'mles-room' });
  const replay = await joiner.waitFor(6);
  assert.deepEqual(replay.slice(0, 6).map((r) => r.data.toString()), ['{"uid":"m1","channel":"mles-room"}', 'line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  sender.ws.close();
  joiner.ws.close();
});

test('Mles join headers are replayed through every node, in the place they have on one node', { skip }, async () => {
  const channel = 'mles-joins';
  // Watchers on both nodes: a message a node has applied tells that its header, which
  // went through the stream before it, is applied there too.
  const [onA, onB] = await Promise.all([Participant.join(a.wsUrl, 'watch-a', channel), Participant.join(b.wsUrl, 'watch-b', channel)]);
  const mles: MlesTestClient[] = [];
  const join = async (node: NodeProcess, header: Record<string, unknown>) => {
    const client = await MlesTestClient.join(node.wsUrl, header);
    mles.push(client);
    return client;
  };
  try {
    const x = await join(a, { uid: 'x', channel, extra: 'kept' });
    x.send('from x');
    await onB.waitUntil((r) => r.length >= 1, "x's message on b");
    const y = await join(b, { uid: 'y', channel });
    const yReplay = await y.waitFor(2);
    assert.deepEqual(JSON.parse(yReplay[0]!.data.toString()), { uid: 'x', channel, extra: 'kept' }, "y, on b, is replayed x's header (joined on a)");
    assert.equal(yReplay[1]!.data.toString(), 'from x');
    y.send('from y');
    await onA.waitUntil((r) => r.length >= 2, "y's message on a");
    // On one node, a third joiner gets: x's header, x's message, y's header, y's message.
    const expected = [JSON.stringify({ uid: 'x', channel, extra: 'kept' }), 'from x', JSON.stringify({ uid: 'y', channel }), 'from y'];
    const [z, w] = await Promise.all([join(a, { uid: 'z', channel }), join(b, { uid: 'w', channel })]);
    for (const joiner of [z, w]) {
      await joiner.waitFor(4);
      assert.deepEqual(joiner.texts().slice(0, 4), expected);
    }
    // x gets y's message live, and no header: Mles replays headers only to joiners.
    await x.waitForText('from y');
    assert.deepEqual(x.texts(), ['from y']);
  } finally {
    await Promise.all([...mles.map((c) => c.close()), onA.close(), onB.close()]);
  }
});

test('/metrics and /healthz show the NATS connection and JetStream latency', { skip }, async () => {
  const health = (await (await fetch(new URL('/healthz', a.url))).json()) as { status: string; nats: { connected: boolean; stream: string; applied: number } };
  assert.equal(health.status, 'ok');
  assert.equal(health.nats.connected, true);
  assert.equal(health.nats.stream, 'PARLEY');
  assert.ok(health.nats.applied > 0);
  const metrics = await (await fetch(new URL('/metrics', a.url))).text();
  assert.match(metrics, /^parley_nats_connected 1$/m);
  assert.match(metrics, /^parley_jetstream_publish_seconds_count [1-9]\d*$/m);
});

test("--max-message is lowered to what NATS takes in one message, so the largest message is stored", { skip }, async () => {
  const [line] = a.logged('--max-message lowered to what NATS takes in one message (raise max_payload in the NATS server config to allow more)');
  assert.ok(line !== undefined, 'the node says it lowered the limit');
  const fits = Number(line.now);
  assert.equal(fits, 1024 * 1024 - 4096);
  const res = await fetch(new URL('/v1/channels/big/messages?uid=u', a.url), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(fits) });
  assert.equal(res.status, 201, await res.text());
  const over = await fetch(new URL('/v1/channels/big/messages?uid=u', a.url), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(fits + 1) });
  assert.equal(over.status, 413);
});

test('NATS unreachable at start: exit 1 within seconds, naming the URL and what to check', { skip }, async () => {
  const port = await freePort();
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--data', mkdtempSync(join(tmpdir(), 'parley-test-')), '--nats', `nats://127.0.0.1:${port}`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(Date.now() - started < 10_000);
  assert.match(r.stderr, new RegExp(`cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}`));
  assert.match(r.stderr, /nats-server -js/);
});

test('a stream with settings parley cannot use: exit 1 naming the setting and what to do', { skip }, async () => {
  const nc = await connect({ servers: nats.urls });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'OTHER', subjects: ['other.>'] });
  await nc.close();
  const node = startNode(['--nats', nats.urls, '--nats-stream', 'OTHER']);
  await assert.rejects(node, /node exited \(1\)[\s\S]*stream OTHER exists with settings parley cannot use: its subjects are \["other\.>"\][\s\S]*--nats-stream/);
});

test('NATS going away: publishes fail with a clear error, then the node recovers by itself', { skip }, async () => {
  const channel = 'outage';
  const alice = await Participant.join(a.wsUrl, 'alice', channel);
  try {
    await alice.client.publish(channel, 'before');
    await nats.servers[0]!.kill('SIGKILL');
    const down = await publishHttp(b, channel, 'during', 'during-1');
    assert.equal(down.status, 503);
    assert.match(String(down.body.error), /NATS JetStream did not store the message/);
    const health = (await (await fetch(new URL('/healthz', b.url))).json()) as { status: string; nats: { connected: boolean } };
    assert.equal(health.status, 'degraded');
    // The SDK retries a publish the node could not store, with the same client id.
    const pending = alice.client.publish(channel, 'retried');
    await nats.servers[0]!.restart();
    await pending;
    const up = await publishHttp(b, channel, 'after', 'after-1');
    assert.equal(up.status, 201, JSON.stringify(up.body));
    await alice.waitUntil((r) => r.length >= 3 && alice.texts().includes('after'), 'the messages after the outage');
    const texts = alice.texts().filter((t) => t !== 'during');
    assert.deepEqual(texts, ['before', 'retried', 'after']);
    assert.deepEqual((await history(a, channel)).map((m) => m.payload), (await history(b, channel)).map((m) => m.payload));
  } finally {
    await alice.close();
  }
});

test('retention trims the stream, and a node started afterwards numbers and ids the rest as the running one does', { skip }, async () => {
  const args = ['--nats', nats.urls, '--nats-stream', 'TRIMMED', '--retain-count', '10', '--retention-interval', '1s'];
  const first = await startNode(args);
  let later: NodeProcess | undefined;
  try {
    // At once: the node sends a turn's publishes of a channel as one stream message, so the
    // trim has to cut inside one.
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => publishHttp(first, 'kept', `m${i}`)));
    assert.deepEqual(answers.map((a) => a.status), Array.from({ length: 30 }, () => 201));
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    // Trimming takes two retention passes (checkpoint, then purge): the stream has no push for it.
    const deadline = Date.now() + 15_000;
    let state = (await jsm.streams.info('TRIMMED')).state;
    while (state.first_seq === 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await jsm.streams.info('TRIMMED')).state;
    }
    await nc.close();
    assert.ok(state.first_seq > 1, `the stream was trimmed (${state.messages} stream messages left from seq ${state.first_seq})`);
    later = await startNode(args);
    const expected = await history(first, 'kept');
    assert.deepEqual(expected.map((m) => m.seq), Array.from({ length: 10 }, (_, i) => i + 21));
    assert.deepEqual(await history(later, 'kept'), expected);
    const next = await publishHttp(later, 'kept', 'after the trim');
    assert.equal(next.body.seq, 31);
    assert.deepEqual((await history(first, 'kept')).at(-1), (await history(later, 'kept')).at(-1));
  } finally {
    await Promise.all([first.stop(), later?.stop()]);
  }
});

test('NATS over TLS: the node trusts the CA it is given, and without it says what to check', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-nats-tls-'));
  const certificate = makeLocalCertificate(dir, 'nats');
  const secure = await startNatsCluster(1, certificate);
  try {
    const node = await startNode(['--nats', secure.urls, '--nats-tls-ca', certificate.cert]);
    try {
      const stored = await publishHttp(node, 'over-tls', 'sealed', 'tls-1');
      assert.equal(stored.status, 201, JSON.stringify(stored.body));
      assert.deepEqual((await history(node, 'over-tls')).map((m) => m.payload), ['sealed']);
    } finally {
      await node.stop();
    }
    const refused = spawnSync(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--data', mkdtempSync(join(tmpdir(), 'parley-test-')), '--nats', secure.urls], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: .*TLS options \(--nats-tls-\*\)/);
  } finally {
    await secure.stop();
  }
});
