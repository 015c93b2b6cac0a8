// Two PeerLinks driven against each other, each on a node of its own (identity, hub over
// a MemoryStore). They talk through two real `ws` WebSockets joined in memory
// (memory-ws.testkit.ts) rather than a fake of ws: PeerLink uses ws's events, send
// callbacks, close handshake, ping and bufferedAmount, and a fake would have to mimic
// all of them; the real library over a duplexPair costs no port and no timing. Every
// step awaits an event: the handshake's ready or closed, a stream's caughtUp, a commit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { Hub } from '../hub/hub.ts';
import { nextDelivery } from '../hub/hub.testkit.ts';
import { nodeIdOf, type NodeIdentity } from '../identity/node-identity.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { ReplicaIntake } from '../envelope/intake.ts';
import { SealChecker, Sealer } from '../envelope/seal.ts';
import { PeerLink, type LinkContext } from './link.ts';
import { memoryWsPair } from './memory-ws.testkit.ts';
import { PEER_CLOSES, PEER_SUBPROTOCOL } from './protocol.ts';

function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

/**
 * Calls of one context callback, per link. `wait(link)` takes the oldest call not taken
 * yet, or waits for the next one: over an in-memory pair, a whole handshake may be over
 * before the test gets to wait for it.
 */
class Signal<T> {
  readonly seen: T[] = [];
  readonly #unread = new Map<PeerLink, T[]>();
  #waiters: Array<{ readonly link: PeerLink; readonly resolve: (value: T) => void }> = [];
  fire(link: PeerLink, value: T): void {
    this.seen.push(value);
    const waiter = this.#waiters.find((w) => w.link === link);
    if (waiter === undefined) {
      this.#unread.set(link, [...(this.#unread.get(link) ?? []), value]);
      return;
    }
    this.#waiters = this.#waiters.filter((w) => w !== waiter);
    waiter.resolve(value);
  }
  wait(link: PeerLink): Promise<T> {
    const unread = this.#unread.get(link);
    if (unread !== undefined && unread.length > 0) return Promise.resolve(unread.shift()!);
    return new Promise((resolve) => this.#waiters.push({ link, resolve }));
  }
}

/** One node's side: its identity, hub, and the link context whose events the test awaits. */
function side(peerKey: string | undefined) {
  const id = identity();
  const store = new MemoryStore({ nodeId: id.nodeId });
  const hub = new Hub({ store });
  const ready = new Signal<true>();
  const closed = new Signal<number | undefined>();
  const caughtUp = new Signal<string>();
  const handshakeFailed = new Signal<string>();
  // Warnings and worse, parsed: what an operator would be shown.
  const warned: Array<Record<string, unknown>> = [];
  const ctx: LinkContext = {
    identity: id,
    policy: { selfId: id.nodeId, peerKey, trusted: undefined },
    hub,
    store,
    intake: new ReplicaIntake(store, new SealChecker()),
    sealer: new Sealer(id),
    log: pino({ level: 'warn' }, { write: (line: string) => void warned.push(JSON.parse(line) as Record<string, unknown>) }),
    maxPayload: 64 * 1024,
    rateLimit: 0,
    handshakeTimeoutMs: 5000,
    maxSendBuffer: 1 << 20,
    ready: (link) => ready.fire(link, true),
    asked: () => {},
    caughtUp: (link, channel) => caughtUp.fire(link, channel),
    upstreamCaughtUp: () => Promise.resolve(),
    closed: (link) => closed.fire(link, link.closeCode),
    handshakeFailed: (link, reason) => handshakeFailed.fire(link, reason),
  };
  return { id, hub, store, ctx, ready, closed, caughtUp, handshakeFailed, warned };
}

type Side = ReturnType<typeof side>;

/** `a` dials `b`, as Peering does: the dialer's link at once, the other in the upgrade callback. */
function link(a: Side, b: Side): { readonly out: PeerLink; readonly in: Promise<PeerLink> } {
  let accepted: PeerLink | undefined;
  const pair = memoryWsPair(PEER_SUBPROTOCOL, (ws) => (accepted = new PeerLink(ws, 'in', 'memory', b.ctx)));
  const out = new PeerLink(pair.client, 'out', 'ws://peer.invalid/', a.ctx);
  return { out, in: pair.server.then(() => accepted!) };
}

/** Resolves with the next message the hub commits to `channel`. */
const committed = nextDelivery;

async function shutDown(a: Side, out: PeerLink, b: Side, inbound: PeerLink): Promise<void> {
  const closed = Promise.all([a.closed.wait(out), b.closed.wait(inbound)]);
  out.close('SHUTDOWN');
  assert.deepEqual(await closed, [PEER_CLOSES.SHUTDOWN.close, PEER_CLOSES.SHUTDOWN.close]);
}

test('with the same PEER_KEY the handshake completes on both sides', async () => {
  const [a, b] = [side('shared'), side('shared')];
  const { out, in: incoming } = link(a, b);
  const inbound = await incoming;
  await Promise.all([a.ready.wait(out), b.ready.wait(inbound)]);
  assert.equal(out.node, b.id.nodeId);
  assert.equal(inbound.node, a.id.nodeId);
  assert.equal(out.dialer, a.id.nodeId);
  assert.equal(inbound.dialer, a.id.nodeId);
  assert.ok(out.ready && inbound.ready);
  await shutDown(a, out, b, inbound);
});

test('with another PEER_KEY the dialed side refuses the proof, and neither link comes up', async () => {
  const [a, b] = [side('ours'), side('theirs')];
  const { out, in: incoming } = link(a, b);
  const inbound = await incoming;
  const [outClosed, inClosed, reason] = await Promise.all([a.closed.wait(out), b.closed.wait(inbound), b.handshakeFailed.wait(inbound)]);
  assert.equal(inClosed, PEER_CLOSES.BAD_PROOF.close);
  assert.equal(inbound.closedFor, 'BAD_PROOF');
  assert.equal(reason, 'bad_proof');
  assert.equal(outClosed, PEER_CLOSES.BAD_PROOF.close, 'the dialer sees the refusal\'s close code');
  assert.equal(out.closedFor, undefined, 'the dialer closed nothing itself');
  assert.ok(!out.ready && !inbound.ready);
  assert.deepEqual([a.ready.seen, b.ready.seen], [[], []]);
  const refused = a.warned.filter((line) => line.code === PEER_CLOSES.BAD_PROOF.close);
  assert.equal(refused.length, 1, 'the dialer warns that it was refused');
  assert.match(String(refused[0]!.msg), /refused this node's handshake: is PEER_KEY set to the same value on both nodes\?/);
});

test('a channel asked for is replayed, then what is published on the other hub arrives live', async () => {
  const [a, b] = [side('k'), side('k')];
  const { out, in: incoming } = link(a, b);
  const inbound = await incoming;
  await Promise.all([a.ready.wait(out), b.ready.wait(inbound)]);

  // Before the ask: b has one message, which a gets from the replay.
  const early = committed(b.hub, 'room');
  b.hub.publish({ channel: 'room', uid: 'bob', binary: true, payload: Buffer.from('before') });
  await early;
  const replayed = committed(a.hub, 'room');
  const caughtUp = a.caughtUp.wait(out);
  out.ask('room', [[a.id.nodeId]], true);
  const first = (await replayed).message;
  assert.deepEqual([Buffer.from(first.payload).toString(), first.uid, first.origin, first.seq], ['before', 'bob', b.id.nodeId, 1]);
  assert.equal(await caughtUp, 'room');
  assert.equal(out.askState('room'), 'caught-up');

  // Live: a message published on b's hub is stored on a's with its origin and id.
  const live = committed(a.hub, 'room');
  b.hub.publish({ channel: 'room', uid: 'bob', binary: false, payload: Buffer.from('after') });
  const second = (await live).message;
  const [original] = b.store.readByIds('room', [second.id]);
  assert.ok(original !== undefined, 'the same id on both nodes');
  assert.deepEqual([Buffer.from(second.payload).toString(), second.binary, second.origin, second.originSeq], ['after', false, b.id.nodeId, 2]);
  assert.equal(out.counters.messagesIn, 2);
  assert.equal(inbound.counters.messagesOut, 2);
  await shutDown(a, out, b, inbound);
});
