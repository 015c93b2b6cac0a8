// `npm run bench -- soak`: a soak run of two real nodes under mixed load for a few minutes.
//
// Node A keeps its store on a small tmpfs of its own; node B, on a normal directory, is
// peered with A. Against A: Mles clients that join (and get the history replayed),
// publish and leave; native publishers that count every ack; HTTP page reads, forward
// and back; a native subscriber that resumes from its cursor after every restart. On B:
// a native subscriber to some of the channels (fed through the peer link) and a slow
// native publisher (whose messages A must store as replicas). A is restarted at seeded
// random times, by SIGTERM and by SIGKILL, and later its disk is filled with a ballast
// file until its commits fail, then freed again.
//
// At the end it checks that every acked message is still stored where it was acked, at
// its seq, once; that every channel's seqs run 1..n without a gap, on both nodes; that B
// holds what A holds for the channels B follows; that no client was ever handed a
// message the store does not hold, and every client saw one order; that A recovered from
// the full disk; and that A's RSS, idle after the load, is back near its baseline.
// Figures go to stdout as a markdown table, progress to stderr; the exit status is 1 when
// a check failed.
//
// This file is the entry: it reads the options, sets up the disk and the two nodes,
// hands them to the run (soak.ts), and takes everything down again however the run ends.
// The parts: options.ts (flags), shape.ts (rates and limits), disk.ts (tmpfs and
// ballast), node-a.ts and node-log.ts (A's restarts, the nodes' logs), load.ts with
// publisher.ts, follower.ts (both on reconnecting-client.ts), mles-user.ts and
// http-reader.ts (the clients), schedule.ts (restarts, baseline, full disk), checks.ts
// and reads.ts (the checks at the end), report.ts (the markdown).
//
//   npm run bench -- soak [--quick] [--duration MS] [--seed N] [--no-disk-full]

import { rmSync } from 'node:fs';
import { startNetworkNode, type NetworkNode } from '../../test/helpers/peer-network.ts';
import { Random } from '../../test/helpers/random.ts';
import { log } from './common.ts';
import { dropScratch, makeScratch } from './disk.ts';
import { NodeA } from './node-a.ts';
import { parseSoakOptions } from './options.ts';
import { waitForLink } from './reads.ts';
import { makePlan } from './schedule.ts';
import { TMPFS_MIB } from './shape.ts';
import { soak } from './soak.ts';

/** Runs the soak; resolves with the exit status. */
export async function runSoak(args: readonly string[]): Promise<number> {
  const options = parseSoakOptions(args);
  if (options === undefined) return 0;
  const { durationMs, seed } = options;
  log(`soak: ${(durationMs / 1000).toFixed(0)} s of load, seed ${seed} (replay with --seed ${seed})`);
  const plan = makePlan(new Random(seed), durationMs);

  const scratch = makeScratch(options.diskFull);
  if (scratch.mounted) log(`A's data directory is a ${TMPFS_MIB} MiB tmpfs`);
  else log(`${scratch.why}; A's store goes on the normal disk and the disk-full phase is left out`);

  let a: NodeA | undefined;
  let b: NetworkNode | undefined;
  // Whatever way this ends (signals and a crash of this process included), the nodes go
  // and the tmpfs is unmounted.
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    a?.net.process.child.kill('SIGKILL');
    b?.process.child.kill('SIGKILL');
    dropScratch(scratch);
    if (b !== undefined) rmSync(b.process.dataDir, { recursive: true, force: true });
  };
  const emergency = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping the nodes and removing the scratch disk`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', emergency);
  process.once('SIGTERM', emergency);
  process.once('SIGHUP', emergency);
  process.once('exit', cleanup);
  const wall = performance.now();
  try {
    a = new NodeA(await startNetworkNode('A', { args: ['--data', scratch.dir] }));
    b = await startNetworkNode('B', { peers: [a.net.wsUrl] });
    await waitForLink(b);
    log(`A (pid ${a.pid}) at ${a.net.wsUrl}, B at ${b.wsUrl}, linked`);
    return await soak(a, b, scratch, plan, durationMs, seed, wall);
  } finally {
    await a?.stop().catch(() => undefined);
    await b?.stop('SIGTERM').catch(() => undefined);
    cleanup();
    process.off('SIGINT', emergency);
    process.off('SIGTERM', emergency);
    process.off('SIGHUP', emergency);
    process.off('exit', cleanup);
  }
}
