// (g) encrypted groups over two peered nodes: the time from an `add` to every member
// applying it. The group's members are split between node A (where the group was made:
// A orders its commits) and node B; one more user, on B, is added. Each member is a
// GroupClient in this process, watching the group live, so a commit's processing by all
// members shares this process's core: "every member" is the last of them, the time a
// real member (on its own device) sees is nearer the median.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupClient } from '../src/group/index.ts';
import { linksUp } from './peering.ts';
import { startSystem, type RunningSystem, type SystemOptions } from './systems.ts';

const PEER_ENV = { PEER_KEY: 'bench-peer-key' };

export interface GroupRun {
  readonly members: number;
  /** The adder's `add`: built, ordered, applied, Welcome sent. */
  readonly addMs: number;
  readonly firstMs: number;
  readonly medianMs: number;
  /** Every member has applied it. */
  readonly allMs: number;
  /** The new member has joined from its Welcome. */
  readonly joinedMs: number;
  readonly error?: string;
}

export interface GroupBenchDeps {
  readonly systemOpts: SystemOptions;
  readonly sizes: readonly number[];
  readonly log: (text: string) => void;
}

async function open(node: RunningSystem, uid: string, dir: string): Promise<GroupClient> {
  const client = await GroupClient.open({ url: `ws://${node.host}:${node.port}/`, uid, dataDir: join(dir, uid), orderWaitMs: 30_000 });
  await client.init();
  return client;
}

/** A step that does not finish within a minute fails the run instead of hanging it. */
function deadline<T>(step: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within 60 s`)), 60_000);
  });
  return Promise.race([step, late]).finally(() => clearTimeout(timer));
}

async function measure(a: RunningSystem, b: RunningSystem, size: number, dir: string): Promise<GroupRun> {
  const members: GroupClient[] = [];
  try {
    for (let i = 0; i < size; i++) members.push(await open(i % 2 === 0 ? a : b, `m${i}`, dir));
    const creator = members[0]!;
    const group = `bench-${size}`;
    await creator.create(group);
    // In steps, as people would be added: one commit adding 99 makes one huge Welcome.
    const others = members.slice(1).map((m) => m.uid);
    for (let i = 0; i < others.length; i += 25) await creator.add(group, others.slice(i, i + 25));
    await Promise.all(members.slice(1).map((m) => m.sync()));
    const newcomer = await open(b, 'newcomer', dir);
    members.push(newcomer);
    const existing = members.slice(0, size);
    const applied: number[] = [];
    let start = 0;
    const all = Promise.all(
      existing.map(
        (m) =>
          new Promise<void>((resolve) => {
            m.on('membership', (e) => {
              if (e.group === group && e.added.some((x) => x.uid === 'newcomer')) {
                applied.push(performance.now() - start);
                resolve();
              }
            });
          }),
      ),
    );
    const joined = new Promise<number>((resolve) => newcomer.on('joined', () => resolve(performance.now() - start)));
    const stops = [...existing.map((m) => m.watch(group)), newcomer.watch()];
    // The adder is on B, so its commit crosses the link to the ordering node and back.
    const adder = members[1]!;
    start = performance.now();
    await adder.add(group, ['newcomer']);
    const addMs = performance.now() - start;
    await deadline(all, 'every member applying the add');
    const joinedMs = await deadline(joined, 'the new member joining');
    for (const stop of stops) stop();
    applied.sort((x, y) => x - y);
    return { members: size, addMs, firstMs: applied[0]!, medianMs: applied[Math.floor(applied.length / 2)]!, allMs: applied.at(-1)!, joinedMs };
  } finally {
    await Promise.all(members.map((m) => m.close()));
  }
}

export async function runGroupBench(deps: GroupBenchDeps): Promise<GroupRun[]> {
  const runs: GroupRun[] = [];
  for (const size of deps.sizes) {
    const a = await startSystem('parley', deps.systemOpts, { mode: 'memory', env: PEER_ENV });
    const b = await startSystem('parley', deps.systemOpts, { mode: 'memory', env: PEER_ENV, extraArgs: ['--peer', `ws://${a.host}:${a.port}/`] });
    const dir = mkdtempSync(join(tmpdir(), 'parley-bench-groups-'));
    try {
      await linksUp(b, 1);
      deps.log(`  ${size} members over two nodes...`);
      const run = await measure(a, b, size, dir);
      deps.log(`  ${size} members: add ${run.addMs.toFixed(0)} ms, every member ${run.allMs.toFixed(0)} ms`);
      runs.push(run);
    } catch (error) {
      runs.push({ members: size, addMs: NaN, firstMs: NaN, medianMs: NaN, allMs: NaN, joinedMs: NaN, error: (error as Error).message });
    } finally {
      await a.stop();
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return runs;
}

export function groupMarkdown(runs: readonly GroupRun[]): string {
  const ms = (v: number): string => (Number.isNaN(v) ? '-' : v.toFixed(0));
  const rows = runs.map((r) =>
    r.error !== undefined ? `| ${r.members} | failed: ${r.error} | | | | | |` : `| ${r.members} | ${ms(r.addMs)} | ${ms(r.firstMs)} | ${ms(r.medianMs)} | ${ms(r.allMs)} | ${ms(r.joinedMs)} |`,
  );
  return [
    '### (g) encrypted groups: from `add` to every member applying it, members split over two peered nodes',
    '',
    'The adder is on node B; node A orders the group. All members run in the benchmark process, so their',
    'processing of the commit is serial on one core: "every member" is the last of them; a member on its own',
    'device sees about the median. Goal: under 1 s for 100 members.',
    '',
    '| members | add returns ms | first member ms | median member ms | every member ms | new member joined ms |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}
