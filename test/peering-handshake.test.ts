// The peer handshake must not give away anything keyed with the PEER_KEY to a side that
// has not proven it knows the key: an HMAC of the key over a transcript one can see is
// enough to guess the key offline. A hand-made peer plays a stranger against a real
// node, both when it dials the node and when the node dials it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { checkProof, makeHello, makeProof, makeSignature, openSession } from '../src/network/handshake.ts';
import { PEER_SUBPROTOCOL } from '../src/network/protocol.ts';
import { FakePeer, identity } from './helpers/fake-peer.ts';
import { metric, PEER_KEY, startNetworkNode, type NetworkNode } from './helpers/peer-network.ts';

/** The frames a peer was sent that carry an HMAC of the key. */
const keyed = (peer: FakePeer) => peer.maps.filter((frame) => 'mac' in frame);

describe('peer handshake', () => {
  let node: NetworkNode;
  before(async () => {
    node = await startNetworkNode('dialed');
  });
  after(async () => {
    await node?.stop('SIGKILL');
  });

  test('a dialed node sends nothing keyed until the dialer has proven the PEER_KEY, then proves it too', async () => {
    const me = identity();
    const peer = new FakePeer(node.wsUrl);
    await once(peer.ws, 'open');
    const session = await peer.hello(me);
    await peer.next('proof');
    // Whatever the node answers to the hello has been sent before the pong.
    await peer.roundTrip();
    assert.deepEqual(keyed(peer), [], 'nothing keyed before the dialer proved');

    peer.send(makeProof(me, session));
    const proof = await peer.nth('proof', 2);
    assert.ok(proof.mac !== undefined);
    assert.deepEqual(checkProof(proof, session), { ok: true });
    peer.ws.close();
  });

  test('an incoming handshake that ends before a proof is logged with the address and counted', async () => {
    const peer = new FakePeer(node.wsUrl);
    // 'open' follows 'upgrade' in the same turn: wait for both at once.
    const [[response]] = (await Promise.all([once(peer.ws, 'upgrade'), once(peer.ws, 'open')])) as [[{ socket: { localPort: number } }], unknown];
    const address = `127.0.0.1:${response.socket.localPort}`;
    await peer.hello(identity());
    await peer.next('proof');
    const logged = node.process.waitForLog('peer handshake ended before a proof');
    peer.ws.close();
    const line = await logged;
    assert.equal(line.level, 40, 'at warn level');
    assert.equal(line.peer, address);
    assert.equal(line.awaiting, 'proof');
    assert.equal(await metric(node, 'parley_peer_handshakes_failed_total', { reason: 'closed' }), 1);

    const garbler = new FakePeer(node.wsUrl);
    await once(garbler.ws, 'open');
    garbler.ws.send(Buffer.from([0xff]));
    assert.equal((await garbler.closed).code, 4400);
    assert.equal(await metric(node, 'parley_peer_handshakes_failed_total', { reason: 'bad_frame' }), 1);
  });
});

describe('peer handshake, the node dialing', () => {
  let server: WebSocketServer;
  let dialer: NetworkNode;
  /** Links the node dialed to the test's server, taken over as they come (its hello must not be missed). */
  const links: FakePeer[] = [];
  let arrived: (() => void) | undefined;
  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => PEER_SUBPROTOCOL });
    server.on('connection', (ws) => {
      links.push(new FakePeer(ws));
      arrived?.();
    });
    await once(server, 'listening');
    dialer = await startNetworkNode('dialer', { peers: [`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`] });
  });
  after(async () => {
    await dialer?.stop('SIGKILL');
    server?.close();
  });

  /** The node's next link to the test's server, with a hello sent as `me` and the session opened. */
  async function accepted(me = identity()) {
    while (links.length === 0) await new Promise<void>((resolve) => (arrived = resolve));
    const peer = links.shift()!;
    const own = makeHello(me);
    peer.send(own.frame);
    const opened = openSession(own, await peer.next('hello'), 'dialed', { selfId: me.nodeId, peerKey: PEER_KEY, trusted: undefined });
    assert.ok(opened.ok);
    return { me, peer, session: opened.session };
  }

  test('a dialing node sends its HMAC only to a side whose signature checks out', async () => {
    // Someone answering at the URL who cannot sign for the id it claims.
    const impostor = await accepted();
    impostor.peer.send(makeSignature(identity(), impostor.session));
    assert.equal((await impostor.peer.closed).code, 4401);
    assert.deepEqual(keyed(impostor.peer), [], 'nothing keyed to a side that did not sign');

    // The node dials again; an honest answer gets its proof, and the link comes up.
    const up = dialer.process.waitForLog('peer link up');
    const honest = await accepted();
    honest.peer.send(makeSignature(honest.me, honest.session));
    const proof = await honest.peer.next('proof');
    assert.deepEqual(checkProof(proof, honest.session), { ok: true });
    honest.peer.send(makeProof(honest.me, honest.session));
    await up;
    honest.peer.ws.close();
  });
});
