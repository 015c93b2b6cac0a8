// Prometheus metrics, read from the node's plain counters at scrape time so the hot
// paths never touch prom-client.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Hub } from '../hub/hub.ts';
import type { NodeStats } from './stats.ts';

export interface MetricsSources {
  readonly stats: NodeStats;
  readonly hub: Hub;
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
  const { stats, hub } = sources;
  gauge(registry, 'parley_connections', 'Open WebSocket connections', () => stats.connections);
  totalCounter(registry, 'parley_connections_total', 'WebSocket connections accepted', () => stats.connectionsTotal);
  gauge(registry, 'parley_members', 'Connections joined to a channel', () => hub.stats().members);
  gauge(registry, 'parley_channels_active', 'Channels with at least one member', () => hub.stats().activeChannels);
  // One store query per scrape serves the three store gauges.
  let storeStats = hub.store.stats();
  let storeStatsAt = 0;
  const store = () => {
    if (Date.now() - storeStatsAt > 1000) {
      storeStats = hub.store.stats();
      storeStatsAt = Date.now();
    }
    return storeStats;
  };
  gauge(registry, 'parley_channels', 'Channels with stored messages', () => store().channels);
  gauge(registry, 'parley_history_frames', 'Messages held in the store (all channels)', () => store().messages);
  gauge(registry, 'parley_history_bytes', 'Payload bytes held in the store (all channels)', () => store().bytes);
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
  new Counter({
    name: 'parley_rejected_total',
    help: 'Connections and upgrades refused, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of stats.rejected) this.inc({ reason }, count);
    },
  });
  return { registry, observeCommit: (seconds) => commits.observe(seconds) };
}
