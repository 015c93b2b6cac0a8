// Bad peers against a real node: a hand-made peer speaks the link protocol with its
// own key and misbehaves on purpose. Each must be cut off with its reason logged, and
// nothing it sent may be stored.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { makeHello, makeProof, openSession } from '../src/peer/handshake.ts';
import { encodePeerFrame, type HelloFrame, type PeerMessage } from '../src/peer/peer-protocol.ts';
import { messageId } from '../src/store/message-id.ts';
import { FakePeer, identity } from './helpers/fake-peer.ts';
import { Participant } from './helpers/participant.ts';
import { Random } from './helpers/random.ts';
import { PEER_KEY, startNetworkNode, storedIds, type NetworkNode } from './helpers/peer-network.ts';

function message(channel: string, origin: string, originSeq: number, text: string): PeerMessage {
  const fields = { origin, channel, originSeq, ts: Date.now(), uid: 'mallory', binary: false, payload: Buffer.from(text) };
  return { ...fields, id: messageId(fields) };
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
    peer.send({ t: 'msgs', ch: 'guarded', s: sub.s!, m: [message('guarded', me.nodeId, 1, 'honest')] });
    await watcher.waitUntil((m) => m.length === 1, 'the honest message');
    assert.equal(watcher.received[0]!.origin, me.nodeId);
    peer.ws.close();
  });

  test('messages of a stream the node no longer listens to are not taken', async () => {
    const me = identity();
    const peer = await FakePeer.linked(target.wsUrl, me);
    const sub = await peer.next('sub');
    const before = (await storedIds(target, 'guarded')).length;
    peer.send({ t: 'msgs', ch: 'guarded', s: sub.s! + 1, m: [message('guarded', me.nodeId, 1, 'stale stream')] });
    peer.send({ t: 'msgs', ch: 'guarded', s: sub.s!, m: [message('guarded', me.nodeId, 1, 'current stream')] });
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
    const good = message('guarded', me.nodeId, 2, 'fine');
    const tampered = { ...message('guarded', me.nodeId, 3, 'original'), payload: Buffer.from('tampered') };
    forger.send({ t: 'msgs', ch: 'guarded', s: forgerSub.s!, m: [good, tampered] });
    assert.deepEqual(await forger.closed, { code: 4422, reason: 'forged message' });

    const impersonator = await FakePeer.linked(target.wsUrl, identity());
    const impersonatorSub = await impersonator.next('sub');
    const targetId = (await impersonator.next('hello')).node;
    impersonator.send({ t: 'msgs', ch: 'guarded', s: impersonatorSub.s!, m: [message('guarded', targetId, 99, 'in your name')] });
    assert.deepEqual(await impersonator.closed, { code: 4422, reason: 'forged message' });

    const garbler = await FakePeer.linked(target.wsUrl, identity());
    garbler.ws.send(Buffer.from([0xff, 0x00, 0x13]));
    assert.deepEqual(await garbler.closed, { code: 4400, reason: 'malformed peer frame' });
    assert.deepEqual(await storedIds(target, 'guarded'), before, 'nothing from the bad frames was stored');
  });

  test('a flooding peer is cut off', async () => {
    const flooded = await startNetworkNode('flooded', { args: ['--peer-rate', '100'] });
    const listener = await Participant.join(flooded.wsUrl, 'l', 'flood');
    try {
      const me = identity();
      const flooder = await FakePeer.linked(flooded.wsUrl, me);
      const { s: stream } = await flooder.next('sub');
      const batch = Array.from({ length: 150 }, (_, i) => message('flood', me.nodeId, i + 1, `f${i}`));
      flooder.send({ t: 'msgs', ch: 'flood', s: stream!, m: batch.slice(0, 150) });
      flooder.send({ t: 'msgs', ch: 'flood', s: stream!, m: [message('flood', me.nodeId, 151, 'more')] });
      flooder.send({ t: 'msgs', ch: 'flood', s: stream!, m: Array.from({ length: 100 }, (_, i) => message('flood', me.nodeId, 152 + i, `g${i}`)) });
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
    const valid = encodePeerFrame({ t: 'msgs', ch: 'guarded', s: 1, m: [message('guarded', me.nodeId, 1, 'fuzz')] });
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
