// Turns the results into the JSON record and the markdown tables (one per scenario, with
// parley's ratios to each peer and a check against the performance targets).

import type { CatchupResult, IdleResult, ScenarioName, ScenarioResult, ThroughputResult } from './scenarios.ts';
import type { SystemName } from './systems.ts';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly kernel: string;
  readonly versions: Partial<Record<SystemName, string>>;
  readonly pinned: string;
  /** Where the durable stores live and how fast that disk syncs (store scenarios only). */
  readonly storage?: string;
  /** What one SQLite batch costs and what the store takes in alone ((d) only). */
  readonly storeLimit?: { readonly batchUs: number; readonly storeMsgsPerSec: number } | undefined;
}

export interface RunEntry {
  readonly scenario: ScenarioName;
  readonly title: string;
  readonly system: SystemName;
  /** Which configuration of the scenario (store scenarios), '' for the only one. */
  readonly variant?: string;
  readonly result?: ScenarioResult;
  readonly error?: string;
}

export interface Report {
  readonly date: string;
  readonly machine: Machine;
  readonly settings: { readonly warmupMs: number; readonly measureMs: number; readonly quick: boolean; readonly catchupMessages?: number };
  readonly runs: readonly RunEntry[];
  readonly targets: readonly Target[];
}

export interface Target {
  readonly what: string;
  readonly met: boolean | undefined;
  readonly detail: string;
}

export const SYSTEM_LABEL: Record<SystemName, string> = {
  parley: 'parley',
  nats: 'nats-server',
  mosquitto: 'mosquitto',
};

const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);
const mib = (kib: number): string => (Number.isFinite(kib) ? (kib / 1024).toFixed(1) : '?');
const pct = (p: number): string => (Number.isFinite(p) ? `${p.toFixed(0)}%` : '?');
const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '–');

export function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return n.toFixed(0);
}

function find<K extends ScenarioResult['kind']>(
  runs: readonly RunEntry[],
  scenario: ScenarioName,
  system: SystemName,
  kind: K,
  variant = '',
): Extract<ScenarioResult, { kind: K }> | undefined {
  const r = runs.find((e) => e.scenario === scenario && e.system === system && (e.variant ?? '') === variant)?.result;
  return r?.kind === kind ? (r as Extract<ScenarioResult, { kind: K }>) : undefined;
}

/** The variants a scenario was run in, in the order they ran. */
function variantsOf(runs: readonly RunEntry[], scenario: ScenarioName): string[] {
  return [...new Set(runs.filter((e) => e.scenario === scenario).map((e) => e.variant ?? ''))];
}

/** The store behind each system in the store scenarios. */
const DURABLE_LABEL: Partial<Record<SystemName, string>> = {
  parley: 'parley (native, SQLite)',
  nats: 'nats-server (JetStream, file)',
};

const INGEST_TARGET = 100_000;
const CATCHUP_TARGET = 500_000;

export function computeTargets(runs: readonly RunEntry[]): Target[] {
  const out: Target[] = [];
  for (const [scenario, name] of [
    ['fanout', '(a)'],
    ['pairs', '(b)'],
  ] as const) {
    const p = find(runs, scenario, 'parley', 'throughput');
    const n = find(runs, scenario, 'nats', 'throughput');
    if (p === undefined || n === undefined) continue;
    out.push({
      what: `${name} parley msgs/s >= nats-server`,
      met: p.msgsPerSec >= n.msgsPerSec,
      detail: `${rate(p.msgsPerSec)} vs ${rate(n.msgsPerSec)} (${ratio(p.msgsPerSec, n.msgsPerSec)})`,
    });
    out.push({
      what: `${name} parley p99 <= nats-server`,
      met: p.latency.p99Us <= n.latency.p99Us,
      detail: `${ms(p.latency.p99Us)} ms vs ${ms(n.latency.p99Us)} ms`,
    });
  }
  const idle = find(runs, 'idle', 'parley', 'idle');
  if (idle !== undefined) {
    out.push({
      what: '(c) parley <= 10 KB per idle connection',
      met: idle.bytesPerConnection <= 10_000,
      detail: `${(idle.bytesPerConnection / 1000).toFixed(1)} KB`,
    });
  }
  for (const variant of variantsOf(runs, 'ingest')) {
    const p = find(runs, 'ingest', 'parley', 'throughput', variant);
    if (p === undefined) continue;
    out.push({
      what: `(d) parley durable ingest >= ${rate(INGEST_TARGET)} acked msgs/s (${variant})`,
      met: p.msgsPerSec >= INGEST_TARGET,
      detail: `${rate(p.msgsPerSec)} acked msgs/s, ack p99 ${ms(p.latency.p99Us)} ms`,
    });
  }
  for (const variant of variantsOf(runs, 'catchup')) {
    const p = find(runs, 'catchup', 'parley', 'catchup', variant);
    if (p === undefined) continue;
    out.push({
      what: `(e) parley catch-up >= ${rate(CATCHUP_TARGET)} msgs/s (${variant})`,
      met: p.median.msgsPerSec >= CATCHUP_TARGET,
      detail: `${rate(p.median.msgsPerSec)} msgs/s${p.runs.length > 1 ? ` (median of ${p.runs.length})` : ''}`,
    });
  }
  const nf = find(runs, 'native-fanout', 'parley', 'throughput');
  const mf = find(runs, 'fanout', 'parley', 'throughput');
  if (nf !== undefined) {
    out.push({
      what: '(f) parley native fan-out msgs/s >= Mles-mode fan-out (a)',
      met: mf === undefined ? undefined : nf.msgsPerSec >= mf.msgsPerSec,
      detail:
        mf === undefined
          ? `${rate(nf.msgsPerSec)} (not compared: run (a) too)`
          : `${rate(nf.msgsPerSec)} vs ${rate(mf.msgsPerSec)} (${ratio(nf.msgsPerSec, mf.msgsPerSec)}); p99 ${ms(nf.latency.p99Us)} vs ${ms(mf.latency.p99Us)} ms`,
    });
  }
  return out;
}

function problemNotes(r: { readonly stalls?: number; readonly misrouted?: number; readonly problems: readonly string[] }): string {
  const notes = [
    (r.stalls ?? 0) > 0 ? `${r.stalls} stalls` : '',
    (r.misrouted ?? 0) > 0 ? `${r.misrouted} misrouted` : '',
    r.problems.length > 0 ? `problems: ${r.problems.slice(0, 2).join('; ')}` : '',
  ].filter((x) => x !== '');
  return notes.length > 0 ? ` (${notes.join(', ')})` : '';
}

function failed(e: RunEntry): string {
  return `failed: ${(e.error ?? '?').split('\n')[0]}`;
}

/** A throughput result's per-second rates, warm-up and measured window apart. */
function timeline(r: ThroughputResult): string {
  const t = (r.timeline ?? []).map(rate);
  const w = r.timelineWarmup ?? 0;
  return t.length === 0 ? '' : `${t.slice(0, w).join(' ')} \\| ${t.slice(w).join(' ')}`;
}

function ingestTable(title: string, entries: readonly RunEntry[], systems: readonly SystemName[], machine: Machine): string[] {
  const lines = [
    `### ${title}`,
    '',
    '| publishers, channels | system | acked msgs/s | ack p50 ms | ack p99 ms | server RSS MiB | server CPU | generator CPU | each second (warm-up \\| measured) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const variant of variantsOf(entries, 'ingest')) {
    const results = new Map<SystemName, ThroughputResult>();
    for (const s of systems) {
      const e = entries.find((x) => x.system === s && (x.variant ?? '') === variant);
      if (e === undefined) continue;
      const label = DURABLE_LABEL[s] ?? SYSTEM_LABEL[s];
      const r = e.result;
      if (r?.kind !== 'throughput') {
        lines.push(`| ${variant} | ${label} | ${failed(e)} | | | | | | |`);
        continue;
      }
      results.set(s, r);
      lines.push(
        `| ${variant} | ${label}${problemNotes(r)} | ${rate(r.msgsPerSec)} | ${ms(r.latency.p50Us)} | ${ms(r.latency.p99Us)} | ${mib(r.serverRssKiB)} | ${pct(r.serverCpuPct)} | ${pct(r.generatorCpuPct)} | ${timeline(r)} |`,
      );
    }
    const p = results.get('parley');
    const q = results.get('nats');
    if (p !== undefined && q !== undefined) {
      lines.push(
        `| ${variant} | parley / nats-server | ${ratio(p.msgsPerSec, q.msgsPerSec)} | ${ratio(p.latency.p50Us, q.latency.p50Us)} | ${ratio(p.latency.p99Us, q.latency.p99Us)} | ${ratio(p.serverRssKiB, q.serverRssKiB)} | | | |`,
      );
    }
  }
  lines.push('');
  const measured = new Set(entries.map((e) => e.system));
  lines.push(
    'parley acks a publish once the SQLite transaction holding it has committed and an fdatasync of the ' +
      'write-ahead log after it has returned (group commit: one fdatasync covers every batch committed since ' +
      'the last, and runs while the node goes on reading), with its default retention. ' +
      (measured.has('nats')
        ? 'nats-server 2.9 JetStream acks once the message is written to its file store, without an fsync ' +
          '(it syncs every 2 minutes; 2.9 cannot sync per write), so its acks promise less: they survive a ' +
          'server crash, not an OS crash or power loss. Stream limits as parley\'s defaults (100,000 messages ' +
          'per subject, 30 days); no deduplication (parley dedups by `cid` in memory).'
        : 'No durable peer was measured (nats-server not selected).') +
      ' mosquitto is not measured: its QoS 1 PUBACK does not wait for its periodic persistence.',
  );
  const limit = machine.storeLimit;
  const single = find(entries, 'ingest', 'parley', 'throughput', '1 pub, 1 ch');
  if (limit !== undefined) {
    lines.push(
      '',
      `The limit on this machine (server core): one SQLite INSERT of 256 rows with its COMMIT and fsync (\`synchronous=FULL\`) took ${limit.batchUs} µs, ` +
        `so a writer that waits for each fsync'd commit tops out at ${rate((256 * 1e6) / Math.max(1, limit.batchUs))} msgs/s; ` +
        `parley's store alone (appends of 256 publishes with client ids, group commit, no socket or frame) took in ${rate(limit.storeMsgsPerSec)} msgs/s` +
        (single === undefined ? '.' : `, and the node's acked ingest from one publisher reached ${Math.round((100 * single.msgsPerSec) / Math.max(1, limit.storeMsgsPerSec))}% of that.`),
    );
  }
  return lines;
}

function catchupTable(title: string, entries: readonly RunEntry[], systems: readonly SystemName[]): string[] {
  const lines = [
    `### ${title}`,
    '',
    '| system | store | catch-up msgs/s | catch-up time | first msg after | runs (msgs/s) | server CPU | generator CPU | preload acked msgs/s |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|',
  ];
  const byVariant = new Map<string, Map<SystemName, CatchupResult>>();
  for (const s of systems) {
    for (const e of entries.filter((x) => x.system === s)) {
      const variant = e.variant ?? '';
      const r = e.result;
      if (r?.kind !== 'catchup') {
        lines.push(`| ${SYSTEM_LABEL[s]} | ${variant} | ${failed(e)} | | | | | | |`);
        continue;
      }
      const key = variant.replace('JetStream file', 'durable').replace('SQLite', 'durable');
      if (!byVariant.has(key)) byVariant.set(key, new Map());
      byVariant.get(key)?.set(s, r);
      const m = r.median;
      lines.push(
        `| ${SYSTEM_LABEL[s]}${problemNotes(r)} | ${variant} | ${rate(m.msgsPerSec)} | ${(m.seconds * 1000).toFixed(0)} ms | ${m.firstMs.toFixed(1)} ms | ${r.runs.map((x) => rate(x.msgsPerSec)).join(', ')} | ${pct(m.serverCpuPct)} | ${pct(m.generatorCpuPct)} | ${r.preload === undefined ? '' : rate(r.preload.msgsPerSec)} |`,
      );
    }
  }
  for (const [key, results] of byVariant) {
    const p = results.get('parley');
    const q = results.get('nats');
    if (p === undefined || q === undefined) continue;
    lines.push(`| parley / nats-server | ${key} | ${ratio(p.median.msgsPerSec, q.median.msgsPerSec)} | | | | | | ${ratio(p.preload?.msgsPerSec ?? 0, q.preload?.msgsPerSec ?? 0)} |`);
  }
  lines.push('');
  lines.push(
    'The channel is filled by one acknowledged publisher, then a fresh client subscribes from the start ' +
      '(parley: `sub` with `after: 0`, timed from sending it to the `live` frame; nats-server: an ephemeral ' +
      'push consumer with `deliver_policy: all`, no acks, timed from its creation request to the last message). ' +
      '"restarted": the server was stopped and started again on the same store before each catch-up (a cold ' +
      'process; the OS page cache stays warm). Catch-ups on a warm server are repeated on fresh connections, ' +
      'restarted ones each after a restart of their own; the table shows the median.',
  );
  return lines;
}

function nativeFanoutTable(title: string, report: Report, systems: readonly SystemName[]): string[] {
  const lines = [
    `### ${title}`,
    '',
    '| system | delivered msgs/s | p50 ms | p99 ms | server RSS MiB | server CPU | generator CPU |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const row = (label: string, e: RunEntry | undefined): ThroughputResult | undefined => {
    if (e === undefined) return undefined;
    const r = e.result;
    if (r?.kind !== 'throughput') {
      lines.push(`| ${label} | ${failed(e)} | | | | | |`);
      return undefined;
    }
    lines.push(
      `| ${label}${problemNotes(r)} | ${rate(r.msgsPerSec)} | ${ms(r.latency.p50Us)} | ${ms(r.latency.p99Us)} | ${mib(r.serverRssKiB)} | ${pct(r.serverCpuPct)} | ${pct(r.generatorCpuPct)} |`,
    );
    return r;
  };
  const nat = row('parley, native protocol', report.runs.find((e) => e.scenario === 'native-fanout' && e.system === 'parley'));
  const mles = row('parley, Mles (from a)', report.runs.find((e) => e.scenario === 'fanout' && e.system === 'parley'));
  const peer = systems.includes('nats') ? row('nats-server (from a)', report.runs.find((e) => e.scenario === 'fanout' && e.system === 'nats')) : undefined;
  if (nat !== undefined && mles !== undefined) {
    lines.push(`| native / Mles | ${ratio(nat.msgsPerSec, mles.msgsPerSec)} | ${ratio(nat.latency.p50Us, mles.latency.p50Us)} | ${ratio(nat.latency.p99Us, mles.latency.p99Us)} | ${ratio(nat.serverRssKiB, mles.serverRssKiB)} | | |`);
  }
  if (nat !== undefined && peer !== undefined) {
    lines.push(`| native / nats-server | ${ratio(nat.msgsPerSec, peer.msgsPerSec)} | ${ratio(nat.latency.p50Us, peer.latency.p50Us)} | ${ratio(nat.latency.p99Us, peer.latency.p99Us)} | ${ratio(nat.serverRssKiB, peer.serverRssKiB)} | | |`);
  }
  lines.push(
    '',
    'Same load and server flags as (a) (`--memory --retain-count 1`). Subscribers send `sub` without a cursor ' +
      '(live only); the publisher sends `pub` frames (a CBOR map with a client message id per message) and gets ' +
      'an `ack` for each, which the Mles publisher does not. Each `msg` carries seq, a 32-byte id, ts, uid and ' +
      'origin besides the payload (about 190 bytes against the Mles frame\'s 66); the node sends the messages ' +
      'of one commit to a subscriber in one WebSocket message, and the generator walks each `msg` in it.',
  );
  if (nat !== undefined && mles !== undefined) {
    /** ns of CPU per delivered message, from a CPU share (percent of a core). */
    const ns = (cpuPct: number, r: ThroughputResult): number => ((cpuPct / 100) * 1e9) / r.msgsPerSec;
    const [nodeNative, nodeMles] = [ns(nat.serverCpuPct, nat), ns(mles.serverCpuPct, mles)];
    lines.push(
      '',
      `Server CPU per delivered message: native ${nodeNative.toFixed(0)} ns, Mles ${nodeMles.toFixed(0)} ns ` +
        `(${ratio(nodeNative, nodeMles)}); generator CPU: native ${ns(nat.generatorCpuPct, nat).toFixed(0)} ns, ` +
        `Mles ${ns(mles.generatorCpuPct, mles).toFixed(0)} ns.`,
    );
  }
  return lines;
}

function throughputTable(title: string, entries: readonly RunEntry[], systems: readonly SystemName[]): string[] {
  const lines = [
    `### ${title}`,
    '',
    '| system | delivered msgs/s | p50 ms | p99 ms | server RSS MiB | server CPU | generator CPU |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const results = new Map<SystemName, ThroughputResult>();
  for (const s of systems) {
    const e = entries.find((x) => x.system === s);
    if (e === undefined) continue;
    const r = e.result;
    if (r?.kind !== 'throughput') {
      lines.push(`| ${SYSTEM_LABEL[s]} | failed: ${(e.error ?? '?').split('\n')[0]} | | | | | |`);
      continue;
    }
    results.set(s, r);
    const notes = [
      r.stalls > 0 ? `${r.stalls} stalls` : '',
      r.misrouted > 0 ? `${r.misrouted} misrouted` : '',
      r.problems.length > 0 ? `problems: ${r.problems.slice(0, 2).join('; ')}` : '',
    ].filter((x) => x !== '');
    lines.push(
      `| ${SYSTEM_LABEL[s]}${notes.length > 0 ? ` (${notes.join(', ')})` : ''} | ${rate(r.msgsPerSec)} | ${ms(r.latency.p50Us)} | ${ms(r.latency.p99Us)} | ${mib(r.serverRssKiB)} | ${pct(r.serverCpuPct)} | ${pct(r.generatorCpuPct)} |`,
    );
  }
  const p = results.get('parley');
  for (const peer of ['nats', 'mosquitto'] as const) {
    const q = results.get(peer);
    if (p === undefined || q === undefined) continue;
    lines.push(
      `| parley / ${SYSTEM_LABEL[peer]} | ${ratio(p.msgsPerSec, q.msgsPerSec)} | ${ratio(p.latency.p50Us, q.latency.p50Us)} | ${ratio(p.latency.p99Us, q.latency.p99Us)} | ${ratio(p.serverRssKiB, q.serverRssKiB)} | | |`,
    );
  }
  return lines;
}

function idleTable(title: string, entries: readonly RunEntry[], systems: readonly SystemName[]): string[] {
  const lines = [
    `### ${title}`,
    '',
    '| system | KB per connection | RSS before MiB | RSS after MiB | time to join all |',
    '|---|---:|---:|---:|---:|',
  ];
  const results = new Map<SystemName, IdleResult>();
  for (const s of systems) {
    const e = entries.find((x) => x.system === s);
    if (e === undefined) continue;
    const r = e.result;
    if (r?.kind !== 'idle') {
      lines.push(`| ${SYSTEM_LABEL[s]} | failed: ${(e.error ?? '?').split('\n')[0]} | | | |`);
      continue;
    }
    results.set(s, r);
    lines.push(
      `| ${SYSTEM_LABEL[s]} | ${(r.bytesPerConnection / 1000).toFixed(1)} | ${mib(r.rssBeforeKiB)} | ${mib(r.rssAfterKiB)} | ${r.connectSeconds.toFixed(1)} s |`,
    );
  }
  const p = results.get('parley');
  for (const peer of ['nats', 'mosquitto'] as const) {
    const q = results.get(peer);
    if (p === undefined || q === undefined) continue;
    lines.push(`| parley / ${SYSTEM_LABEL[peer]} | ${ratio(p.bytesPerConnection, q.bytesPerConnection)} | | | |`);
  }
  return lines;
}

export function markdown(report: Report, systems: readonly SystemName[]): string {
  const m = report.machine;
  const versions = systems.map((s) => m.versions[s] ?? s).join(', ');
  const lines = [
    `Measured ${report.date.slice(0, 10)} with \`npm run bench\`${report.settings.quick ? ' (--quick)' : ''}: ` +
      `${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, node ${m.node}; ${versions}. ` +
      `${m.pinned}. Loopback, 64-byte messages, ${report.settings.warmupMs / 1000} s warm-up + ` +
      `${report.settings.measureMs / 1000} s measured. Latency is send-to-receipt at the generator, ` +
      'so with many messages in flight it is mostly queueing (in flight / throughput).' +
      (m.storage === undefined ? '' : ` Stores on ${m.storage}.`),
    '',
  ];
  const scenarios = [...new Set(report.runs.map((r) => r.scenario))];
  for (const sc of scenarios) {
    const entries = report.runs.filter((r) => r.scenario === sc);
    const title = entries[0]?.title ?? sc;
    const table =
      sc === 'idle'
        ? idleTable(title, entries, systems)
        : sc === 'ingest'
          ? ingestTable(title, entries, systems, m)
          : sc === 'catchup'
            ? catchupTable(title, entries, systems)
            : sc === 'native-fanout'
              ? nativeFanoutTable(title, report, systems)
              : throughputTable(title, entries, systems);
    lines.push(...table, '');
  }
  if (report.targets.length > 0) {
    lines.push('Targets:', '');
    for (const t of report.targets) {
      lines.push(`- [${t.met === true ? 'x' : ' '}] ${t.what}: ${t.detail}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
