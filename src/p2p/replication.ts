// The p2p side of a node's channels: which channels it carries over gossip (those its
// clients use, those it stores, and --p2p-channels), and when it catches up with its
// peers over /parley/sync/1 (when a peer connects and again once gossip's mesh has
// formed, every half minute with one peer per channel, and when gossip shows a gap). Gossip brings what is new; sync brings what a
// node missed while it was away: together nothing is lost.

import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import type { ReplicaIntake } from '../envelope/intake.ts';
import type { Sealer } from '../envelope/seal.ts';
import type { Hub } from '../hub/hub.ts';
import type { Store } from '../store/store.ts';
import { GossipChannels } from './gossip-channels.ts';
import { GossipDecoder, topicOf } from './gossip-codec.ts';
import type { P2PHost } from './host/host.ts';
import { requestSync, serveSync, SYNC_PROTOCOL, SyncError } from './sync.ts';

export interface ReplicationOptions {
  readonly host: P2PHost;
  readonly hub: Hub;
  readonly store: Store;
  readonly intake: ReplicaIntake;
  readonly sealer: Sealer;
  readonly decoder: GossipDecoder;
  readonly log: Logger;
  readonly maxPayload: number;
  /** Channels to carry even with no client here (--p2p-channels). */
  readonly channels: readonly string[];
  readonly syncIntervalMs?: number;
  /** How long one sync may take. */
  readonly syncTimeoutMs?: number;
}

export interface SyncCounters {
  /** Syncs that ended well, and the messages they brought. */
  runs: number;
  messages: number;
  /** Syncs that failed, by why. */
  readonly failed: Map<string, number>;
}

/** Syncs running at once at most: each reads a page of the store at a time. */
const MAX_SYNCS = 4;
/** How long a peer whose sync stream was refused is not asked again. */
const SYNC_BAN_MS = 10 * 60_000;
/**
 * When a peer that connected is synced with once more. Gossip published in its first
 * moments can miss it: the tests saw a message published right after a restarted node
 * reconnected and caught up never reach it over gossip, and only the half-minute round
 * would have brought it. A second sync once the mesh has formed closes that window.
 */
const SETTLED_SYNC_MS = 3_000;

export class P2PReplication {
  readonly #options: ReplicationOptions;
  readonly gossip: GossipChannels;
  readonly sync: SyncCounters = { runs: 0, messages: 0, failed: new Map() };
  /** Syncs queued or running, by `peer channel`: what a caller waiting for one awaits. */
  readonly #running = new Map<string, Promise<void>>();
  readonly #queue: Array<{ peer: string; channel: string; done: () => void }> = [];
  readonly #banned = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  readonly #settling = new Set<NodeJS.Timeout>();
  readonly #abort = new AbortController();
  #active = 0;

  constructor(options: ReplicationOptions) {
    this.#options = options;
    this.gossip = new GossipChannels({
      transport: options.host,
      hub: options.hub,
      intake: options.intake,
      sealer: options.sealer,
      decoder: options.decoder,
      log: options.log,
      onGap: (channel, peer) => this.requestSync(peer, channel),
      onLearned: (channel, peer) => this.requestSync(peer, channel),
    });
    this.#timer = setInterval(() => this.#syncRound(), options.syncIntervalMs ?? 30_000);
    this.#timer.unref();
  }

  async start(): Promise<void> {
    const { host, store, hub, log } = this.#options;
    await host.libp2p.handle(
      SYNC_PROTOCOL,
      (stream) => {
        serveSync(stream, { store, sealer: this.#options.sealer, maxPayload: this.#options.maxPayload }, AbortSignal.any([this.#abort.signal, AbortSignal.timeout(120_000)])).catch(
          (error: unknown) => {
            log.debug({ err: (error as Error).message }, 'p2p sync stream to a peer ended early');
            stream.abort(error as Error);
          },
        );
      },
      { maxInboundStreams: 8 },
    );
    for (const channel of this.#options.channels) this.gossip.join(channel);
    for (const channel of hub.usedChannels()) this.gossip.join(channel);
    for (let after: string | undefined; ; ) {
      const page = store.channels(after, 1000);
      for (const summary of page) this.gossip.join(summary.channel);
      if (page.length < 1000) break;
      after = page.at(-1)!.channel;
    }
    host.onPeerConnected((peer) => {
      for (const channel of this.gossip.channels()) this.requestSync(peer, channel);
      const settled = setTimeout(() => {
        this.#settling.delete(settled);
        if (!host.peers().some((p) => p.peerId === peer)) return;
        for (const channel of this.gossip.channels()) this.requestSync(peer, channel);
      }, SETTLED_SYNC_MS);
      settled.unref();
      this.#settling.add(settled);
    });
    // A topic a peer carries is carried here too (see GossipChannels.relay).
    // A peer that starts carrying a channel here is caught up with it at once: gossip
    // sent before its mesh formed never reached it.
    host.libp2p.services.pubsub.addEventListener('subscription-change', (event) => {
      const peer = event.detail.peerId.toString();
      for (const { topic, subscribe } of event.detail.subscriptions) {
        if (!subscribe) continue;
        const channel = this.gossip.channelOf(topic);
        if (channel === undefined) this.gossip.relay(topic);
        else this.requestSync(peer, channel);
      }
    });
    log.info({ channels: this.gossip.channels().length }, 'p2p replication started');
  }

  /** A client here uses a channel: carry it, and catch up on it with every peer. */
  channelUsed(channel: string): void {
    if (this.gossip.has(channel)) return;
    this.gossip.join(channel);
    for (const peer of this.#options.host.peers()) this.requestSync(peer.peerId, channel);
  }

  /**
   * Before a query reads a channel this node does not carry: carries it from now on and
   * syncs it with every peer, resolving once they have answered or after `timeoutMs`.
   * Without this a query on a P2P node would see only what its own clients made it
   * carry (the WebSocket peering does the same through Peering.catchUp). A channel
   * carried already is kept current by gossip and sync: nothing to wait for.
   */
  catchUp(channel: string, timeoutMs = 2_000): Promise<void> {
    const peers = this.#options.host.peers();
    if (this.gossip.has(channel) || peers.length === 0) return Promise.resolve();
    this.gossip.join(channel);
    const synced = Promise.all(peers.map((peer) => this.requestSync(peer.peerId, channel)));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    return Promise.race([synced, late]).then(() => clearTimeout(timer));
  }

  /**
   * Asks a peer for what this node lacks of a channel (queued; one at a time per peer and
   * channel); resolves when that sync has ended, however it ended.
   */
  requestSync(peer: string, channel: string): Promise<void> {
    const key = `${peer} ${channel}`;
    const running = this.#running.get(key);
    if (running !== undefined) return running;
    if ((this.#banned.get(peer) ?? 0) > Date.now()) return Promise.resolve();
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    this.#running.set(key, ended);
    this.#queue.push({ peer, channel, done });
    this.#next();
    return ended;
  }

  #next(): void {
    while (this.#active < MAX_SYNCS && this.#queue.length > 0) {
      const { peer, channel, done } = this.#queue.shift()!;
      this.#active++;
      void this.#syncWith(peer, channel).then((more) => {
        this.#active--;
        this.#running.delete(`${peer} ${channel}`);
        done();
        // A large gap: the next sync goes on from where this one stopped (asked only
        // now, once this one no longer counts as running).
        if (more) void this.requestSync(peer, channel);
        this.#next();
      });
    }
  }

  /** One sync; true when the peer stopped at its limit and there is more to fetch. Never rejects. */
  async #syncWith(peer: string, channel: string): Promise<boolean> {
    const { host, store, intake, log, maxPayload } = this.#options;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.syncTimeoutMs ?? 60_000)]);
    try {
      const stream = await host.libp2p.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal });
      const taken = await requestSync(stream, channel, { store, intake, maxPayload, take: (messages) => this.gossip.storeReplicas(channel, messages) }, signal).catch((error: unknown) => {
        stream.abort(error as Error);
        throw error;
      });
      this.sync.runs++;
      this.sync.messages += taken;
      if (taken > 0) log.info({ peer, channel, messages: taken }, 'p2p caught up with a peer');
      return false;
    } catch (error) {
      if (this.#abort.signal.aborted) return false;
      const reason = error instanceof SyncError ? error.reason : 'unreachable';
      this.sync.failed.set(reason, (this.sync.failed.get(reason) ?? 0) + 1);
      if (error instanceof SyncError && error.reason !== 'limit') {
        // It sent what no honest node sends: not asked again for a while.
        this.#banned.set(peer, Date.now() + SYNC_BAN_MS);
        log.warn({ peer, channel, reason, err: error.message }, 'p2p sync refused what the peer sent');
      } else if (error instanceof SyncError) {
        return true;
      } else log.debug({ peer, channel, err: (error as Error).message }, 'p2p sync with a peer failed');
      return false;
    }
  }

  /** Every half minute, each channel with one peer that carries it. */
  #syncRound(): void {
    const pubsub = this.#options.host.libp2p.services.pubsub;
    for (const channel of this.gossip.channels()) {
      const carriers = pubsub.getSubscribers(topicOf(channel));
      if (carriers.length === 0) continue;
      const peer = carriers[Math.floor(Math.random() * carriers.length)]!;
      this.requestSync(peer.toString(), channel);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const timer of this.#settling) clearTimeout(timer);
    this.#abort.abort();
    this.gossip.stop();
  }
}
