// A peer under a test's control: it speaks the link protocol with a key of its own,
// records every frame it is sent (as decoded, and as raw CBOR maps, so a test can look
// for fields a well-formed frame would not carry) and how the link closed.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { Decoder } from 'cbor-x';
import WebSocket from 'ws';
import { checkProof, checkSignature, makeHello, makeProof, openSession, type Session } from '../../src/network/handshake.ts';
import { decodePeerFrame, encodePeerFrame, PEER_SUBPROTOCOL, type PeerFrame } from '../../src/network/protocol.ts';
import { nodeIdOf, type NodeIdentity } from '../../src/identity/node-identity.ts';
import { PEER_KEY } from './peer-network.ts';

export function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

const cbor = new Decoder({ useRecords: false, mapsAsObjects: true });

export class FakePeer {
  readonly ws: WebSocket;
  readonly frames: PeerFrame[] = [];
  /** Every frame received, as the CBOR map it was, valid or not. */
  readonly maps: Array<Record<string, unknown>> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #wake: Array<() => void> = [];

  /** Dials `url`, or takes over a socket the node dialed (the test then plays the dialed side). */
  constructor(url: string | WebSocket) {
    this.ws = typeof url === 'string' ? new WebSocket(url, PEER_SUBPROTOCOL) : url;
    this.ws.on('message', (data: Buffer) => {
      try {
        this.maps.push(cbor.decode(data) as Record<string, unknown>);
      } catch {
        // not CBOR: only the decoded frames matter then
      }
      const decoded = decodePeerFrame(data, 1 << 20);
      if (decoded.ok) this.frames.push(decoded.frame);
      for (const wake of this.#wake.splice(0)) wake();
    });
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(frame: PeerFrame): void {
    this.ws.send(encodePeerFrame(frame));
  }

  /** The first frame of this type. */
  /** The first frame of this type (and of this channel, if given), once it has come. */
  async next<T extends PeerFrame['t']>(t: T, channel?: string): Promise<Extract<PeerFrame, { t: T }>> {
    if (channel === undefined) return this.nth(t, 1);
    for (;;) {
      const found = this.frames.find((f) => f.t === t && 'ch' in f && f.ch === channel);
      if (found !== undefined) return found as Extract<PeerFrame, { t: T }>;
      await this.#arrival(t);
    }
  }

  /** Waits for the next frame, or throws once the link has closed. */
  async #arrival(t: string): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed before a ${t} frame`);
    await Promise.race([new Promise<void>((resolve) => this.#wake.push(resolve)), this.closed]);
  }

  /** The n-th frame of this type (from 1), once it has come. */
  async nth<T extends PeerFrame['t']>(t: T, n: number): Promise<Extract<PeerFrame, { t: T }>> {
    for (;;) {
      const found = this.frames.filter((f) => f.t === t)[n - 1];
      if (found !== undefined) return found as Extract<PeerFrame, { t: T }>;
      await this.#arrival(`${t} number ${n}`);
    }
  }

  /** Resolves once the other side has read everything sent before (a ping's pong follows it). */
  async roundTrip(): Promise<void> {
    this.ws.ping();
    await once(this.ws, 'pong');
  }

  /** Runs a correct handshake as the dialer `me`, with the given shared key. */
  static async linked(url: string, me: NodeIdentity, key: string | undefined = PEER_KEY): Promise<FakePeer> {
    const peer = new FakePeer(url);
    await once(peer.ws, 'open');
    const session = await peer.hello(me, key);
    assert.deepEqual(checkSignature(await peer.nth('proof', 1), session), { ok: true });
    peer.send(makeProof(me, session));
    assert.deepEqual(checkProof(await peer.nth('proof', 2), session), { ok: true });
    return peer;
  }

  /** Sends a hello as the dialer `me` and opens the session with the node's. */
  async hello(me: NodeIdentity, key: string | undefined = PEER_KEY): Promise<Session> {
    const mine = makeHello(me);
    this.send(mine.frame);
    const opened = openSession(mine, await this.next('hello'), 'dialer', { selfId: me.nodeId, peerKey: key, trusted: undefined });
    assert.ok(opened.ok, opened.ok ? '' : opened.detail);
    return opened.session;
  }
}
