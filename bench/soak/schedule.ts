// The schedule: restarts of A at seeded random times, the baseline RSS once the last of
// them has warmed up, then the full disk (a ballast file until publishes are refused,
// then freed, and a new publish must be acked).

import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Random } from '../../test/helpers/random.ts';
import { rssKiB } from '../proc.ts';
import { log, mib } from './common.ts';
import { fillDisk, freeBytes, type DiskState, type Scratch } from './disk.ts';
import { refusedWhileFull, type Load } from './load.ts';
import type { NodeA } from './node-a.ts';
import { warnings } from './node-log.ts';

export interface Plan {
  readonly restarts: ReadonlyArray<{ readonly atMs: number; readonly signal: 'SIGTERM' | 'SIGKILL' }>;
  /** Load on A's last process before its baseline RSS is read. */
  readonly warmMs: number;
  readonly diskFullAtMs: number;
  /** The ballast stays at least this long once publishes are refused, at most the max. */
  readonly holdMinMs: number;
  readonly holdMaxMs: number;
}

/**
 * Restarts in the first part of the run (one per 30 s, at least 2, as many SIGTERM as
 * SIGKILL, one at a random time in each slot), then the baseline, then the full disk,
 * then the rest of the load on the same process, so that its RSS can be compared.
 */
export function makePlan(rng: Random, durationMs: number): Plan {
  const count = Math.max(2, Math.round(durationMs / 30_000));
  const from = 0.08 * durationMs;
  const slot = (0.37 * durationMs) / count;
  const signals: Array<'SIGTERM' | 'SIGKILL'> = [];
  for (let i = 0; i < count; i++) signals.push(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
  for (let i = signals.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [signals[i], signals[j]] = [signals[j]!, signals[i]!];
  }
  const restarts = signals.map((signal, i) => ({ atMs: Math.round(from + slot * i + slot * (0.1 + 0.8 * rng.next())), signal }));
  return {
    restarts,
    warmMs: Math.min(10_000, Math.max(3000, 0.06 * durationMs)),
    diskFullAtMs: Math.round(durationMs * (0.55 + 0.1 * rng.next())),
    holdMinMs: Math.min(5000, 0.1 * durationMs),
    holdMaxMs: Math.min(20_000, 0.2 * durationMs),
  };
}

export interface DiskFigures {
  readonly ballastBytes: number;
  readonly heldMs: number;
  readonly firstRefusalMs: number;
  /** Lines A logged at warn level or above while the disk was full. */
  readonly warnings: number;
  readonly recovered: boolean;
  /** From removing the ballast to the ack of a new publish. */
  readonly recoveryMs: number;
}

/**
 * Fills A's disk with a ballast file; keeps it until publishes have been refused for a
 * while (or long enough that they should have been); removes it and waits until A acks
 * a new publish.
 */
async function diskFullPhase(a: NodeA, scratch: Scratch, plan: Plan, disk: DiskState, load: Load, stamp: () => string): Promise<DiskFigures> {
  const ballast = join(scratch.dir, 'ballast');
  const before = refusedWhileFull(load);
  const warningsBefore = warnings(a.net.process).length;
  const since = performance.now();
  disk.fullSince = since;
  const ballastBytes = fillDisk(ballast);
  log(`${stamp()} disk filled: ${mib(ballastBytes / 1024)} MiB of ballast, ${freeBytes(scratch.dir)} bytes free`);
  let firstRefusalMs = Number.NaN;
  for (;;) {
    const held = performance.now() - since;
    const refused = refusedWhileFull(load) > before;
    if (refused && Number.isNaN(firstRefusalMs)) firstRefusalMs = held;
    if ((refused && held >= plan.holdMinMs) || held >= plan.holdMaxMs) break;
    await sleep(100);
  }
  const heldMs = performance.now() - since;
  const logged = warnings(a.net.process).length - warningsBefore;
  unlinkSync(ballast);
  const freed = performance.now();
  log(`${stamp()} ballast removed after ${(heldMs / 1000).toFixed(1)} s; ${refusedWhileFull(load) - before} refusals`);
  const cid = load.probe.publishOne();
  while (!load.probe.acked.has(cid) && performance.now() - freed < 30_000) await sleep(50);
  const recovered = load.probe.acked.has(cid);
  const recoveryMs = performance.now() - freed;
  disk.recoveredAt = performance.now();
  log(`${stamp()} ${recovered ? `A stores again (${recoveryMs.toFixed(0)} ms after the ballast went)` : 'A did not store a publish within 30 s of the ballast going'}`);
  return { ballastBytes, heldMs, firstRefusalMs, warnings: logged, recovered, recoveryMs };
}

/** What the schedule did, for the checks and the report. */
export interface ScheduleOutcome {
  /** How long A was down at each restart. */
  readonly downtimes: readonly number[];
  readonly baselineKiB: number;
  /** Left out without a tmpfs of A's own. */
  readonly full: DiskFigures | undefined;
}

/** Runs the plan against A from `started` on: the restarts, the baseline, the full disk. */
export async function runSchedule(a: NodeA, scratch: Scratch, plan: Plan, disk: DiskState, load: Load, started: number, stamp: () => string): Promise<ScheduleOutcome> {
  const downtimes: number[] = [];
  for (const r of plan.restarts) {
    await sleep(Math.max(0, started + r.atMs - performance.now()));
    log(`${stamp()} ${r.signal} to A`);
    downtimes.push(await a.restart(r.signal));
  }
  await sleep(plan.warmMs);
  const baselineKiB = rssKiB(a.pid ?? 0);
  log(`${stamp()} A's baseline RSS ${mib(baselineKiB)} MiB`);
  if (!scratch.mounted) return { downtimes, baselineKiB, full: undefined };
  await sleep(Math.max(0, started + plan.diskFullAtMs - performance.now()));
  const full = await diskFullPhase(a, scratch, plan, disk, load, stamp);
  return { downtimes, baselineKiB, full };
}
