// A running parley node, composed: stats, store, hub, peering, metrics, the HTTP and
// WebSocket handlers and the listeners, each built with what it needs passed in, in
// dependency order. Everything comes from the config and logger; nothing here reads flags or env.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { queryApi } from '../http/api.ts';
import type { Route } from '../http/handlers.ts';
import { nodeApi, type P2PView } from '../http/node-api.ts';
import { openApiRoute } from '../http/openapi.ts';
import { publishApi, type Publisher } from '../http/publish.ts';
import { createRequestHandler, type StaticSite } from '../http/routes.ts';
import { Hub } from '../hub/hub.ts';
import { loadOrCreateIdentity, type NodeIdentity } from '../identity/node-identity.ts';
import type { JetStreamBackend } from '../jetstream/backend.ts';
import { StreamJoinHeaders } from '../jetstream/stream-join-headers.ts';
import { MlesChannels } from '../mles/channels.ts';
import { ChannelPresence } from '../hub/presence.ts';
import { MemoryJoinHeaders, type JoinHeaders } from '../mles/join-headers.ts';
import { mlesProtocol, type MlesContext } from '../mles/session.ts';
import { SqliteJoinHeaders } from '../mles/sqlite-join-headers.ts';
import { nativeProtocol, sharedRunFrames, type NativeContext } from '../native/session.ts';
import { ReplicaIntake } from '../envelope/intake.ts';
import { SealChecker, Sealer } from '../envelope/seal.ts';
import { Peering } from '../network/peering.ts';
import { GroupOrderer } from '../ordering/orderer.ts';
import type { P2PHost } from '../p2p/host/host.ts';
import type { P2PMode, P2PModeOptions } from '../p2p/mode.ts';
import { PeerSources } from '../network/sources.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { RetentionJob } from '../store/retention.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import { toStoreError } from '../store/store-error.ts';
import type { Store } from '../store/store.ts';
import { OutboundFlusher } from '../websocket/outbound.ts';
import { ConnectionRateLimiter } from '../websocket/rate-limit.ts';
import { NodeStats } from '../websocket/stats.ts';
import { ClientConnections } from './client-connections.ts';
import type { HttpConfig, NodeConfig, StoreConfig, TlsConfig } from './config.ts';
import { HubEvents } from './hub-events.ts';
import { startListeners, type ListenerSettings } from './listeners.ts';
import type { LogLinesDropped } from './log.ts';
import { createMetrics } from './metrics.ts';
import { createUpgradeHandler } from './upgrade.ts';
import type { MatrixGateway, MatrixGatewayOptions } from '../matrix/gateway.ts';
import { packageVersion } from './version.ts';

/** The chat page shipped with the package, served when no wwwroot is configured. */
/** What the HTTP routes are built from. */
export interface HttpRouteParts {
  readonly hub: Publisher;
  readonly store: Store;
  /** Resolves when the channel is as current as the peers can make it. */
  readonly catchUp: (channel: string) => Promise<void>;
  readonly config: Pick<NodeConfig, 'mles' | 'websocket'>;
  readonly nodeId: string;
  /** The peer-to-peer side once it runs (with --p2p). */
  readonly p2p: () => P2PView | undefined;
}

/** The node's HTTP routes (besides /healthz, /metrics and static files), asked in order. */
export function httpRoutes({ hub, store, catchUp, config, nodeId, p2p }: HttpRouteParts): Route[] {
  return [
    // Before the query API, which answers every other /v1/ path.
    openApiRoute({ version: packageVersion(), maxMessage: config.websocket.maxMessage }),
    nodeApi(nodeId, p2p),
    publishApi(hub, config.mles.key, config.websocket.maxMessage),
    // A valid query first lets the peers catch this node up on the channel.
    queryApi(store, config.mles.key, catchUp),
  ];
}

export const BUNDLED_WWWROOT = fileURLToPath(new URL('../../web/', import.meta.url));

export interface ParleyNode {
  /** Base URLs of the listeners, e.g. `http://127.0.0.1:8080/`. */
  readonly urls: readonly string[];
  readonly identity: NodeIdentity;
  readonly stats: NodeStats;
  readonly hub: Hub;
  readonly peering: Peering;
  /** The libp2p host, with --p2p; replication and catch-up over libp2p attach here. */
  readonly p2p: P2PHost | undefined;
  /** Closes every connection with 1001, stops the listeners and timers. */
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 3000;

export interface StartOptions {
  /** Log lines dropped so far, by reason, for /metrics. */
  readonly logDropped?: () => LogLinesDropped;
}

export async function startNode(given: NodeConfig, log: Logger, options: StartOptions = {}): Promise<ParleyNode> {
  // Built in dependency order: each component gets what it needs, already built.
  const stats = new NodeStats();
  const outbound = new OutboundFlusher();
  const localIdentity = loadOrCreateIdentity(given.dataDir);
  let observePublish: (seconds: number) => void = () => undefined;
  // With --nats, JetStream keeps the messages and the store is this node's view of them.
  const jetStream: JetStreamBackend | undefined =
    given.nats === undefined ? undefined : await openJetStream(given.nats, localIdentity, log, (seconds) => observePublish(seconds));
  const config = jetStream === undefined ? given : withinNatsPayload(given, jetStream.maxPayload, log);
  const identity = jetStream?.identity ?? localIdentity;
  const storeSettings: StoreConfig = jetStream === undefined ? config.store : { ...config.store, backend: 'memory' };
  const view =
    jetStream === undefined ? undefined : new MemoryStore({ nodeId: identity.nodeId, retainCount: config.store.retainCount, retainBytes: config.store.retainBytes });
  const store = view ?? openStore(config.dataDir, storeSettings, identity.nodeId);
  const hubEvents = new HubEvents();
  const hub = new Hub({
    store,
    ...(jetStream === undefined ? {} : { log: jetStream.log }),
    // Frames the batch fanned out leave in this same turn, not one turn later.
    afterBatch: outbound.flush,
    onStoreError: (error) =>
      log.error({ err: error, storeCode: toStoreError(error).code }, 'store refused a batch; its messages were not delivered'),
    onCommit: hubEvents.onCommit,
    onInterest: hubEvents.onInterest,
    onStored: hubEvents.onStored,
  });
  // With --nats the join headers go through the stream too: every node replays them.
  const streamHeaders =
    jetStream &&
    new StreamJoinHeaders({
      firstSeq: (channel) => store.bounds(channel).first,
      lastSeq: (channel) => store.bounds(channel).last,
      publish: (channel, frames) => jetStream.log.submitJoinHeaders(channel, frames),
    });
  const joinHeaders = streamHeaders ?? openJoinHeaders(config.dataDir, storeSettings, store);
  const presence = new ChannelPresence();
  const mlesChannels = new MlesChannels({
    hub,
    presence,
    store,
    headers: joinHeaders,
    historyLimit: config.mles.historyLimit,
    historyBytes: config.mles.historyBytes,
    onStoreError: (error) => log.error({ err: error, storeCode: toStoreError(error).code }, 'store refused join headers'),
  });
  // Envelopes from every transport go through one intake; own messages are sealed by one sealer.
  const intake = new ReplicaIntake(store, new SealChecker());
  const sealer = new Sealer(identity);
  const peering = new Peering({
    identity,
    hub,
    store,
    intake,
    sealer,
    log,
    peerKey: config.network.peerKey,
    trusted: config.network.trust,
    maxPayload: config.websocket.maxMessage,
    rateLimit: config.network.peerRate,
    pingIntervalMs: config.websocket.pingIntervalMs,
    // A channel a WebSocket peer wants is carried over gossip too: a node between the
    // two transports learns the channel's name from either side.
    onAsked: (channel) => p2pMode?.replication.channelUsed(channel),
  });
  // Set once the host has started (below); the metrics and routes read it when asked.
  let p2pMode: P2PMode | undefined;
  let p2p: P2PHost | undefined;
  const metrics = createMetrics({
    stats,
    hub,
    store,
    peers: () => peering.status(),
    peerRefusals: () => peering.refusals(),
    peerHandshakesFailed: () => peering.handshakesFailed(),
    logDropped: options.logDropped,
    envelopes: () => intake,
    matrixForged: config.matrix.enabled ? () => matrix?.forgedEvents() : undefined,
    nats: jetStream && (() => jetStream.log.status()),
    p2p: config.p2p.enabled
      ? () =>
          p2pMode && {
            peers: () => p2pMode!.host.peers(),
            meshSizes: () => p2pMode!.host.meshSizes(),
            gossip: p2pMode.replication.gossip.counters,
            sync: p2pMode.replication.sync,
            waiting: () => p2pMode!.replication.gossip.waiting(),
          }
      : undefined,
  });
  hubEvents.attach({
    interest: (channel, used) => {
      peering.channelUsed(channel, used);
      if (used) p2pMode?.replication.channelUsed(channel);
    },
    commit: metrics.observeCommit,
  });
  observePublish = metrics.observeJetStreamPublish;
  // After interest is attached: the groups it orders are asked of the peers.
  const orderer = new GroupOrderer({ hub, store, key: identity, maxPayload: config.websocket.maxMessage, log });
  hubEvents.attach({ stored: orderer.onStored });
  orderer.start();
  const network = config.network;
  const peersConfigured = network.peers.length > 0 || network.peersFile !== undefined || network.peersUrl !== undefined;
  if (peersConfigured && network.peerKey === undefined && network.trust.length === 0) {
    // Nothing else would say it: the links would be refused and retried for ever.
    log.warn({ peers: network.peers }, '--peer needs PEER_KEY (the same on every node) or --trust NODEID; without them the peer will refuse this node');
  }
  const peerSources = new PeerSources({
    flags: config.network.peers,
    file: config.network.peersFile,
    url: config.network.peersUrl,
    intervalMs: config.network.peersIntervalMs,
    log,
    onChange: (urls) => peering.setPeers(urls),
  });
  const limits = { count: config.store.retainCount, ageMs: config.store.retainAgeMs, bytes: config.store.retainBytes };
  const retention = new RetentionJob({
    target: store,
    limits,
    intervalMs: config.store.retentionIntervalMs,
    onRemoved: (count) => log.info({ count }, 'retention removed messages'),
    onPass: (count) => log.debug({ count }, 'retention pass done'),
    onError: (error) => log.error({ err: error, storeCode: toStoreError(error).code }, 'retention failed'),
  });
  // Join headers go with the messages around them, and with the age limit.
  const headerRetention = new RetentionJob({
    target: joinHeaders,
    limits,
    intervalMs: config.store.retentionIntervalMs,
    onRemoved: (count) => log.info({ count }, 'retention removed join headers'),
    onError: (error) => log.error({ err: error, storeCode: toStoreError(error).code }, 'retention of join headers failed'),
  });
  const closeStores = (): void => {
    matrix?.close();
    retention.stop();
    headerRetention.stop();
    joinHeaders.close();
    store.close();
  };
  const closeJetStream = async (): Promise<void> => {
    await jetStream?.close().catch((error: unknown) => log.error({ err: error }, 'NATS connection did not close cleanly'));
  };
  // Queries see every message acked anywhere before them: from the peers (WebSocket and
  // P2P), and with --nats from the stream.
  const catchUp = (channel: string): Promise<void> =>
    Promise.all([peering.catchUp(channel), p2pMode?.replication.catchUp(channel), jetStream?.log.catchUp()]).then(() => hub.settled());

  const clients = new ClientConnections();
  const limiter = new ConnectionRateLimiter(config.websocket.rateLimit);
  const mles: MlesContext = {
    hub,
    channels: mlesChannels,
    stats,
    log,
    outbound,
    mlesKey: config.mles.key,
    headerTimeoutMs: config.websocket.headerTimeoutMs,
    maxMessage: config.websocket.maxMessage,
    maxBuffered: config.websocket.maxBuffered,
    onClosed: clients.onClosed,
  };
  const native: NativeContext = {
    ...mles,
    store,
    presence,
    runFrames: sharedRunFrames(),
    nodeId: identity.nodeId,
    catchUp,
    directoryKey: config.p2p.directoryKey,
    listPublic: (channel, about) => {
      if (p2pMode === undefined) return false;
      p2pMode.listPublic(channel, about);
      return true;
    },
    unlistPublic: (channel) => p2pMode?.unlistPublic(channel) ?? 'no_directory',
  };
  const onUpgrade = createUpgradeHandler({ stats, log, limiter, peering, clients, protocols: [mlesProtocol(mles), nativeProtocol(native)] });
  // Rooms are channels of this store and hub: Mles and native clients see them, peering carries them.
  let matrix: MatrixGateway | undefined;
  try {
    matrix = config.matrix.enabled
      ? await startMatrix({
          settings: {
            serverName: config.matrix.serverName ?? identity.nodeId,
            registration: config.matrix.registration,
            registrationToken: config.matrix.registrationToken,
            loginRate: config.matrix.loginRate,
            sendRate: config.matrix.sendRate,
          },
          hub,
          store,
          dataDir: config.store.backend === 'sqlite' ? config.dataDir : undefined,
          catchUp: (channel) => peering.catchUp(channel),
          log,
          networkDirectory: () => p2pMode?.directory.list(),
          onPublicRoom: () => p2pMode?.directory.announceSoon(),
        })
      : undefined;
  } catch (error) {
    closeStores();
    throw error;
  }
  const { retainCount, retainAgeMs, retainBytes } = config.store;
  if (matrix !== undefined && (retainCount > 0 || retainAgeMs > 0 || retainBytes > 0)) {
    // Said once at start: a room that lost its oldest events loses its state at the next restart.
    log.warn({ retainCount, retainAgeMs, retainBytes }, 'retention will remove Matrix room events, and with them room state: use --retain-count 0 --retain-age 0 --retain-bytes 0, or limits far above the rooms\' size');
  }
  const onRequest = createRequestHandler({
    log,
    health: () => ({
      connections: stats.connections,
      channels: hub.stats().activeChannels,
      peers: peering.status().filter((p) => p.up).length,
      ...(jetStream === undefined ? {} : { nats: jetStream.health() }),
    }),
    metrics: metrics.registry,
    routes: [
      ...httpRoutes({
        hub,
        store,
        catchUp,
        config,
        nodeId: identity.nodeId,
        p2p: () => p2pMode && { ...p2pMode.host, directory: () => p2pMode!.directory.list() },
      }),
      ...(matrix === undefined ? [] : [matrix.route]),
    ],
    site: staticSite(config.http, config.tls),
  });

  try {
    // Everything the stream holds is in the view before the node serves anyone.
    if (jetStream !== undefined && view !== undefined) await jetStream.start(hub, view, config.store.retentionIntervalMs, streamHeaders);
    if (config.p2p.enabled) {
      // One node of a cluster runs libp2p: they share the key its peer id comes from.
      await jetStream?.claimP2P(localIdentity.nodeId);
      p2pMode = await startP2P({
        settings: config.p2p,
        identity,
        hub,
        store,
        intake,
        sealer,
        maxPayload: config.websocket.maxMessage,
        log,
        moreChannels: matrix === undefined ? undefined : () => matrix.publicChannels(),
        dataDir: config.dataDir,
      });
      p2p = p2pMode.host;
    }
  } catch (error) {
    await closeJetStream();
    closeStores();
    throw error;
  }
  const listeners = await startListeners(listenerSettings(config), log, onRequest, onUpgrade).catch(async (error: unknown) => {
    await p2pMode?.stop();
    await closeJetStream();
    closeStores();
    throw error;
  });

  await peerSources.start();
  const pinger = setInterval(() => clients.ping(config.websocket.maxMissedPings), config.websocket.pingIntervalMs);
  pinger.unref();
  const pruner = setInterval(() => limiter.prune(), 60_000);
  pruner.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(pinger);
      clearInterval(pruner);
      peerSources.stop();
      orderer.close();
      await peering.close();
      await p2pMode?.stop().catch((error: unknown) => log.error({ err: error }, 'p2p host did not stop cleanly'));
      listeners.stopAccepting();
      presence.silence();
      matrix?.stop();
      await clients.shutdown(SHUTDOWN_GRACE_MS);
      await listeners.close();
      // Whatever was published before the close is committed before the store shuts.
      hub.flush();
      mlesChannels.flush();
      await closeJetStream();
      closeStores();
    })();
    return closing;
  };

  return { urls: listeners.urls, identity, stats, hub, peering, p2p, close };
}

/** Room a stream record takes beside its payload (uid, client id, origin stamp, CBOR). */
const RECORD_OVERHEAD = 4096;

/**
 * The config with --max-message lowered, if need be, to what the NATS server takes in one
 * message (its max_payload, 1 MiB by default) less a record's overhead: a larger message
 * could never be stored, and its publisher would retry it for ever.
 */
function withinNatsPayload(config: NodeConfig, maxPayload: number, log: Logger): NodeConfig {
  const fits = maxPayload - RECORD_OVERHEAD;
  if (config.websocket.maxMessage <= fits) return config;
  log.warn({ maxMessage: config.websocket.maxMessage, natsMaxPayload: maxPayload, now: fits }, '--max-message lowered to what NATS takes in one message (raise max_payload in the NATS server config to allow more)');
  return { ...config, websocket: { ...config.websocket, maxMessage: fits } };
}

/** Loaded only with --nats: a node without it does not load the NATS client. */
async function openJetStream(...args: Parameters<typeof import('../jetstream/backend.ts').openJetStreamBackend>): Promise<JetStreamBackend> {
  const { openJetStreamBackend } = await import('../jetstream/backend.ts');
  return openJetStreamBackend(...args);
}

/** Loaded only with --matrix: a node without it does not pay for the gateway's code. */
async function startMatrix(options: MatrixGatewayOptions): Promise<MatrixGateway> {
  const { startMatrixGateway } = await import('../matrix/gateway.ts');
  return startMatrixGateway(options);
}

/** Loaded only with --p2p: libp2p and its protocols cost memory a node without it should not pay. */
async function startP2P(options: P2PModeOptions): Promise<P2PMode> {
  const { startP2PMode } = await import('../p2p/mode.ts');
  return startP2PMode(options);
}

function openStore(dataDir: string, settings: StoreConfig, nodeId: string): Store {
  switch (settings.backend) {
    case 'memory':
      return new MemoryStore({ nodeId, retainCount: settings.retainCount, retainBytes: settings.retainBytes, restartChains: true });
    case 'sqlite':
      return new SqliteStore({ path: join(dataDir, 'parley.db'), nodeId, groupCommit: true });
  }
}

/** Where the Mles join headers are kept: beside the messages, in the same backend. */
function openJoinHeaders(dataDir: string, settings: StoreConfig, store: Store): JoinHeaders {
  const firstSeq = (channel: string) => store.bounds(channel).first;
  switch (settings.backend) {
    case 'memory':
      return new MemoryJoinHeaders({ firstSeq });
    case 'sqlite':
      return new SqliteJoinHeaders({ path: join(dataDir, 'parley.db'), firstSeq });
  }
}

/** The chat page shipped with the package, or the wwwroot (per host when there are domains). */
function staticSite(http: HttpConfig, tls: TlsConfig): StaticSite {
  return {
    root: http.wwwroot ?? BUNDLED_WWWROOT,
    perHost: http.wwwroot !== undefined && tls.domains.length > 0,
    domains: tls.domains,
  };
}

function listenerSettings({ http, tls }: NodeConfig): ListenerSettings {
  return {
    listen: http.listen,
    certificate: tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : undefined,
    managed: tls.domains.length > 0 ? tls : undefined,
  };
}
