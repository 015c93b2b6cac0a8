// (g) encrypted groups over two peered nodes: the time from an `add` to members applying
// it. The group's members are split between node A (where the group was made: A orders
// its commits) and node B; a member on B adds one more user, on B. Every member is a
// GroupClient in this process: two of them (one per node) watch live and are timed as a
// member on its own device would be; then all the others sync at once, which measures
// how long this process takes to do every member's MLS work one after another.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupClient } from '../src/group/index.ts';
import { linksUp } from './peering.ts';
import { startSystem, type RunningSystem, type SystemOptions } from './systems.ts';

const PEER_ENV = { PEER_KEY: 'bench-peer-key' };

export interface GroupRun {
  readonly members: number;
  /** The adder's `add`: built, ordered, applied. */
  readonly addMs: number;
  /** A member on the ordering node's node, and one on the other node, each alone on the CPU. */
  readonly onAMs: number;
  readonly onBMs: number;
  /** The new member has joined from its Welcome. */
  readonly joinedMs: number;
  /** Every other member, all then syncing at once in this one process. */
  readonly allMs: number;
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

/** When `client` applies a commit that adds `uid` to `group`, ms after `start()`. */
function appliedAdd(client: GroupClient, group: string, uid: string, clock: () => number): Promise<number> {
  return new Promise((resolve) => {
    client.on('membership', (e) => {
      if (e.group === group && e.added.some((m) => m.uid === uid)) resolve(clock());
    });
  });
}

async function measure(a: RunningSystem, b: RunningSystem, size: number, dir: string): Promise<GroupRun> {
  const members: GroupClient[] = [];
  try {
    // Even indexes on A, odd on B; m0 makes the group on A, so A orders it.
    for (let i = 0; i < size; i++) members.push(await open(i % 2 === 0 ? a : b, `m${i}`, dir));
    const group = `bench-${size}`;
    await members[0]!.create(group);
    // In steps, as people would be added: one commit adding 99 makes one huge Welcome.
    const others = members.slice(1).map((m) => m.uid);
    for (let i = 0; i < others.length; i += 25) await members[0]!.add(group, others.slice(i, i + 25));
    await Promise.all(members.slice(1).map((m) => m.sync()));
    const newcomer = await open(b, 'newcomer', dir);
    members.push(newcomer);
    let start = 0;
    const clock = (): number => performance.now() - start;
    // Two members watch live, one on each node, so each applies the commit as a member on
    // its own device would: nothing else in this process is busy meanwhile.
    const [onA, onB] = [members[2]!, members[3]!];
    const observed = Promise.all([appliedAdd(onA, group, 'newcomer', clock), appliedAdd(onB, group, 'newcomer', clock)]);
    const joined = new Promise<number>((resolve) => newcomer.on('joined', () => resolve(clock())));
    const stops = [onA.watch(group), onB.watch(group), newcomer.watch()];
    // The adder is on B, so its commit crosses the link to the ordering node and back.
    const adder = members[1]!;
    start = performance.now();
    await adder.add(group, ['newcomer']);
    const addMs = clock();
    const [onAMs, onBMs] = await deadline(observed, 'observer applying the add');
    const joinedMs = await deadline(joined, 'the new member joining');
    for (const stop of stops) stop();
    // The rest catch up now, all at once: their processing shares this process's core.
    const rest = members.slice(0, size).filter((m) => m !== adder && m !== onA && m !== onB);
    start = performance.now();
    await deadline(Promise.all(rest.map((m) => m.sync(group))), 'every member applying the add');
    const allMs = clock();
    return { members: size, addMs, onAMs, onBMs, joinedMs, allMs };
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
      deps.log(`  ${size} members: add ${run.addMs.toFixed(0)} ms, a member on A ${run.onAMs.toFixed(0)} ms, on B ${run.onBMs.toFixed(0)} ms`);
      runs.push(run);
    } catch (error) {
      runs.push({ members: size, addMs: NaN, onAMs: NaN, onBMs: NaN, joinedMs: NaN, allMs: NaN, error: (error as Error).message });
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
    r.error !== undefined
      ? `| ${r.members} | failed: ${r.error} | | | | |`
      : `| ${r.members} | ${ms(r.addMs)} | ${ms(r.onAMs)} | ${ms(r.onBMs)} | ${ms(r.joinedMs)} | ${ms(r.allMs)} |`,
  );
  return [
    '### (g) encrypted groups: from `add` to members applying it, members split over two peered nodes',
    '',
    'Node A orders the group; the adder is on node B, so its commit goes to A and back. "On A" and "on B" are',
    'members watching live, one on each node, each alone on the CPU as on its own device (goal: under 1 s at',
    '100 members). The last column is the other members syncing at once in this one process after that: their',
    'MLS processing is serial here, so it measures this machine\'s CPU, not the network.',
    '',
    '| members | add returns ms | a member on A applied ms | a member on B applied ms | new member joined ms | all others, one process, ms |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}
