// (h) peering: what a peer link costs. Latency at moderate load (10 subscribers, 8
// messages in flight) on one node, through one hop (publisher on A, subscribers on B)
// and through two (A-B-C); and fan-out throughput through one link against one node,
// with the subscribers of (a). Mles-mode clients, relay stores. All servers share the
// server core, so a link's ratio includes the second node's work.
//
// The throughput rows keep 1024 messages in flight (or --window, if larger), for the
// one node and the link alike: with (a)'s 256, the link's extra round trip through a
// second process made the window, not the nodes, set the rate (measured: 50% of one
// node at 256, 86% at 1024 in the same run), and the question is what a link carries.

import { rate } from './report.ts';
import type { Job, ScenarioResult } from './scenarios.ts';
import type { RunningSystem, SystemOptions } from './systems.ts';
import { startSystem } from './systems.ts';

/** How the nodes of a chain are linked: WebSocket peering, or gossip in the peer-to-peer mode. */
export type Transport = 'ws' | 'gossip';

export interface PeeringRun {
  readonly transport: Transport;
  readonly setup: string;
  readonly kind: 'latency' | 'throughput' | 'line';
  readonly hops: number;
  readonly result?: ScenarioResult;
  readonly error?: string;
}

export interface PeeringBenchDeps {
  readonly systemOpts: SystemOptions;
  readonly fanoutSubs: number;
  readonly fanoutWindow: number;
  /** Warm-up of each shape (see PEERING_WARMUP_MS). */
  readonly warmupMs: number;
  /** Only the shapes of these kinds (latency, throughput, line); all when empty. */
  readonly kinds?: readonly string[];
  readonly log: (text: string) => void;
  readonly jobFor: (running: RunningSystem, label: string, fields: Pick<Job, 'scenario' | 'protocol' | 'clients' | 'window'> & Partial<Job>) => Job;
  readonly generate: (job: Job, running: RunningSystem) => Promise<ScenarioResult>;
}

const PEER_ENV = { PEER_KEY: 'bench-peer-key' };
const LATENCY_CLIENTS = 10;
const LATENCY_WINDOW = 8;
const THROUGHPUT_WINDOW = 1024;
/** Least warm-up of a peering shape outside --quick: libp2p's stack needs about 200k messages to reach its steady rate. */
export const PEERING_WARMUP_MS = 10_000;

/** Waits until a node's /metrics shows as many peer links up as expected. */
export async function linksUp(node: RunningSystem, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await (await fetch(`http://${node.host}:${node.port}/metrics`)).text();
    const up = text.split('\n').filter((l) => l.startsWith('parley_peer_up{') && l.endsWith(' 1')).length;
    if (up >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${up}/${count} peer links up on port ${node.port}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // a metrics poll has no event to await
  }
}

interface NodeAnswer {
  readonly addrs: string[];
  readonly peers: unknown[];
}

async function nodeInfo(node: RunningSystem): Promise<NodeAnswer> {
  return (await (await fetch(`http://${node.host}:${node.port}/v1/node`)).json()) as NodeAnswer;
}

/** Waits until a p2p node is connected to as many peers as expected. */
async function p2pPeersUp(node: RunningSystem, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { peers } = await nodeInfo(node);
    if (peers.length >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${peers.length}/${count} p2p peers on port ${node.port}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // a status poll has no event to await
  }
}

/** Starts a chain of `length` nodes, each linked to the one before (it dials it, or bootstraps from it). */
async function startChain(deps: PeeringBenchDeps, length: number, transport: Transport): Promise<RunningSystem[]> {
  const chain: RunningSystem[] = [];
  try {
    for (let i = 0; i < length; i++) {
      const before = chain[i - 1];
      let link: string[] = [];
      if (transport === 'ws') link = before === undefined ? [] : ['--peer', `ws://${before.host}:${before.port}/`];
      else {
        link = ['--p2p', '--no-mdns', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'];
        if (before !== undefined) link.push('--bootstrap', (await nodeInfo(before)).addrs[0]!);
      }
      chain.push(await startSystem('parley', deps.systemOpts, { mode: 'relay', env: PEER_ENV, extraArgs: link }));
    }
    for (let i = 1; i < length; i++) await (transport === 'ws' ? linksUp(chain[i]!, 1) : p2pPeersUp(chain[i]!, 1));
    return chain;
  } catch (e) {
    for (const node of chain) await node.stop();
    throw e;
  }
}

function throughputWindow(fanoutWindow: number): number {
  return Math.max(THROUGHPUT_WINDOW, fanoutWindow);
}

export async function runPeeringBench(deps: PeeringBenchDeps): Promise<PeeringRun[]> {
  const runs: PeeringRun[] = [];
  const window = throughputWindow(deps.fanoutWindow);
  const shapes = [
    { transport: 'ws' as const, kind: 'latency' as const, hops: 0, clients: LATENCY_CLIENTS, window: LATENCY_WINDOW },
    { transport: 'ws' as const, kind: 'latency' as const, hops: 1, clients: LATENCY_CLIENTS, window: LATENCY_WINDOW },
    { transport: 'ws' as const, kind: 'latency' as const, hops: 2, clients: LATENCY_CLIENTS, window: LATENCY_WINDOW },
    { transport: 'gossip' as const, kind: 'latency' as const, hops: 1, clients: LATENCY_CLIENTS, window: LATENCY_WINDOW },
    { transport: 'gossip' as const, kind: 'latency' as const, hops: 2, clients: LATENCY_CLIENTS, window: LATENCY_WINDOW },
    { transport: 'ws' as const, kind: 'throughput' as const, hops: 0, clients: deps.fanoutSubs, window },
    { transport: 'ws' as const, kind: 'throughput' as const, hops: 1, clients: deps.fanoutSubs, window },
    { transport: 'ws' as const, kind: 'throughput' as const, hops: 2, clients: deps.fanoutSubs, window },
    { transport: 'gossip' as const, kind: 'throughput' as const, hops: 2, clients: deps.fanoutSubs, window },
    // The line itself: one subscriber, so that what a hop carries, not a fan-out, sets the rate.
    { transport: 'ws' as const, kind: 'line' as const, hops: 2, clients: 1, window },
    { transport: 'gossip' as const, kind: 'line' as const, hops: 2, clients: 1, window },
  ];
  for (const shape of shapes) {
    if (deps.kinds !== undefined && deps.kinds.length > 0 && !deps.kinds.includes(shape.kind)) continue;
    const line = shape.hops === 0 ? 'one node' : shape.hops === 1 ? 'one hop (A-B)' : 'two hops (A-B-C)';
    const setup = shape.hops === 0 ? line : `${line}, ${shape.transport === 'ws' ? 'WebSocket peering' : 'gossip (--p2p)'}`;
    const label = `peering/${shape.transport}/${shape.kind}/${shape.hops}-hop`;
    let chain: RunningSystem[] = [];
    try {
      deps.log(`[${label}] starting ${shape.hops + 1} parley node(s)`);
      chain = await startChain(deps, shape.hops + 1, shape.transport);
      const first = chain[0]!;
      const last = chain[chain.length - 1]!;
      const job = deps.jobFor(last, label, {
        scenario: 'fanout',
        protocol: 'mles',
        clients: shape.clients,
        window: shape.window,
        warmupMs: deps.warmupMs,
        publishPort: first.port,
      });
      runs.push({ transport: shape.transport, setup, kind: shape.kind, hops: shape.hops, result: await deps.generate(job, last) });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      deps.log(`[${label}] FAILED: ${error}`);
      runs.push({ transport: shape.transport, setup, kind: shape.kind, hops: shape.hops, error });
    } finally {
      for (const node of chain) await node.stop();
    }
  }
  return runs;
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;

export function peeringMarkdown(runs: readonly PeeringRun[], fanoutSubs: number, fanoutWindow: number, warmupMs: number): string {
  const lines: string[] = [];
  const latency = runs.filter((r) => r.kind === 'latency');
  const base = latency.find((r) => r.hops === 0)?.result;
  const p50 = (r: ScenarioResult | undefined) => (r?.kind === 'throughput' ? r.latency.p50Us : undefined);
  lines.push(`### (h) peering: latency, ${LATENCY_CLIENTS} subscribers, ${LATENCY_WINDOW} in flight`, '');
  lines.push('| setup | msgs/s | p50 | p99 | p50 added by the hops | target |', '|---|---|---|---|---|---|');
  for (const run of latency) {
    const r = run.result;
    if (r?.kind !== 'throughput') {
      lines.push(`| ${run.setup} | failed: ${run.error ?? '?'} | | | | |`);
      continue;
    }
    const added = run.hops === 0 || p50(base) === undefined ? undefined : r.latency.p50Us - p50(base)!;
    const perHop = added === undefined ? undefined : added / run.hops;
    const goal = run.transport === 'ws' ? 1000 : 5000;
    const target = perHop === undefined ? '' : `< ${goal / 1000} ms a hop: ${perHop < goal ? 'met' : '**missed**'} (${ms(perHop)} a hop)`;
    lines.push(`| ${run.setup} | ${rate(r.msgsPerSec)} | ${ms(r.latency.p50Us)} | ${ms(r.latency.p99Us)} | ${added === undefined ? '' : ms(added)} | ${target} |`);
  }
  const throughput = runs.filter((r) => r.kind === 'throughput');
  const single = throughput.find((r) => r.hops === 0)?.result;
  lines.push('', `### (h) peering: fan-out through a link, ${fanoutSubs} subscribers, ${throughputWindow(fanoutWindow)} in flight`, '');
  lines.push('| setup | delivered msgs/s | p99 | against one node | target |', '|---|---|---|---|---|');
  for (const run of throughput) {
    const r = run.result;
    if (r?.kind !== 'throughput') {
      lines.push(`| ${run.setup} | failed: ${run.error ?? '?'} | | | |`);
      continue;
    }
    const ratio = single?.kind === 'throughput' && run.hops > 0 ? r.msgsPerSec / single.msgsPerSec : undefined;
    const target =
      run.transport === 'gossip'
        ? `${rate(r.msgsPerSec / fanoutSubs)} published`
        : ratio === undefined
          ? ''
          : `>= 50%: ${ratio >= 0.5 ? 'met' : '**missed**'}`;
    lines.push(`| ${run.setup} | ${rate(r.msgsPerSec)} | ${ms(r.latency.p99Us)} | ${ratio === undefined ? '' : `${(ratio * 100).toFixed(0)}%`} | ${target} |`);
  }
  const lineRuns = runs.filter((r) => r.kind === 'line');
  if (lineRuns.length > 0) {
    lines.push('', `### (h) peering: messages through a line of three nodes, 1 subscriber, ${throughputWindow(fanoutWindow)} in flight`, '');
    lines.push('| setup | msgs/s through the line | p50 | p99 | target |', '|---|---|---|---|---|');
    for (const run of lineRuns) {
      const r = run.result;
      if (r?.kind !== 'throughput') {
        lines.push(`| ${run.setup} | failed: ${run.error ?? '?'} | | | |`);
        continue;
      }
      const target = run.transport === 'gossip' ? `>= 50,000 msgs/s: ${r.msgsPerSec >= 50_000 ? 'met' : '**missed**'}` : '';
      lines.push(`| ${run.setup} | ${rate(r.msgsPerSec)} | ${ms(r.latency.p50Us)} | ${ms(r.latency.p99Us)} | ${target} |`);
    }
  }
  lines.push('', `Mles-mode clients, \`--memory --retain-count 1\` nodes linked with \`--peer\` (WebSocket peering) or \`--p2p --bootstrap\` (gossip: every message sealed by its origin and checked on each node); the publisher is on the first node and the subscribers on the last. All nodes share the server core, so a link's figures include both nodes' work. The throughput rows keep 1024 messages in flight for the one node and the link alike: with (a)'s 256, the link's extra round trip made the window, not the nodes, set its rate. Every shape warms up for ${warmupMs / 1000} s before it is measured: libp2p's stack reaches its steady rate only after about 200k messages (its JavaScript is compiled as it runs), a WebSocket link much sooner.`);
  return `${lines.join('\n')}\n`;
}
