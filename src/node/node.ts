// A running parley node: its listeners, the hub they feed, keepalive and shutdown.
// Everything is passed in (config, logger); nothing here reads flags or env.

import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { join } from 'node:path';
import { Hub } from '../hub/hub.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { RetentionJob } from '../store/retention.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { toStoreError } from '../store/store-error.ts';
import type { HttpRefusalCode } from '../websocket/refusals.ts';
import type { NodeConfig } from './config.ts';
import { refuseUpgrade } from '../websocket/http-refusal.ts';
import { createMetrics } from './metrics.ts';
import type { LogLinesDropped } from './log.ts';
import { MlesConnection, type ConnectionContext } from '../mles/session.ts';
import { ConnectionRateLimiter } from '../websocket/rate-limit.ts';
import { loadOrCreateIdentity, type NodeIdentity } from '../identity/node-identity.ts';
import { OutboundFlusher } from '../websocket/outbound.ts';
import { createRequestHandler } from '../http/routes.ts';
import { NodeStats } from '../websocket/stats.ts';
import { NativeConnection, type NativeContext } from '../native/session.ts';
import type { ClientSession } from '../websocket/client-session.ts';
import { checkUpgrade } from '../websocket/handshake.ts';
import type { ManagedTls } from '../tls/acme-listener.ts';
import type { UpgradeHandler } from '../http/handlers.ts';
import { Peering } from '../network/peering.ts';
import { PeerSources } from '../network/sources.ts';
import { PEER_SUBPROTOCOL } from '../network/protocol.ts';
import { checkSubprotocol, offeredSubprotocols } from '../websocket/upgrade-check.ts';
import { MLES_SUBPROTOCOL } from '../mles/header.ts';
import { NATIVE_SUBPROTOCOL } from '../native/frames.ts';

/** The chat page shipped with the package, served when no wwwroot is configured. */
export const BUNDLED_WWWROOT = fileURLToPath(new URL('../../web/', import.meta.url));

export interface ParleyNode {
  /** Base URLs of the listeners, e.g. `http://127.0.0.1:8080/`. */
  readonly urls: readonly string[];
  readonly identity: NodeIdentity;
  readonly stats: NodeStats;
  readonly hub: Hub;
  readonly peering: Peering;
  /** Closes every connection with 1001, stops the listeners and timers. */
  close(): Promise<void>;
}


const SHUTDOWN_GRACE_MS = 3000;
/** The client protocols a WebSocket upgrade may ask for. */
const CLIENT_SUBPROTOCOLS = [MLES_SUBPROTOCOL, NATIVE_SUBPROTOCOL] as const;

export interface StartOptions {
  /** Log lines dropped so far, by reason, for /metrics. */
  readonly logDropped?: () => LogLinesDropped;
}

export async function startNode(config: NodeConfig, log: Logger, options: StartOptions = {}): Promise<ParleyNode> {
  const stats = new NodeStats();
  const outbound = new OutboundFlusher();
  const identity = loadOrCreateIdentity(config.dataDir);
  const store: Store = config.memory
    ? new MemoryStore({ nodeId: identity.nodeId, retainCount: config.retainCount, retainBytes: config.retainBytes })
    : new SqliteStore({ path: join(config.dataDir, 'parley.db'), nodeId: identity.nodeId });
  const hub = new Hub({
    store,
    mlesHistoryLimit: config.historyLimit,
    mlesHistoryBytes: config.historyBytes,
    // Frames the batch fanned out leave in this same turn, not one turn later.
    afterBatch: outbound.flush,
    onStoreError: (error) =>
      log.error({ err: error, storeCode: toStoreError(error).code }, 'store refused a batch; its messages were not delivered'),
    onCommit: (seconds) => metrics.observeCommit(seconds),
    onInterest: (channel, used) => peering.channelUsed(channel, used),
  });
  const peering = new Peering({
    identity,
    hub,
    log,
    peerKey: config.peerKey,
    trusted: config.trust,
    maxPayload: config.maxMessage,
    rateLimit: config.peerRate,
    pingIntervalMs: config.pingIntervalMs,
  });
  const peerSources = new PeerSources({
    flags: config.peers,
    file: config.peersFile,
    url: config.peersUrl,
    intervalMs: config.peersIntervalMs,
    log,
    onChange: (urls) => peering.setPeers(urls),
  });
  const retention = new RetentionJob({
    store,
    limits: { count: config.retainCount, ageMs: config.retainAgeMs, bytes: config.retainBytes },
    intervalMs: config.retentionIntervalMs,
    onRemoved: (count) => log.info({ count }, 'retention removed messages'),
    onPass: (count) => log.debug({ count }, 'retention pass done'),
    onError: (error) => log.error({ err: error, storeCode: toStoreError(error).code }, 'retention failed'),
  });
  const metrics = createMetrics({
    stats,
    hub,
    peers: () => peering.status(),
    peerRefusals: () => peering.refusals(),
    peerHandshakesFailed: () => peering.handshakesFailed(),
    logDropped: options.logDropped,
  });
  const limiter = new ConnectionRateLimiter(config.rateLimit);
  const connections = new Set<ClientSession>();
  let allClosed: (() => void) | undefined;
  const onClosed = (connection: ClientSession): void => {
    connections.delete(connection);
    if (connections.size === 0) allClosed?.();
  };
  const context: ConnectionContext = {
    hub,
    stats,
    log,
    mlesKey: config.mlesKey,
    headerTimeoutMs: config.headerTimeoutMs,
    maxMessage: config.maxMessage,
    maxBuffered: config.maxBuffered,
    outbound,
    onClosed,
  };
  const nativeContext: NativeContext = { ...context, onClosed, nodeId: identity.nodeId, fresh: (channel) => peering.fresh(channel) };
  const onRequest = createRequestHandler({
    log,
    health: () => ({
      connections: stats.connections,
      channels: hub.stats().activeChannels,
      peers: peering.status().filter((p) => p.up).length,
    }),
    metrics: metrics.registry,
    store,
    mlesKey: config.mlesKey,
    fresh: (channel) => peering.fresh(channel),
    site: {
      root: config.wwwroot ?? BUNDLED_WWWROOT,
      perHost: config.wwwroot !== undefined && config.domains.length > 0,
      domains: config.domains,
    },
  });

  const onUpgrade: UpgradeHandler = (req, socket, head) => {
    socket.on('error', () => socket.destroy()); // a reset before or during the handshake
    const remote = req.socket.remoteAddress ?? 'unknown';
    const refuse = (code: HttpRefusalCode, detail?: string): void => {
      stats.reject(code);
      log.info({ remote, code, detail }, 'upgrade refused');
      refuseUpgrade(socket, code, detail);
    };
    if (!limiter.allow(remote)) return refuse('RATE_LIMITED');
    const handshake = checkUpgrade({
      method: req.method,
      upgrade: req.headers.upgrade,
      connection: req.headers.connection,
      key: req.headers['sec-websocket-key'],
      version: req.headers['sec-websocket-version'],
    });
    if (!handshake.ok) return refuse(handshake.code, handshake.detail);
    if (offeredSubprotocols(req.headers['sec-websocket-protocol']).includes(PEER_SUBPROTOCOL)) {
      if (!peering.acceptsLinks) return refuse('PEERING_DISABLED');
      return peering.handleUpgrade(req, socket, head);
    }
    const subprotocol = checkSubprotocol(req.headers['sec-websocket-protocol'], CLIENT_SUBPROTOCOLS);
    if (!subprotocol.ok) return refuse(subprotocol.code);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${handshake.accept}\r\nSec-WebSocket-Protocol: ${subprotocol.protocol}\r\n\r\n`,
    );
    stats.connections++;
    stats.connectionsTotal++;
    connections.add(
      subprotocol.protocol === MLES_SUBPROTOCOL
        ? new MlesConnection(socket, head, remote, context).session
        : new NativeConnection(socket, head, remote, nativeContext).session,
    );
  };

  const servers: Server[] = [];
  const urls: string[] = [];
  const listen = async (server: Server, host: string, port: number, scheme: string): Promise<void> => {
    server.on('request', onRequest);
    server.on('upgrade', onUpgrade);
    server.on('clientError', (_error, socket) => socket.destroy());
    server.listen(port, host);
    await once(server, 'listening');
    servers.push(server);
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    urls.push(`${scheme}://${shownHost}:${address.port}/`);
  };

  let managed: ManagedTls | undefined;
  try {
    for (const address of config.listen) {
      if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
        await listen(createHttpsServer({ cert: config.tlsCert, key: config.tlsKey }), address.host, address.port, 'https');
      } else {
        await listen(createHttpServer(), address.host, address.port, 'http');
      }
    }
    if (config.domains.length > 0) {
      // Loaded only when needed: acme-client alone adds ~38 MB to a node's memory.
      const { startManagedTls } = await import('../tls/acme-listener.ts');
      managed = await startManagedTls({ config, log, onRequest, onUpgrade });
      urls.push(...managed.urls);
    }
  } catch (error) {
    for (const server of servers) server.close();
    await managed?.close();
    retention.stop();
    store.close();
    throw error;
  }

  await peerSources.start();
  const pinger = setInterval(() => {
    for (const connection of connections) connection.ping(config.maxMissedPings);
  }, config.pingIntervalMs);
  pinger.unref();
  const pruner = setInterval(() => limiter.prune(), 60_000);
  pruner.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(pinger);
      clearInterval(pruner);
      peerSources.stop();
      await peering.close();
      for (const server of servers) server.close();
      const closed = managed?.close();
      const drained = new Promise<void>((resolve) => {
        allClosed = resolve;
        if (connections.size === 0) resolve();
      });
      for (const connection of connections) connection.refuse('SHUTDOWN');
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
      await Promise.race([drained, timeout]);
      for (const server of servers) server.closeAllConnections();
      await closed;
      // Whatever was published before the close is committed before the store shuts.
      hub.flush();
      retention.stop();
      store.close();
    })();
    return closing;
  };

  return { urls, identity, stats, hub, peering, close };
}
