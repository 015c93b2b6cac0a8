// Prometheus metrics, read from the node's plain counters at scrape time so the hot
// paths never touch prom-client.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Hub } from '../hub/hub.ts';
import type { Store } from '../store/store.ts';
import type { PeerStatus } from '../network/peering.ts';
import type { LogLinesDropped } from './log.ts';
import type { NodeStats } from '../websocket/stats.ts';

export interface MetricsSources {
  readonly stats: NodeStats;
  readonly hub: Hub;
  /** Read for the stored totals (channels, messages, bytes). */
  readonly store: Store;
  /** Each peer's state, when peering runs. */
  readonly peers?: () => readonly PeerStatus[];
  /** Links closed for what the peer did, by reason, when peering runs. */
  readonly peerRefusals?: () => ReadonlyMap<string, number>;
  /** Log lines dropped so far, by reason. */
  readonly logDropped?: () => LogLinesDropped;
  /** Incoming peer links that ended before their handshake did, by reason. */
  readonly peerHandshakesFailed?: () => ReadonlyMap<string, number>;
  /** The p2p mode when it runs (undefined until it has started), with --p2p. */
  readonly p2p?: () => P2PMetricsSource | undefined;
  /** Envelopes from other nodes, over every transport: refused by reason, and messages taken. */
  readonly envelopes?: () => { readonly rejected: ReadonlyMap<string, number>; readonly accepted: number };
  /** Matrix entries (room events, device keys, to-device messages, invite notices, aliases) refused as forged (their origin does not speak for their sender's server); undefined without --matrix. */
  readonly matrixForged?: () => number | undefined;
  /** With --nats: the JetStream log's state. */
  readonly nats?: (() => NatsMetricsSource) | undefined;
}

/** What /metrics reads from the JetStream log, with --nats. */
export interface NatsMetricsSource {
  readonly connected: boolean;
  /** The last stream seq applied to this node's store. */
  readonly applied: number;
  readonly inFlight: number;
  readonly published: number;
  readonly failed: number;
  readonly reading: boolean;
}

/** What /metrics reads from the p2p mode. */
export interface P2PMetricsSource {
  peers(): readonly unknown[];
  meshSizes(): ReadonlyMap<string, number>;
  /** Runs published to gossip, taken from it, and not published. */
  readonly gossip: { readonly published: number; readonly received: number; readonly failed: number };
  /** Syncs done, the messages they brought, and syncs failed by why. */
  readonly sync: { readonly runs: number; readonly messages: number; readonly failed: ReadonlyMap<string, number> };
  /** Runs from gossip waiting for the runs before them. */
  waiting(): number;
}

/** A counter whose value is copied from a running total when scraped. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter with a `reason` label, copied from running totals per reason when scraped. */
function reasonCounter(registry: Registry, name: string, help: string, read: () => Iterable<readonly [string, number]>): void {
  new Counter({
    name,
    help,
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of read()) this.inc({ reason }, count);
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** Observes one store commit (a batch, not a message: cheap enough for every one). */
  readonly observeCommit: (seconds: number) => void;
  /** Observes one publish JetStream acknowledged. */
  readonly observeJetStreamPublish: (seconds: number) => void;
}

export function createMetrics(sources: MetricsSources): NodeMetrics {
  const registry = new Registry();
  const commits = new Histogram({
    name: 'parley_store_commit_seconds',
    help: 'Time to append one batch of messages to the store and commit it (fsync included)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  collectDefaultMetrics({ register: registry }); // standard process_* and nodejs_* names
  const { stats, hub, store } = sources;
  gauge(registry, 'parley_connections', 'Open WebSocket connections', () => stats.connections);
  totalCounter(registry, 'parley_connections_total', 'WebSocket connections accepted', () => stats.connectionsTotal);
  gauge(registry, 'parley_members', 'Connections joined to a channel', () => hub.stats().members);
  gauge(registry, 'parley_channels_active', 'Channels with at least one member', () => hub.stats().activeChannels);
  // One store query per scrape serves the three store gauges.
  let storeStats = store.stats();
  let storeStatsAt = 0;
  const stored = () => {
    if (Date.now() - storeStatsAt > 1000) {
      storeStats = store.stats();
      storeStatsAt = Date.now();
    }
    return storeStats;
  };
  gauge(registry, 'parley_channels', 'Channels with stored messages', () => stored().channels);
  gauge(registry, 'parley_history_frames', 'Messages held in the store (all channels)', () => stored().messages);
  gauge(registry, 'parley_history_bytes', 'Payload bytes held in the store (all channels)', () => stored().bytes);
  totalCounter(registry, 'parley_frames_in_total', 'Frames received from clients', () => stats.framesIn);
  totalCounter(registry, 'parley_bytes_in_total', 'Payload bytes received from clients', () => stats.bytesIn);
  totalCounter(registry, 'parley_frames_out_total', 'Frames queued to clients', () => stats.framesOut);
  totalCounter(registry, 'parley_bytes_out_total', 'Bytes written to clients', () => stats.bytesOut);
  totalCounter(
    registry,
    'parley_slow_consumers_dropped_total',
    'Connections closed because they did not read fast enough',
    () => stats.slowConsumersDropped,
  );
  new Counter({
    name: 'parley_native_errors_total',
    help: 'Native protocol error frames sent, by code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of stats.nativeErrors) this.inc({ code }, count);
    },
  });
  reasonCounter(registry, 'parley_rejected_total', 'Connections and upgrades refused, by reason', () => stats.rejected);
  const logDropped = sources.logDropped;
  if (logDropped !== undefined) {
    new Counter({
      name: 'parley_log_lines_dropped_total',
      help: 'Log lines not written, by reason: repeated (past the limit for identical lines), write_failed (e.g. ENOSPC), backlog_full',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        const dropped = logDropped();
        this.inc({ reason: 'repeated' }, dropped.repeated);
        this.inc({ reason: 'write_failed' }, dropped.writeFailed);
        this.inc({ reason: 'backlog_full' }, dropped.backlogFull);
      },
    });
  }
  const peers = sources.peers;
  if (peers !== undefined) peerMetrics(registry, peers);
  const refusals = sources.peerRefusals;
  if (refusals !== undefined) {
    reasonCounter(registry, 'parley_peer_links_refused_total', 'Peer links this node closed for what the peer did, by reason (malformed, forged, out of order, flood...)', refusals);
  }
  const handshakesFailed = sources.peerHandshakesFailed;
  if (handshakesFailed !== undefined) {
    reasonCounter(registry, 'parley_peer_handshakes_failed_total', 'Incoming peer links that ended before their handshake did, by reason (a close code, or closed by the other side)', handshakesFailed);
  }
  const matrixForged = sources.matrixForged;
  if (matrixForged !== undefined) {
    totalCounter(registry, 'parley_matrix_forged_events_total', "Matrix room events, device keys, to-device messages, invite notices, aliases and room listings refused because the node they came from does not speak for their sender's server", () => matrixForged() ?? 0);
  }
  const envelopes = sources.envelopes;
  if (envelopes !== undefined) {
    reasonCounter(registry, 'parley_envelopes_rejected_total', 'Envelopes from other nodes refused, over every transport, by reason (malformed, forged, bad_seal, out_of_order, unsealed, replayed)', () => envelopes().rejected);
    totalCounter(registry, 'parley_envelope_messages_accepted_total', 'Messages from other nodes whose chain and seal checked out, over every transport', () => envelopes().accepted);
  }
  const p2p = sources.p2p;
  if (p2p !== undefined) p2pMetrics(registry, p2p);
  const nats = sources.nats;
  let jetStreamPublishes: Histogram | undefined;
  if (nats !== undefined) {
    jetStreamPublishes = new Histogram({
      name: 'parley_jetstream_publish_seconds',
      help: 'Time from publishing a message to JetStream to its acknowledgement (stored with the stream replicas)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    });
    natsMetrics(registry, nats);
  }
  return { registry, observeCommit: (seconds) => commits.observe(seconds), observeJetStreamPublish: (seconds) => jetStreamPublishes?.observe(seconds) };
}

function natsMetrics(registry: Registry, nats: () => NatsMetricsSource): void {
  gauge(registry, 'parley_nats_connected', 'Whether the NATS connection is up (1) or not (0)', () => (nats().connected ? 1 : 0));
  gauge(registry, 'parley_jetstream_reading', 'Whether this node is reading the stream (1) or rebuilding its reader (0)', () => (nats().reading ? 1 : 0));
  gauge(registry, 'parley_jetstream_applied_seq', 'The last stream sequence applied to this node\'s store', () => nats().applied);
  gauge(registry, 'parley_jetstream_publishes_in_flight', 'Publishes sent to JetStream and not acknowledged yet', () => nats().inFlight);
  totalCounter(registry, 'parley_jetstream_publishes_total', 'Publishes JetStream acknowledged', () => nats().published);
  totalCounter(registry, 'parley_jetstream_publish_failures_total', 'Publishes JetStream did not store (their publishers were told)', () => nats().failed);
}

function p2pMetrics(registry: Registry, p2p: () => P2PMetricsSource | undefined): void {
  gauge(registry, 'parley_p2p_peers', 'libp2p peers connected', () => p2p()?.peers().length ?? 0);
  totalCounter(registry, 'parley_p2p_runs_published_total', 'Sealed runs of messages this node published to gossip', () => p2p()?.gossip.published ?? 0);
  totalCounter(registry, 'parley_p2p_runs_received_total', 'Runs of messages taken from gossip', () => p2p()?.gossip.received ?? 0);
  totalCounter(registry, 'parley_p2p_runs_unpublished_total', 'Runs that could not be published to gossip (peers get them by sync)', () => p2p()?.gossip.failed ?? 0);
  totalCounter(registry, 'parley_p2p_syncs_total', 'Catch-ups with a peer over /parley/sync/1 that ended well', () => p2p()?.sync.runs ?? 0);
  totalCounter(registry, 'parley_p2p_sync_messages_total', 'Messages brought by catch-ups over /parley/sync/1', () => p2p()?.sync.messages ?? 0);
  reasonCounter(registry, 'parley_p2p_syncs_failed_total', 'Catch-ups that failed, by why (unreachable, limit, or what the peer sent)', () => p2p()?.sync.failed ?? []);
  gauge(registry, 'parley_p2p_sync_lag_runs', 'Runs from gossip waiting for the runs before them (a gap a sync will fill)', () => p2p()?.waiting() ?? 0);
  new Gauge({
    name: 'parley_p2p_topic_mesh_peers',
    help: 'Peers in this node\'s gossipsub mesh, by topic',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [topic, size] of p2p()?.meshSizes() ?? []) this.set({ topic }, size);
    },
  });
}

/** Per peer: up or down, how far behind, bytes and messages each way. */
function peerMetrics(registry: Registry, peers: () => readonly PeerStatus[]): void {
  const labelNames = ['peer', 'node'] as const;
  const labels = (p: PeerStatus) => ({ peer: p.url, node: p.node });
  new Gauge({
    name: 'parley_peer_up',
    help: 'Whether the link to a peer is up (1) or not (0); inbound links are listed while up',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of peers()) this.set(labels(p), p.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'parley_peer_lag_messages',
    help: 'Messages of the channels a peer asked for that it has not been sent yet',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of peers()) this.set(labels(p), p.lag);
    },
  });
  for (const [name, help, key] of [
    ['parley_peer_bytes_received_total', 'Bytes received from a peer', 'bytesIn'],
    ['parley_peer_bytes_sent_total', 'Bytes sent to a peer', 'bytesOut'],
    ['parley_peer_messages_received_total', 'Messages received from a peer', 'messagesIn'],
    ['parley_peer_messages_sent_total', 'Messages sent to a peer', 'messagesOut'],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const p of peers()) this.inc(labels(p), p.counters[key]);
      },
    });
  }
}
