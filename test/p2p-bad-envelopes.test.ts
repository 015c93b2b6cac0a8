// A peer that lies over gossip: a libp2p peer made here, with the node's own libp2p
// packages and gossipsub settings, publishes forged, altered, truncated and malformed
// envelopes to node A, and after B restarts (its gossip seen-cache empty) replays a
// genuine old one to B. No client sees any of it or a duplicate; A and B keep serving
// and carrying messages; /metrics counts each refusal by its reason.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { chainIds, type Envelope } from '../src/envelope/envelope.ts';
import { OriginWriter } from '../src/envelope/origin-writer.testkit.ts';
import { Sealer } from '../src/envelope/seal.ts';
import { decodeGossip, encodeGossip, topicOf } from '../src/p2p/gossip-codec.ts';
import { ForeignPeer, type GossipReceived } from './helpers/foreign-peer.ts';
import { listable, startP2PNode, type P2PNode } from './helpers/p2p-node.ts';
import { exactlyOnce, Participant } from './helpers/participant.ts';
import { metric } from './helpers/peer-network.ts';
import { freePort } from './helpers/pebble.ts';

const CHANNEL = 'guarded';
const TOPIC = topicOf(CHANNEL);
const nodes: P2PNode[] = [];
const participants: Participant[] = [];
let foreign: ForeignPeer | undefined;
after(async () => {
  await Promise.all(participants.map((p) => p.close().catch(() => {})));
  await foreign?.stop().catch(() => {});
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
});
async function node(args: readonly string[]): Promise<P2PNode> {
  const started = await startP2PNode(args);
  nodes.push(started);
  return started;
}
async function participant(at: P2PNode, uid: string): Promise<Participant> {
  const joined = await Participant.join(at.wsUrl, uid, CHANNEL);
  participants.push(joined);
  return joined;
}
const hasText = (p: Participant, text: string) => p.waitUntil(() => p.texts().includes(text), `"${text}"`, 20_000);

function envelopeOf(message: GossipReceived): Envelope {
  const decoded = decodeGossip(message.data, { maxPayload: 1 << 20 });
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.message.envelope;
}

/** A run that names `origin` but is sealed with `sealer`'s key. */
function claimedBy(origin: string, firstSeq: number, prev: Uint8Array, text: string, sealer: Sealer): Envelope {
  const unsealed: Envelope = { origin, firstSeq, prev, messages: [{ ts: Date.now(), uid: 'mallory', binary: false, payload: Buffer.from(text) }], seal: undefined };
  return { ...unsealed, seal: sealer.seal(chainIds(CHANNEL, unsealed).at(-1)!) };
}

/** Envelope refusals on a node, by reason, as /metrics shows them. */
async function rejected(at: P2PNode, reason: string): Promise<number> {
  return (await metric(listable(at), 'parley_envelopes_rejected_total', { reason })) ?? 0;
}
async function rejectedAtLeast(at: P2PNode, expected: Record<string, number>, timeoutMs = 15_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts: Record<string, number> = {};
    for (const reason of Object.keys(expected)) counts[reason] = await rejected(at, reason);
    if (Object.entries(expected).every(([reason, n]) => counts[reason]! >= n)) return counts;
    if (Date.now() > deadline) throw new Error(`refusals ${JSON.stringify(counts)}, expected at least ${JSON.stringify(expected)}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // /metrics has no event to await
  }
}

test('forged, altered, truncated, malformed and replayed envelopes from a foreign peer reach no client; the nodes go on and count each refusal', async () => {
  const a = await node([]);
  const bArgs = ['--listen', `127.0.0.1:${await freePort()}`, '--data', mkdtempSync(join(tmpdir(), 'parley-b-')), '--bootstrap', a.addrs[0]!];
  let b = await node(bArgs);
  await b.waitForPeer(a.peerId);
  const alice = await participant(a, 'alice');
  const bob = await participant(b, 'bob');

  const f = (foreign = await ForeignPeer.start());
  await f.dial(a.addrs[0]!);
  f.subscribe(TOPIC);
  await f.waitForSubscriber(TOPIC, a.peerId);

  // An honest run of the foreign peer's own reaches both clients: its messages do get to the node.
  const writer = new OriginWriter(f.identity);
  await f.publish(TOPIC, encodeGossip(CHANNEL, writer.envelope(CHANNEL, 1, ['honest f 0', 'honest f 1', 'honest f 2'], { uid: 'frank' })));
  await Promise.all([hasText(alice, 'honest f 2'), hasText(bob, 'honest f 2')]);

  // Genuine envelopes of A and of B, as gossip brings them to the foreign peer through A.
  await alice.client.publish(CHANNEL, 'from a');
  await bob.client.publish(CHANNEL, 'from b');
  const fromA = await f.waitForMessage((m) => m.topic === TOPIC && envelopeOf(m).origin === a.nodeId, "A's envelope");
  const fromB = await f.waitForMessage((m) => m.topic === TOPIC && envelopeOf(m).origin === b.nodeId, "B's envelope (relayed by A)");
  await Promise.all([hasText(alice, 'from b'), hasText(bob, 'from a')]);
  const genuineB = envelopeOf(fromB);

  const reasons = ['bad_seal', 'forged', 'malformed', 'replayed'];
  const before: Record<string, number> = {};
  for (const reason of reasons) before[reason] = await rejected(a, reason);
  const sealer = new Sealer(f.identity);
  const altered = (envelope: Envelope): Envelope => {
    const payload = Buffer.from(envelope.messages[0]!.payload);
    payload[0]! ^= 0x20;
    return { ...envelope, messages: [{ ...envelope.messages[0]!, payload }, ...envelope.messages.slice(1)] };
  };
  const realRun = writer.envelope(CHANNEL, 4, ['run 4', 'run 5', 'run 6'], { uid: 'frank' });
  const lies: Array<[string, Uint8Array]> = [
    // (a) sealed with its own key, claiming B's origin (next in B's chain) and A's own.
    ['bad_seal', encodeGossip(CHANNEL, claimedBy(b.nodeId, genuineB.firstSeq + genuineB.messages.length, chainIds(CHANNEL, genuineB).at(-1)!, 'forged as b', sealer))],
    ['forged', encodeGossip(CHANNEL, claimedBy(a.nodeId, 1000, Buffer.alloc(32, 7), 'forged as a', sealer))],
    // (b) B's real envelope with one payload byte changed (A's own, changed, is ignored: A wrote it).
    ['forged', encodeGossip(CHANNEL, altered(genuineB))],
    ['replayed', encodeGossip(CHANNEL, altered(envelopeOf(fromA)))],
    // (c) a real run of three with its last message cut off and its seal kept.
    ['bad_seal', encodeGossip(CHANNEL, { ...realRun, messages: realRun.messages.slice(0, 2) })],
    // (d) garbage, and a CBOR map that is no gossip message.
    ['malformed', Buffer.from('ff00fe01deadbeef'.repeat(8), 'hex')],
    ['malformed', new Encoder({ useRecords: false }).encode({ v: 1, ch: CHANNEL, e: ['not', 'an', 'envelope'] })],
  ];
  for (const [, data] of lies) await f.publish(TOPIC, data);
  const expected: Record<string, number> = { ...before };
  for (const [reason] of lies) expected[reason]! += 1;
  const counts = await rejectedAtLeast(a, expected);

  // A fresh message crosses both ways after the lies: everything before it has been handled.
  await alice.client.publish(CHANNEL, 'fresh a');
  await bob.client.publish(CHANNEL, 'fresh b');
  await Promise.all([hasText(bob, 'fresh a'), hasText(alice, 'fresh b')]);
  const honest = ['honest f 0', 'honest f 1', 'honest f 2', 'from a', 'from b', 'fresh a', 'fresh b'];
  for (const client of [alice, bob]) {
    assert.equal(exactlyOnce(client.texts(), honest), undefined, client.uid);
    assert.deepEqual(client.texts().filter((t) => !honest.includes(t)), [], `${client.uid} saw nothing else`);
  }
  // Each lie refused once, for its reason (a replay may also come by gossip's own repair, so that one is at least).
  assert.deepEqual({ ...counts, replayed: expected.replayed }, expected);
  for (const reason of ['bad_seal', 'forged', 'malformed']) assert.equal(await rejected(b, reason), 0, `nothing ${reason} got past A to B`);
  for (const at of [a, b]) assert.equal((await (await fetch(new URL('healthz', at.url))).json() as { status: string }).status, 'ok');

  // (e) B restarts with an empty seen-cache; the foreign peer replays a genuine old envelope to it.
  await b.stop('SIGTERM');
  b = await node(bArgs);
  await b.waitForPeer(a.peerId);
  await f.dial(b.addrs[0]!);
  await f.waitForSubscriber(TOPIC, b.peerId);
  await hasText(bob, 'fresh b'); // bob is back on the restarted B (its SDK reconnects)
  // B counts from zero since its restart. Its seen-cache may already hold these ids if the
  // foreign peer's gossip offered them first: either way B checks each once, as a replay.
  await f.publish(TOPIC, fromA.data);
  await f.publish(TOPIC, fromB.data);
  await rejectedAtLeast(b, { replayed: 2 });
  await alice.client.publish(CHANNEL, 'after replay');
  await hasText(bob, 'after replay');
  const all = [...honest, 'after replay'];
  assert.equal(exactlyOnce(bob.texts(), all), undefined, 'bob sees each message once across the restart and the replay');
  assert.equal(exactlyOnce(alice.texts(), all), undefined);
  for (const at of [a, b]) assert.equal((await (await fetch(new URL('healthz', at.url))).json() as { status: string }).status, 'ok');
  console.log(`A refused: ${JSON.stringify(counts)}; B replays refused since its restart: ${await rejected(b, 'replayed')}`);
});
