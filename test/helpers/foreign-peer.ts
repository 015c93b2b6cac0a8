// A libp2p peer made in the test process with the packages and gossipsub settings the
// node uses (unsigned messages, StrictNoSign), that a test drives by hand: it dials
// nodes, joins a channel's topic, keeps every gossip message it gets, and publishes
// whatever bytes the test gives it, honest envelopes or not, as often as it is told.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { loadOrCreateIdentity, type NodeIdentity } from '../../src/identity/node-identity.ts';
import { libp2pPrivateKey } from '../../src/p2p/host/peer-identity.ts';

export interface GossipReceived {
  readonly topic: string;
  readonly data: Uint8Array;
  readonly from: string;
}

export class ForeignPeer {
  readonly identity: NodeIdentity;
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>;
  readonly received: GossipReceived[] = [];
  #waiters: Array<() => void> = [];

  private constructor(identity: NodeIdentity, libp2p: Libp2p<{ pubsub: GossipSub }>) {
    this.identity = identity;
    this.libp2p = libp2p;
    libp2p.services.pubsub.addEventListener('gossipsub:message', (event) => {
      const { msg, propagationSource } = event.detail;
      this.received.push({ topic: msg.topic, data: msg.data, from: propagationSource.toString() });
      this.#wake();
    });
    libp2p.services.pubsub.addEventListener('subscription-change', () => this.#wake());
  }

  /** A peer with a fresh node key of its own (its node id can seal envelopes). */
  static async start(): Promise<ForeignPeer> {
    const identity = loadOrCreateIdentity(mkdtempSync(join(tmpdir(), 'parley-foreign-')));
    const libp2p = await createLibp2p({
      privateKey: await libp2pPrivateKey(identity),
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictNoSign',
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          // A new id for every message, even the same bytes again: this peer's own
          // seen-cache then never stops it from sending a replay.
          msgIdFn: (message) => createHash('sha256').update(message.data).update(randomBytes(16)).digest(),
        }),
      },
    });
    return new ForeignPeer(identity, libp2p as unknown as Libp2p<{ pubsub: GossipSub }>);
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  async dial(addr: string): Promise<void> {
    await this.libp2p.dial(multiaddr(addr));
  }

  subscribe(topic: string): void {
    this.libp2p.services.pubsub.subscribe(topic);
  }

  /**
   * Resolves once `peerId` is known to carry `topic` and this peer's gossip stream to it
   * is open: publishing then reaches it (gossipsub drops what it cannot send yet).
   */
  async waitForSubscriber(topic: string, peerId: string, timeoutMs = 15_000): Promise<void> {
    const pubsub = this.libp2p.services.pubsub;
    // The class has its outbound streams in a public field its interface does not list.
    const streams = (pubsub as unknown as { readonly streamsOutbound: ReadonlyMap<string, unknown> }).streamsOutbound;
    await this.#until(
      () => pubsub.getSubscribers(topic).some((p) => p.toString() === peerId) && streams.has(peerId),
      `${peerId} to carry ${topic}`,
      timeoutMs,
    );
  }

  /** Resolves with the first message received (so far or later) that `match` accepts. */
  async waitForMessage(match: (message: GossipReceived) => boolean, what: string, timeoutMs = 15_000): Promise<GossipReceived> {
    await this.#until(() => this.received.some(match), what, timeoutMs);
    return this.received.find(match)!;
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    await this.libp2p.services.pubsub.publish(topic, data);
  }

  async stop(): Promise<void> {
    await this.libp2p.stop();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async #until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`foreign peer: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 250)); // subscriptions change without an event for every cause
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
