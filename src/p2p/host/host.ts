// The node's libp2p host: its transports (TCP, WebSocket, circuit relay), the private
// network key, discovery (mDNS, --bootstrap), the Kademlia DHT on parley's own protocol,
// gossipsub as parley runs it, and finding nodes by id or name. Protocols on top
// (replication, catch-up) use `libp2p`, `subscribe` and `publish`; nothing here knows them.
// Loaded only when the node runs with --p2p: libp2p costs memory a node without it
// should not pay.

import { createHash } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import { createTopicScoreParams, type PeerScoreParams } from '@libp2p/gossipsub/score';
import { identify, type Identify } from '@libp2p/identify';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht';
import { mdns } from '@libp2p/mdns';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { webSockets } from '@libp2p/websockets';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2pOptions } from 'libp2p';
import type { Logger } from 'pino';
import type { NodeIdentity } from '../../identity/node-identity.ts';
import { coalescedTcp } from './coalesced-tcp.ts';
import { noiseCrypto } from './noise-crypto.ts';
import { parseBootstrap, parseMultiaddr } from './addresses.ts';
import { Announcer } from './announcer.ts';
import { BootstrapDialer } from './bootstrap-dialer.ts';
import { P2PStartError } from './errors.ts';
import { Finder, type FoundNode } from './finder.ts';
import { MAX_GOSSIP_DATA, MAX_GOSSIP_RPC, SCORE_PARAMS, SCORE_THRESHOLDS, TOPIC_SCORE } from './gossip-options.ts';
import { libp2pPrivateKey } from './peer-identity.ts';
import { nameCid, nodeCid } from './records.ts';
import type { P2PHostSettings } from '../settings.ts';
import { readSwarmKey, swarmKeyFile } from './swarm-key.ts';

export type { FoundNode } from './finder.ts';

/** The DHT protocol: parley nodes keep a DHT of their own, apart from the public IPFS one. */
export const DHT_PROTOCOL = '/parley/kad/1.0.0';
/** The mDNS service parley nodes announce and look for on the LAN. */
export const MDNS_SERVICE = '_parley._udp.local';
/** How long a peer whose messages were rejected past the graylist threshold is refused. */
export const BAN_MS = 10 * 60_000;

export type Verdict = 'accept' | 'reject' | 'ignore';

export interface P2PHostOptions extends P2PHostSettings {
  readonly identity: NodeIdentity;
  readonly log: Logger;
  /** Gossipsub's message id; default SHA-256 of the data. */
  readonly messageId?: (data: Uint8Array) => Uint8Array;
}

export interface P2PPeer {
  readonly peerId: string;
  readonly addrs: string[];
}

export interface P2PHost {
  /** This node's peer id, from its own Ed25519 key (node.key). */
  readonly peerId: string;
  /** For protocols added on top (handle, dialProtocol). */
  readonly libp2p: Libp2p<P2PServices>;
  /** Full multiaddrs with /p2p/PEERID (the announced ones when --p2p-announce is set). */
  addrs(): string[];
  /** Connected peers, with the addresses they listen on (or the connection's, until identified). */
  peers(): P2PPeer[];
  /**
   * Joins a topic. `validate` runs on every message before it is delivered or forwarded;
   * 'reject' also counts against the peer that sent it (peer scoring), 'ignore' drops it
   * quietly. `deliver`, when given, gets each accepted message from another node.
   */
  subscribe(topic: string, validate: (data: Uint8Array, fromPeerId: string) => Verdict, deliver?: (data: Uint8Array, fromPeerId: string) => void): void;
  unsubscribe(topic: string): void;
  /** Publishes to a topic's peers (none is fine); identical bytes twice are sent once. Throws RangeError past MAX_GOSSIP_DATA. */
  publish(topic: string, data: Uint8Array): Promise<void>;
  /** Called with each peer newly connected (for catch-up). */
  onPeerConnected(listener: (peerId: string) => void): void;
  /** Finds a node by node id (32 hex), peer id or name; empty when none is found. Throws FindQueryError on a query that names nothing. */
  find(query: string, signal?: AbortSignal): Promise<FoundNode[]>;
  /** Topic -> peers in this node's mesh for it, for /metrics. */
  meshSizes(): Map<string, number>;
  stop(): Promise<void>;
}

export interface P2PServices {
  identify: Identify;
  ping: Ping;
  dht: KadDHT;
  pubsub: GossipSub;
  [name: string]: unknown;
}

/**
 * What the gossipsub service object has beyond its published interface, and parley uses:
 * scores (to disconnect graylisted peers), per-topic score parameters (topics come and
 * go with channels) and mesh sizes (for /metrics).
 */
interface GossipSubInternals {
  getScore(peerId: string): number;
  readonly score: { readonly params: PeerScoreParams };
  getMeshPeers(topic: string): string[];
}

function sha256(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

const VERDICTS: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
};

export async function startP2PHost(options: P2PHostOptions): Promise<P2PHost> {
  const { log, identity } = options;
  // Every input is checked before anything listens.
  const listen = options.listen.map((a) => parseMultiaddr('--p2p-listen', a).toString());
  const announce = options.announce.map((a) => parseMultiaddr('--p2p-announce', a).toString());
  const bootstrap = options.bootstrap.map(parseBootstrap);
  const psk = options.secretFile === undefined ? undefined : readSwarmKey(options.secretFile);
  const messageId = options.messageId ?? sha256;
  const banned = new Map<string, number>();
  const isBanned = (peer: PeerId): boolean => (banned.get(peer.toString()) ?? 0) > Date.now();

  const config: Libp2pOptions<P2PServices> = {
    privateKey: await libp2pPrivateKey(identity),
    addresses: { listen, announce },
    transports: [coalescedTcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise({ crypto: noiseCrypto() })],
    streamMuxers: [yamux()],
    ...(psk === undefined ? {} : { connectionProtector: preSharedKey({ psk: swarmKeyFile(psk) }) }),
    connectionGater: { denyDialPeer: isBanned, denyInboundEncryptedConnection: isBanned },
    services: {
      identify: identify(),
      ping: ping(),
      // Server mode from the start, and private (LAN, loopback) addresses kept: parley
      // nodes often live on one LAN, where the default mapper would hide every peer.
      dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, logPrefix: 'libp2p:parley-dht' }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        msgIdFn: (message) => messageId(message.data),
        maxInboundDataLength: MAX_GOSSIP_RPC,
        scoreParams: SCORE_PARAMS,
        scoreThresholds: SCORE_THRESHOLDS,
      }),
      ...(options.mdns ? { mdns: mdns({ serviceTag: MDNS_SERVICE }) } : {}),
      ...(options.relay ? { relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) } : {}),
    },
  };
  let libp2p: Libp2p<P2PServices>;
  try {
    libp2p = await createLibp2p(config);
  } catch (error) {
    throw startError(error, listen);
  }
  const peerId = libp2p.peerId.toString();
  const pubsub = libp2p.services.pubsub;
  const internals = pubsub as GossipSub & GossipSubInternals;

  const listenAddrs = new Map<string, string[]>();
  const connectedListeners: Array<(peerId: string) => void> = [];
  const deliveries = new Map<string, (data: Uint8Array, fromPeerId: string) => void>();

  const dialer = new BootstrapDialer({
    targets: bootstrap.map((b) => ({ peerId: b.peerId, addr: b.addr.toString() })),
    dial: async (target, signal) => {
      if (banned.has(target.peerId)) throw new Error(`refused until ${new Date(banned.get(target.peerId)!).toISOString()}: too many of its messages were rejected`);
      await libp2p.dial(bootstrap.find((b) => b.peerId === target.peerId)!.addr, { signal });
    },
    isConnected: (peer) => libp2p.getPeers().some((p) => p.toString() === peer),
    log,
  });
  const announcer = new Announcer({
    records: [
      { cid: nodeCid(identity.nodeId), label: `node ${identity.nodeId}` },
      ...options.names.map((name) => ({ cid: nameCid(name), label: `name ${name}` })),
    ],
    provide: (cid, signal) => libp2p.contentRouting.provide(cid, { signal }),
    log,
  });
  const addrs = (): string[] => libp2p.getMultiaddrs().map((a) => a.toString());
  const finder = new Finder({
    self: () => ({ nodeId: identity.nodeId, peerId, addrs: addrs(), names: options.names }),
    findProviders: (cid, signal) => libp2p.contentRouting.findProviders(cid, { signal }),
    findPeer: (peer, signal) => libp2p.peerRouting.findPeer(peer, { signal }),
    hasPeers: () => libp2p.getPeers().length > 0,
  });

  libp2p.addEventListener('peer:connect', (event) => {
    const peer = event.detail.toString();
    log.info({ peer }, 'p2p peer connected');
    dialer.peerConnected(peer);
    for (const listener of connectedListeners) {
      try {
        listener(peer);
      } catch (error) {
        log.error({ err: error, peer }, 'p2p peer-connected listener failed');
      }
    }
  });
  // A relay reservation made or lost, an address observed: operators and tests see what is advertised.
  let advertised = '';
  libp2p.addEventListener('self:peer:update', () => {
    const now = addrs();
    if (now.join() === advertised) return;
    advertised = now.join();
    log.info({ addrs: now }, 'p2p addresses changed');
  });
  libp2p.addEventListener('peer:disconnect', (event) => {
    const peer = event.detail.toString();
    log.info({ peer }, 'p2p peer disconnected');
    listenAddrs.delete(peer);
    dialer.peerDisconnected(peer);
  });
  libp2p.addEventListener('peer:identify', (event) => {
    const { peerId: peer, listenAddrs: addresses, protocols } = event.detail;
    const id = peer.toString();
    if (libp2p.getPeers().some((p) => p.equals(peer))) listenAddrs.set(id, addresses.map((a) => withPeer(a.toString(), id)));
    if (protocols.includes(DHT_PROTOCOL)) announcer.peerAdded();
  });
  const mdnsService = libp2p.services.mdns as
    | { addEventListener(type: 'peer', listener: (event: CustomEvent<{ id: PeerId; multiaddrs: Multiaddr[] }>) => void): void }
    | undefined;
  // libp2p 3 reports a peer found on the LAN but does not dial it. Its addresses go into
  // the peer store first: libp2p stores them too, but not before this listener runs.
  mdnsService?.addEventListener('peer', (event) => {
    const { id: peer, multiaddrs } = event.detail;
    if (peer.equals(libp2p.peerId) || libp2p.getConnections(peer).length > 0 || isBanned(peer)) return;
    libp2p.peerStore
      .merge(peer, { multiaddrs })
      .then(() => libp2p.dial(peer))
      .then(
        () => log.info({ peer: peer.toString() }, 'p2p dialled a peer found by mDNS'),
        (error: unknown) => log.debug({ peer: peer.toString(), err: (error as Error).message }, 'p2p peer found by mDNS not reachable'),
      );
  });
  pubsub.addEventListener('gossipsub:message', (event) => {
    const { propagationSource, msg } = event.detail;
    const deliver = deliveries.get(msg.topic);
    if (deliver === undefined) return;
    try {
      deliver(msg.data, propagationSource.toString());
    } catch (error) {
      log.error({ err: error, topic: msg.topic }, 'p2p message delivery failed');
    }
  });
  // Graylisted peers are ignored by gossipsub; disconnecting them, and refusing them
  // for a while, also keeps them from using this node's DHT and connections.
  pubsub.addEventListener('gossipsub:heartbeat', () => {
    for (const peer of libp2p.getPeers()) {
      const score = internals.getScore(peer.toString());
      if (score >= SCORE_THRESHOLDS.graylistThreshold) continue;
      banned.set(peer.toString(), Date.now() + BAN_MS);
      log.warn({ peer: peer.toString(), score }, 'p2p peer disconnected: too many of its messages were rejected');
      libp2p.hangUp(peer).catch(() => {});
    }
    const now = Date.now();
    for (const [peer, until] of banned) if (until <= now) banned.delete(peer);
  });

  dialer.start();
  advertised = addrs().join();
  log.info({ nodeId: identity.nodeId, peerId, addrs: addrs(), mdns: options.mdns, relay: options.relay, private: psk !== undefined }, 'p2p host started');

  return {
    peerId,
    libp2p,
    addrs,
    peers: () =>
      libp2p.getPeers().map((peer) => {
        const id = peer.toString();
        const known = listenAddrs.get(id);
        return { peerId: id, addrs: known ?? libp2p.getConnections(peer).map((c) => withPeer(c.remoteAddr.toString(), id)) };
      }),
    subscribe(topic, validate, deliver) {
      internals.score.params.topics[topic] = createTopicScoreParams(TOPIC_SCORE);
      pubsub.topicValidators.set(topic, (from, message) => {
        try {
          return VERDICTS[validate(message.data, from.toString())];
        } catch (error) {
          log.error({ err: error, topic }, 'p2p topic validator failed; message ignored');
          return TopicValidatorResult.Ignore;
        }
      });
      if (deliver === undefined) deliveries.delete(topic);
      else deliveries.set(topic, deliver);
      pubsub.subscribe(topic);
    },
    unsubscribe(topic) {
      pubsub.unsubscribe(topic);
      pubsub.topicValidators.delete(topic);
      deliveries.delete(topic);
    },
    async publish(topic, data) {
      if (data.byteLength > MAX_GOSSIP_DATA) throw new RangeError(`p2p message of ${data.byteLength} bytes is over the limit of ${MAX_GOSSIP_DATA}`);
      try {
        await pubsub.publish(topic, data);
      } catch (error) {
        // Bytes already published are already on their way.
        if ((error as Error).message !== 'PublishError.Duplicate') throw error;
      }
    },
    onPeerConnected(listener) {
      connectedListeners.push(listener);
    },
    find: (query, signal) => finder.find(query, signal),
    meshSizes() {
      const sizes = new Map<string, number>();
      for (const topic of pubsub.getTopics()) sizes.set(topic, internals.getMeshPeers(topic).length);
      return sizes;
    },
    async stop() {
      dialer.stop();
      announcer.stop();
      await libp2p.stop();
    },
  };
}

function withPeer(addr: string, peerId: string): string {
  const suffix = `/p2p/${peerId}`;
  return addr.endsWith(suffix) ? addr : addr + suffix;
}

/** What went wrong at start, in words the operator can act on. */
function startError(error: unknown, listen: readonly string[]): Error {
  const message = (error as Error).message ?? String(error);
  if (/EADDRINUSE/.test(message)) {
    const addr = listen.find((a) => message.includes(a));
    return new P2PStartError('ERR_P2P_LISTEN', `cannot listen on ${addr ?? 'a --p2p-listen address'}: the port is in use by another program (another node?); choose another port with --p2p-listen`, { cause: error });
  }
  if (/EADDRNOTAVAIL|EACCES|Could not listen|failed to be listened on/i.test(message)) {
    return new P2PStartError('ERR_P2P_LISTEN', `cannot listen on a --p2p-listen address: ${message.trim()}`, { cause: error });
  }
  return error as Error;
}
