// Turns the results into the JSON record and the markdown tables (one per scenario, with
// parley's ratios to each peer and a check against the performance targets).

import type { IdleResult, ScenarioName, ScenarioResult, ThroughputResult } from './scenarios.ts';
import type { SystemName } from './systems.ts';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly kernel: string;
  readonly versions: Partial<Record<SystemName, string>>;
  readonly pinned: string;
}

export interface RunEntry {
  readonly scenario: ScenarioName;
  readonly title: string;
  readonly system: SystemName;
  readonly result?: ScenarioResult;
  readonly error?: string;
}

export interface Report {
  readonly date: string;
  readonly machine: Machine;
  readonly settings: { readonly warmupMs: number; readonly measureMs: number; readonly quick: boolean };
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
): Extract<ScenarioResult, { kind: K }> | undefined {
  const r = runs.find((e) => e.scenario === scenario && e.system === system)?.result;
  return r?.kind === kind ? (r as Extract<ScenarioResult, { kind: K }>) : undefined;
}

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
  return out;
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
      'so with many messages in flight it is mostly queueing (in flight / throughput).',
    '',
  ];
  const scenarios = [...new Set(report.runs.map((r) => r.scenario))];
  for (const sc of scenarios) {
    const entries = report.runs.filter((r) => r.scenario === sc);
    const title = entries[0]?.title ?? sc;
    lines.push(...(sc === 'idle' ? idleTable(title, entries, systems) : throughputTable(title, entries, systems)), '');
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
