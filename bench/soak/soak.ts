// The run itself, once both nodes are up: the load and the schedule for the given time,
// the last acks, the idle wait, then the checks and the report; A's RSS sampled and a
// progress line on stderr meanwhile.

import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import { rssKiB } from '../proc.ts';
import { diskAndMemoryChecks, verify } from './checks.ts';
import { log, mib } from './common.ts';
import { DiskState, type Scratch } from './disk.ts';
import { ackedCount, mlesSent, refusedWhileFull, startLoad } from './load.ts';
import type { NodeA } from './node-a.ts';
import { reportMarkdown } from './report.ts';
import { runSchedule, type Plan } from './schedule.ts';
import { DRAIN_MS, SETTLE_MS } from './shape.ts';

/** Runs the load and the plan against A and B, prints the report; resolves with the exit status. */
export async function soak(a: NodeA, b: NetworkNode, scratch: Scratch, plan: Plan, durationMs: number, seed: number, wall: number): Promise<number> {
  const disk = new DiskState();
  const started = performance.now();
  const stamp = (): string => `[${((performance.now() - started) / 1000).toFixed(0)} s]`;
  const load = startLoad(a, b, seed, disk);

  // RSS of A, sampled twice a second.
  let rssNow = Number.NaN;
  const rssTimer = setInterval(() => {
    const pid = a.pid;
    if (pid === undefined) return;
    rssNow = rssKiB(pid);
    if (rssNow > a.peakKiB) a.peakKiB = rssNow;
  }, 500);
  const status = setInterval(() => {
    const pending = load.allPublishers.reduce((n, p) => n + p.pending.size, 0);
    log(
      `${stamp()} acked ${ackedCount(load)}, unacked ${pending}, refused ${refusedWhileFull(load)}, ` +
        `mles sent ${mlesSent(load)}, http ${load.http.ok}, ` +
        `A ${a.up ? `RSS ${mib(rssNow)} MiB` : 'down'}${disk.isFull() ? ', disk full' : ''}`,
    );
  }, 10_000);

  const chaos = runSchedule(a, scratch, plan, disk, load, started, stamp);
  chaos.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile

  await sleep(durationMs);
  const schedule = await chaos;
  log(`${stamp()} load stops; waiting for the last acks`);
  for (const p of load.allPublishers) p.producing = false;
  for (const m of load.mles) m.quiet = true;
  await load.http.stop();
  await Promise.all(load.allPublishers.map((p) => p.drain(DRAIN_MS)));
  const loadMs = performance.now() - started;
  await sleep(SETTLE_MS);
  const finalKiB = rssKiB(a.pid ?? 0);
  clearInterval(rssTimer);
  clearInterval(status);
  log(`${stamp()} after ${SETTLE_MS / 1000} s idle A's RSS is ${mib(finalKiB)} MiB; checking the stores`);

  const verdict = await verify(a, b, load);
  const checks = [...verdict.checks, ...diskAndMemoryChecks(load, schedule.full, schedule.baselineKiB, finalKiB)];
  const totalMs = performance.now() - wall;
  process.stdout.write(
    reportMarkdown({ durationMs, loadMs, totalMs, seed, noDiskFull: scratch.why === '--no-disk-full', schedule, finalKiB, verdict, checks, a, b, load }),
  );
  const failed = checks.filter((c) => !c.ok);
  log(failed.length === 0 ? '\nsoak: every check passed' : `\nsoak: ${failed.length} check(s) failed (seed ${seed})`);

  await Promise.all([...load.allPublishers, ...load.mles, load.followA, load.followB].map((x) => x.stop()));
  return failed.length === 0 ? 0 : 1;
}
