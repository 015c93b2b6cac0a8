// The report on stdout: a line naming the date, the command and the machine, the table
// of figures, the list of checks, and (when a check failed) each channel's counts; then
// what the nodes logged at warn level and above.

import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import { cpuModel } from '../proc.ts';
import type { Check, Verdict } from './checks.ts';
import { mib } from './common.ts';
import type { Load } from './load.ts';
import type { NodeA } from './node-a.ts';
import { summarize, warnings } from './node-log.ts';
import type { ScheduleOutcome } from './schedule.ts';
import { TMPFS_MIB } from './shape.ts';

export interface Figures {
  readonly durationMs: number;
  /** From the start of the load to the last acks. */
  readonly loadMs: number;
  /** From starting the nodes to the report. */
  readonly totalMs: number;
  readonly seed: number;
  /** Whether the run was told to leave out the full disk (--no-disk-full). */
  readonly noDiskFull: boolean;
  readonly schedule: ScheduleOutcome;
  readonly finalKiB: number;
  readonly verdict: Verdict;
  /** The verdict's checks and the later ones. */
  readonly checks: readonly Check[];
  readonly a: NodeA;
  readonly b: NetworkNode;
  readonly load: Load;
}

export function reportMarkdown(f: Figures): string {
  const { durationMs, seed, schedule, finalKiB, verdict, checks, a, b, load } = f;
  const { downtimes, baselineKiB, full } = schedule;
  const rows: Array<[string, string]> = [
    ['load', `${(durationMs / 1000).toFixed(0)} s (${(f.loadMs / 1000).toFixed(0)} s with the last acks; ${(f.totalMs / 1000).toFixed(0)} s in all)`],
    ['seed', String(seed)],
    ...verdict.rows.map(([k, v]): [string, string] => (k.startsWith('publishes refused while') && full === undefined ? [k, 'no disk-full phase'] : [k, v])),
  ];
  if (full !== undefined) {
    // Next to the refusals.
    rows.splice(rows.findIndex(([k]) => k === 'publishes refused otherwise') + 1, 0, [
      'disk full',
      `${mib(full.ballastBytes / 1024)} MiB ballast on the ${TMPFS_MIB} MiB tmpfs, held ${(full.heldMs / 1000).toFixed(1)} s, ` +
        `first refusal after ${(full.firstRefusalMs / 1000).toFixed(1)} s, ${full.warnings} warnings and errors logged`,
    ], ['stored again after the ballast went', full.recovered ? `${full.recoveryMs.toFixed(0)} ms` : 'not within 30 s']);
  }
  const meanDown = downtimes.length === 0 ? '-' : `${(downtimes.reduce((x, y) => x + y, 0) / downtimes.length / 1000).toFixed(1)} s`;
  rows.push(
    ['restarts of A', `${a.terms + a.kills} (${a.terms} SIGTERM, ${a.kills} SIGKILL), down ${meanDown} on average`],
    ['client reconnects (native publishers, subscriber on A)', `${load.publishers.reduce((n, p) => n + p.connections - 1, 0)}, ${load.followA.connections - 1}`],
    ['A RSS baseline / peak / final', `${mib(baselineKiB)} / ${mib(a.peakKiB)} / ${mib(finalKiB)} MiB`],
  );
  const machine = `${cpuModel()}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim() || '?'} cores (\`nproc\`), Linux ${release()}, node ${process.version}`;
  const failed = checks.filter((c) => !c.ok);
  const flags = `${durationMs === 180_000 ? '' : ` --duration ${durationMs}`}${f.noDiskFull ? ' --no-disk-full' : ''}`;
  let out = `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- soak${flags}\` (seed ${seed}): ${machine}.\n\n`;
  out += `| figure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n\n`;
  out += `Checks:\n\n${checks.map((c) => `- [${c.ok ? 'x' : ' '}] ${c.name}${c.detail === '' ? '' : ` (${c.detail})`}`).join('\n')}\n`;
  if (failed.length > 0) out += `\nChannels (stored, newest seq stored, the node's counter):\n\n${verdict.counters.map((c) => `- ${c}`).join('\n')}\n`;
  for (const [name, lines] of [
    ['A', [...a.logged, ...warnings(a.net.process)]],
    ['B', warnings(b.process)],
  ] as const) {
    if (lines.length > 0) out += `\n${name} logged (warn and above):\n\n${summarize(lines).map((l) => `- ${l}`).join('\n')}\n`;
  }
  return out;
}
