// Prometheus metrics, read from the node's plain counters at scrape time so the hot
// paths never touch prom-client.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Hub } from '../hub/hub.ts';
import type { RelayFrame } from './relay-frame.ts';
import type { NodeStats } from './stats.ts';

export interface MetricsSources {
  readonly stats: NodeStats;
  readonly hub: Hub<RelayFrame>;
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

export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry }); // standard process_* and nodejs_* names
  const { stats, hub } = sources;
  gauge(registry, 'parley_connections', 'Open WebSocket connections', () => stats.connections);
  totalCounter(registry, 'parley_connections_total', 'WebSocket connections accepted', () => stats.connectionsTotal);
  gauge(registry, 'parley_members', 'Connections joined to a channel', () => hub.stats().members);
  gauge(registry, 'parley_channels_active', 'Channels with at least one member', () => hub.stats().activeChannels);
  gauge(registry, 'parley_channels', 'Channels with stored history', () => hub.stats().history.channels);
  gauge(registry, 'parley_history_frames', 'Frames held in channel history', () => hub.stats().history.frames);
  gauge(registry, 'parley_history_bytes', 'Bytes held in channel history', () => hub.stats().history.bytes);
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
    name: 'parley_rejected_total',
    help: 'Connections and upgrades refused, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of stats.rejected) this.inc({ reason }, count);
    },
  });
  return registry;
}
