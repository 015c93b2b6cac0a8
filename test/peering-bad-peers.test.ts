// Bad peers against a real node: a hand-made peer speaks the link protocol with its
// own key and misbehaves on purpose. Each must be cut off with its reason logged, and
// nothing it sent may be stored.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { makeHello, makeProof, openSession } from '../src/network/handshake.ts';
import { encodePeerFrame, type HelloFrame, type PeerFrame } from '../src/network/protocol.ts';
import type { Envelope } from '../src/envelope/envelope.ts';
import { OriginWriter } from '../src/envelope/origin-writer.testkit.ts';
import type { NodeIdentity } from '../src/identity/node-identity.ts';
import { FakePeer, identity } from './helpers/fake-peer.ts';
import { Participant } from './helpers/participant.ts';
import { Random } from './helpers/random.ts';
import { PEER_KEY, startNetworkNode, storedIds, type NetworkNode } from './helpers/peer-network.ts';

/** One writer per origin, so that a seq written again is the same message. */
const writers = new Map<string, OriginWriter>();
function writer(origin: NodeIdentity): OriginWriter {
  let w = writers.get(origin.nodeId);
  if (w === undefined) writers.set(origin.nodeId, (w = new OriginWriter(origin)));
  return w;
}
/** A sealed envelope of one message from `origin`. */
function message(channel: string, origin: NodeIdentity, originSeq: number, text: string): Envelope {
  return writer(origin).envelope(channel, originSeq, [text]);
}

describe('bad peers', () => {
  let target: NetworkNode;
  let watcher: Participant;
  after(async () => {
    await watcher?.close();
    await target?.stop('SIGKILL');
  });
  before(async () => {
    target = await startNetworkNode('target');
    // A client here makes the node ask its peers for the channel.
    watcher = await Participant.join(target.wsUrl, 'watcher', 'guarded');
  });

  test('a correct peer is asked for used channels and its messages are stored', async () => {
    const me = identity();
    const peer = await FakePeer.linked(target.wsUrl, me);
    const sub = await peer.next('sub');
    assert.equal(sub.ch, 'guarded');
    assert.ok(sub.have !== undefined, 'the first ask says what the node has');
    peer.send({ t: 'msgs', ch: 'guarded', s: sub.s!, e: [message('guarded', me, 1, 'honest')] });
    await watcher.waitUntil((m) => m.length === 1, 'the honest message');
    assert.equal(watcher.received[0]!.origin, me.nodeId);
    peer.ws.close();
  });

  test('messages of a stream the node no longer listens to are not taken', async () => {
    const me = identity();
    const peer = await FakePeer.linked(target.wsUrl, me);
    const sub = await peer.next('sub');
    const before = (await storedIds(target, 'guarded')).length;
    // Two versions of message 1, as two different writers would make them.
    peer.send({ t: 'msgs', ch: 'guarded', s: sub.s! + 1, e: [new OriginWriter(me).envelope('guarded', 1, ['stale stream'])] });
    peer.send({ t: 'msgs', ch: 'guarded', s: sub.s!, e: [message('guarded', me, 1, 'current stream')] });
    await watcher.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'current stream'), 'the current stream');
    assert.equal((await storedIds(target, 'guarded')).length, before + 1);
    assert.ok(!watcher.texts().includes('stale stream'));
    peer.ws.close();
  });

  test('a wrong PEER_KEY, a forged signature, and a replayed handshake are refused', async () => {
    const wrongKey = new FakePeer(target.wsUrl);
    await once(wrongKey.ws, 'open');
    const me = identity();
    wrongKey.send(makeProof(me, await wrongKey.hello(me, 'not the key')));
    assert.deepEqual(await wrongKey.closed, { code: 4401, reason: 'handshake proof failed' });

    // Recorded from one handshake, replayed on a new connection: the node's new nonce
    // is not what the recorded proof signed.
    const honest = new FakePeer(target.wsUrl);
    await once(honest.ws, 'open');
    const recordedHello = makeHello(me);
    honest.send(recordedHello.frame);
    const opened = openSession(recordedHello, await honest.next('hello'), 'dialer', { selfId: me.nodeId, peerKey: PEER_KEY, trusted: undefined });
    assert.ok(opened.ok);
    const recordedProof = makeProof(me, opened.session);
    honest.send(recordedProof);
    await honest.nth('proof', 2);
    honest.ws.close();
    const replay = new FakePeer(target.wsUrl);
    await once(replay.ws, 'open');
    replay.send(recordedHello.frame);
    await replay.next('hello');
    replay.send(recordedProof);
    assert.deepEqual(await replay.closed, { code: 4401, reason: 'handshake proof failed' });

    // Claiming another node's id with one's own key.
    const impostor = new FakePeer(target.wsUrl);
    await once(impostor.ws, 'open');
    const victim = identity();
    const stolen: HelloFrame = { ...makeHello(me).frame, node: victim.nodeId };
    impostor.send(stolen);
    assert.deepEqual(await impostor.closed, { code: 4401, reason: 'handshake proof failed' });
    await target.process.waitForLogCount('peer link closed: handshake proof failed', 3);
  });

  test('forged and malformed messages cut the link, and nothing of theirs is stored', async () => {
    const me = identity();
    const before = await storedIds(target, 'guarded');
    const forger = await FakePeer.linked(target.wsUrl, me);
    const forgerSub = await forger.next('sub');
    const good = message('guarded', me, 2, 'fine');
    const sealed = message('guarded', me, 3, 'original');
    const tampered = { ...sealed, messages: [{ ...sealed.messages[0]!, payload: Buffer.from('tampered') }] };
    forger.send({ t: 'msgs', ch: 'guarded', s: forgerSub.s!, e: [good, tampered] });
    assert.deepEqual(await forger.closed, { code: 4422, reason: 'forged message' });

    const impersonator = await FakePeer.linked(target.wsUrl, identity());
    const impersonatorSub = await impersonator.next('sub');
    const targetId = (await impersonator.next('hello')).node;
    const inYourName = { ...message('guarded', me, 99, 'in your name'), origin: targetId };
    impersonator.send({ t: 'msgs', ch: 'guarded', s: impersonatorSub.s!, e: [inYourName] });
    assert.deepEqual(await impersonator.closed, { code: 4422, reason: 'forged message' });

    const garbler = await FakePeer.linked(target.wsUrl, identity());
    garbler.ws.send(Buffer.from([0xff, 0x00, 0x13]));
    assert.deepEqual(await garbler.closed, { code: 4400, reason: 'malformed peer frame' });
    assert.deepEqual(await storedIds(target, 'guarded'), before, 'nothing from the bad frames was stored');
  });

  test('a peer that skips an origin\'s sequence is refused, and that origin still gets through', async () => {
    // b is an honest node whose messages the target holds; the liar claims b's next
    // message is number 9e15. Taken, it would make every real later message of b a
    // "duplicate", here and on every node that learns the target's vector.
    const b = identity();
    const honest = await FakePeer.linked(target.wsUrl, b);
    const honestSub = await honest.next('sub');
    honest.send({ t: 'msgs', ch: 'guarded', s: honestSub.s!, e: [message('guarded', b, 1, 'b says one')] });
    await watcher.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'b says one'), "b's first message");
    honest.ws.close();

    const liar = await FakePeer.linked(target.wsUrl, identity());
    const liarSub = await liar.next('sub');
    // Even sealed by b (a liar with b's key could do no better), the hole is refused.
    liar.send({ t: 'msgs', ch: 'guarded', s: liarSub.s!, e: [message('guarded', b, 9e15, 'b says nothing of the sort')] });
    assert.deepEqual(await liar.closed, { code: 4423, reason: "message skips its origin's sequence" });
    const metrics = await (await fetch(`${target.httpUrl}metrics`)).text();
    assert.match(metrics, /parley_peer_links_refused_total\{reason="OUT_OF_ORDER"\} 1\n/);

    const again = await FakePeer.linked(target.wsUrl, b);
    const againSub = await again.next('sub');
    assert.equal(againSub.have?.get(b.nodeId), 1, 'the target still says it holds b up to 1');
    again.send({ t: 'msgs', ch: 'guarded', s: againSub.s!, e: [message('guarded', b, 2, 'b says two')] });
    await watcher.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'b says two'), "b's second message");
    assert.ok(!watcher.texts().includes('b says nothing of the sort'));
    again.ws.close();
  });

  test('names and times a client could not send are refused from a peer too', async () => {
    const me = identity();
    const fresh = () => new OriginWriter(identity());
    const cases: Array<[string, Envelope]> = [
      ['an empty uid', fresh().envelope('guarded', 1, ['x'], { uid: '' })],
      ['a uid with a control character', fresh().envelope('guarded', 1, ['x'], { uid: 'a\u0007b' })],
      ['a time before 2020', fresh().envelope('guarded', 1, ['x'], { ts: 0 })],
    ];
    for (const [what, e] of cases) {
      const peer = await FakePeer.linked(target.wsUrl, me);
      const sub = await peer.next('sub');
      peer.send({ t: 'msgs', ch: 'guarded', s: sub.s!, e: [e] });
      assert.deepEqual(await peer.closed, { code: 4400, reason: 'malformed peer frame' }, what);
    }
    const future = await FakePeer.linked(target.wsUrl, me);
    const sub = await future.next('sub');
    future.send({ t: 'msgs', ch: 'guarded', s: sub.s!, e: [fresh().envelope('guarded', 1, ['tomorrow'], { ts: Date.now() + 86_400_000 })] });
    assert.deepEqual(await future.closed, { code: 4400, reason: 'malformed peer frame' });
    // A non-ASCII channel name never reaches the store either.
    const nonAscii = await FakePeer.linked(target.wsUrl, me);
    await nonAscii.next('sub');
    nonAscii.send({ t: 'unsub', ch: 'caf\u00e9' });
    assert.deepEqual(await nonAscii.closed, { code: 4400, reason: 'malformed peer frame' });
    assert.ok(!watcher.texts().includes('tomorrow'));
  });

  test('fuzz: messages at random places in their origins\' sequences keep every origin gap-free', async () => {
    // A model of what the node must hold per origin: the highest origin seq of an
    // unbroken run. Each round links, sends one frame of 1-5 messages (next ones, ones
    // held already, ones past a hole, 9e15), and checks the link's fate against the model.
    const random = new Random(Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000));
    console.log(`origin-order fuzz seed ${random.seed} (FUZZ_SEED replays it)`);
    const listener = await Participant.join(target.wsUrl, 'listener', 'fuzzed');
    const origins = [identity(), identity(), identity()];
    const held = new Map<string, number>();
    try {
      for (let round = 0; round < 40; round++) {
        const peer = await FakePeer.linked(target.wsUrl, identity());
        const sub = await peer.next('sub', 'fuzzed');
        const batch: Envelope[] = [];
        let hole = false;
        for (let i = 0; i < 1 + random.int(5); i++) {
          const originKey = random.pick(origins);
          const origin = originKey.nodeId;
          const highest = held.get(origin) ?? 0;
          const seq = random.pick([highest + 1, highest + 1, Math.max(1, highest), highest + 2 + random.int(1000), 9e15]);
          batch.push(message('fuzzed', originKey, seq, `${origin.slice(0, 4)}:${seq}`));
          if (seq <= highest) continue;
          if (seq === highest + 1 || highest === 0) held.set(origin, seq); // the next, or a first from an origin not held here
          else hole = true;
        }
        peer.send({ t: 'msgs', ch: 'fuzzed', s: sub.s!, e: batch });
        if (hole) assert.equal((await peer.closed).code, 4423, `round ${round}: a hole closes the link`);
        else {
          peer.ws.send(Buffer.from([0xff])); // ends the link once the frame before it was taken
          assert.equal((await peer.closed).code, 4400, `round ${round}`);
        }
      }
      // The node's vector, as it tells a new peer, is exactly the model's.
      const observer = await FakePeer.linked(target.wsUrl, identity());
      const have = (await observer.next('sub', 'fuzzed')).have!;
      for (const { nodeId } of origins) assert.equal(have.get(nodeId), held.get(nodeId), `origin ${nodeId}`);
      observer.ws.close();
      assert.ok((await fetch(`${target.httpUrl}healthz`)).ok);
    } finally {
      await listener.close();
    }
  });

  test('a replayed frame is stored once, and an oversize frame closes 1009', async () => {
    const me = identity();
    const peer = await FakePeer.linked(target.wsUrl, me);
    const sub = await peer.next('sub');
    const frame: PeerFrame = { t: 'msgs', ch: 'guarded', s: sub.s!, e: [message('guarded', me, 1, 'said once')] };
    peer.send(frame);
    peer.send(frame);
    peer.send(frame);
    await watcher.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'said once'), 'the message');
    peer.ws.send(Buffer.alloc(16 * 1024 * 1024)); // over the largest peer frame the node takes
    assert.equal((await peer.closed).code, 1009);
    assert.equal(watcher.texts().filter((t) => t === 'said once').length, 1);
    assert.ok((await fetch(`${target.httpUrl}healthz`)).ok);
  });

  test('a flooding peer is cut off', async () => {
    const flooded = await startNetworkNode('flooded', { args: ['--peer-rate', '100'] });
    const listener = await Participant.join(flooded.wsUrl, 'l', 'flood');
    try {
      const me = identity();
      const flooder = await FakePeer.linked(flooded.wsUrl, me);
      const { s: stream } = await flooder.next('sub');
      const w = writer(me);
      flooder.send({ t: 'msgs', ch: 'flood', s: stream!, e: [w.envelope('flood', 1, Array.from({ length: 150 }, (_, i) => `f${i}`))] });
      flooder.send({ t: 'msgs', ch: 'flood', s: stream!, e: [w.envelope('flood', 151, ['more'])] });
      flooder.send({ t: 'msgs', ch: 'flood', s: stream!, e: [w.envelope('flood', 152, Array.from({ length: 100 }, (_, i) => `g${i}`))] });
      assert.deepEqual(await flooder.closed, { code: 4429, reason: 'peer sends too fast' });
      await flooded.process.waitForLogCount('peer link closed: peer sends too fast', 1);
      assert.ok(listener.received.length <= 200, 'at most the burst was taken');
    } finally {
      await listener.close();
      await flooded.stop('SIGKILL');
    }
  });

  test('untrusted nodes and nodes without peering configured are refused', async () => {
    const me = identity();
    const picky = await startNetworkNode('picky', { args: ['--trust', 'a'.repeat(32)] });
    const closed = await startNetworkNode('closed', { env: { PEER_KEY: undefined } });
    try {
      const stranger = new FakePeer(picky.wsUrl);
      await once(stranger.ws, 'open');
      stranger.send(makeHello(me).frame);
      assert.deepEqual(await stranger.closed, { code: 4403, reason: 'node not trusted' });
      const refused = new FakePeer(closed.wsUrl);
      const [, response] = (await once(refused.ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
      assert.equal(response.statusCode, 403);
      let body = '';
      for await (const chunk of response) body += String(chunk);
      assert.match(body, /accepts no peer links: start it with PEER_KEY or --trust/);
    } finally {
      await picky.stop('SIGKILL');
      await closed.stop('SIGKILL');
    }
  });

  test('fuzz: random first frames and mutated message frames never take the node down', async () => {
    const random = new Random(Number(process.env.FUZZ_SEED ?? 4242));
    const closes = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const peer = new FakePeer(target.wsUrl);
      await once(peer.ws, 'open');
      peer.ws.send(random.bytes(1 + random.int(200)));
      const { code } = await peer.closed;
      closes.set(code, (closes.get(code) ?? 0) + 1);
    }
    const me = identity();
    // A fresh link's first ask is stream 1.
    const valid = encodePeerFrame({ t: 'msgs', ch: 'guarded', s: 1, e: [message('guarded', me, 1, 'fuzz')] });
    for (let i = 0; i < 30; i++) {
      const peer = await FakePeer.linked(target.wsUrl, me);
      await peer.next('sub');
      const mutated = Buffer.from(valid);
      for (let f = 0; f < 1 + random.int(3); f++) mutated[random.int(mutated.length)] = random.int(256);
      peer.ws.send(mutated);
      peer.ws.send(Buffer.from([0xff]));
      const { code } = await peer.closed;
      closes.set(code, (closes.get(code) ?? 0) + 1);
    }
    assert.deepEqual([...closes.keys()].filter((code) => ![4400, 4401, 4422].includes(code)), [], `close codes: ${JSON.stringify([...closes])}`);
    assert.equal(target.process.child.exitCode, null, 'the node is still running');
    assert.ok((await fetch(`${target.httpUrl}healthz`)).ok);
  });
});
