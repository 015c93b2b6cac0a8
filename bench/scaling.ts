// `npm run bench -- scaling`: parley nodes over NATS JetStream beside one node on SQLite,
// in the same run. For each setup (SQLite; JetStream with 1 replica on one server, and
// with 3 replicas on a three-server loopback cluster; 1 or 3 parley nodes) it measures
//  - acked ingest: publishers spread over the nodes, each on its own channel with a window
//    of unacknowledged publishes (an ack means stored: committed to SQLite, or stored by
//    JetStream with the stream's replicas and applied by the node);
//  - fan-out: one publisher, the same number of native subscribers on every node of one
//    channel; deliveries per second over all subscribers;
// and JetStream's own asynchronous publish (plain publishes with a reply subject and a
// Nats-Msg-Id, as parley publishes) on each NATS setup: the ceiling to compare with.
// Everything runs on this machine: NATS servers, parley nodes and this generator share its
// cores, so the figures are for comparison within one run.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, createInbox, headers } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NativeClient, pubBatcher } from './native.ts';
import { intOption } from './options.ts';
import { startNatsCluster, type NatsCluster } from '../test/helpers/nats-servers.ts';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

interface Setup {
  readonly label: string;
  /** undefined: SQLite. */
  readonly replicas: 1 | 3 | undefined;
  readonly nodes: number;
}

const SETUPS: readonly Setup[] = [
  { label: 'SQLite, 1 node', replicas: undefined, nodes: 1 },
  { label: 'JetStream R1, 1 node', replicas: 1, nodes: 1 },
  { label: 'JetStream R1, 3 nodes', replicas: 1, nodes: 3 },
  { label: 'JetStream R3, 1 node', replicas: 3, nodes: 1 },
  { label: 'JetStream R3, 3 nodes', replicas: 3, nodes: 3 },
];

interface Options {
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Publishers per node in the ingest measurement. */
  readonly publishers: number;
  readonly window: number;
  /** Subscribers per node in the fan-out measurement. */
  readonly subscribers: number;
}

export const SCALING_USAGE = `usage: npm run bench -- scaling [--quick] [--warmup MS] [--measure MS]
                        [--publishers N] [--window N] [--subscribers N]
  Acked ingest and fan-out through 1 and 3 parley nodes on JetStream with 1 and 3
  replicas, beside one node on SQLite and JetStream's own async publish, in one run.
  --publishers N   publishers per node for ingest (default 4)
  --window N       unacknowledged publishes per publisher (default 256)
  --subscribers N  subscribers per node for fan-out (default 20)
  --setups LIST    only these setups, by number (1 SQLite; 2, 3: R1 with 1, 3 nodes;
                   4, 5: R3 with 1, 3 nodes)
`;

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

interface ParleyNode {
  readonly port: number;
  stop(): Promise<void>;
}

async function startParley(args: readonly string[]): Promise<ParleyNode> {
  const data = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--data', data, '--rate-limit', '0', '--limit', '0', '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      const found = /chat page at (\S+)/.exec(line)?.[1];
      if (found !== undefined) resolve(found);
    });
    void exited.then(() => reject(new Error(`parley exited before listening:\n${lines.join('\n')}`)));
  });
  return {
    port: Number(new URL(url).port),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Acked publishes per second over all nodes: `publishers` per node, each on its own channel. */
async function ingest(ports: readonly number[], o: Options): Promise<number> {
  let acked = 0;
  const clients: NativeClient[] = [];
  const run = { stop: false };
  await Promise.all(
    ports.flatMap((port, n) =>
      Array.from({ length: o.publishers }, async (_, j) => {
        const sender = n * o.publishers + j;
        const batcher = pubBatcher(`ingest-${sender}`, sender);
        let sent = 0;
        let done = 0;
        const client = await NativeClient.open(
          { host: '127.0.0.1', port, uid: `pub${sender}` },
          {
            onAck: () => {
              done++;
              acked++;
              if (!run.stop && sent - done <= o.window / 2) top();
            },
          },
        );
        clients.push(client);
        const top = (): void => {
          const count = o.window - (sent - done);
          if (count <= 0) return;
          client.conn.write(batcher.build(count, performance.now(), sent));
          sent += count;
        };
        (client as NativeClient & { top?: () => void }).top = top;
      }),
    ),
  );
  for (const c of clients) (c as NativeClient & { top?: () => void }).top?.();
  await new Promise((r) => setTimeout(r, o.warmupMs));
  const start = acked;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.measureMs));
  const rate = (acked - start) / ((performance.now() - t0) / 1000);
  run.stop = true;
  for (const c of clients) c.close();
  return rate;
}

/** Deliveries per second to `subscribers` per node of one channel, from one publisher on the first node. */
async function fanOut(ports: readonly number[], o: Options): Promise<{ deliveries: number; publishes: number }> {
  const channel = 'fan';
  let delivered = 0;
  const subscribers: NativeClient[] = [];
  for (const [n, port] of ports.entries()) {
    for (let j = 0; j < o.subscribers; j++) {
      const client = await NativeClient.open({ host: '127.0.0.1', port, uid: `sub${n}-${j}` }, { onMessage: () => void delivered++ });
      await client.subscribe(channel);
      subscribers.push(client);
    }
  }
  const batcher = pubBatcher(channel, 9999);
  let sent = 0;
  let done = 0;
  const run = { stop: false };
  const publisher = await NativeClient.open(
    { host: '127.0.0.1', port: ports[0]!, uid: 'fan-pub' },
    {
      onAck: () => {
        done++;
        if (!run.stop && sent - done <= o.window / 2) top();
      },
    },
  );
  const top = (): void => {
    const count = o.window - (sent - done);
    if (count <= 0) return;
    publisher.conn.write(batcher.build(count, performance.now(), sent));
    sent += count;
  };
  top();
  await new Promise((r) => setTimeout(r, o.warmupMs));
  const [d0, p0, t0] = [delivered, done, performance.now()];
  await new Promise((r) => setTimeout(r, o.measureMs));
  const seconds = (performance.now() - t0) / 1000;
  const result = { deliveries: (delivered - d0) / seconds, publishes: (done - p0) / seconds };
  run.stop = true;
  publisher.close();
  for (const s of subscribers) s.close();
  return result;
}

/** JetStream's own asynchronous publish from one connection, as parley publishes: its ceiling here. */
async function jetStreamCeiling(urls: string, replicas: number, o: Options): Promise<number> {
  const nc = await connect({ servers: urls.split(',') });
  const jsm = await jetstreamManager(nc);
  const stream = `CEILING${replicas}`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: replicas, duplicate_window: 600e9 });
  const inbox = createInbox();
  const payload = new Uint8Array(100);
  let sent = 0;
  let acked = 0;
  const window = o.window * o.publishers;
  const top = (): void => {
    while (sent - acked < window) {
      const h = headers();
      h.set('Nats-Msg-Id', `m${sent}`);
      nc.publish(`${stream}.c.x`, payload, { reply: `${inbox}.${sent}`, headers: h });
      sent++;
    }
  };
  nc.subscribe(`${inbox}.*`, {
    callback: () => {
      acked++;
      if (sent - acked <= window / 2) top();
    },
  });
  top();
  await new Promise((r) => setTimeout(r, o.warmupMs));
  const [a0, t0] = [acked, performance.now()];
  await new Promise((r) => setTimeout(r, o.measureMs));
  const rate = (acked - a0) / ((performance.now() - t0) / 1000);
  sent = Number.POSITIVE_INFINITY; // stops topping up
  await jsm.streams.delete(stream);
  await nc.close();
  return rate;
}

interface Row {
  readonly setup: string;
  readonly ingest: number;
  readonly fanDeliveries: number;
  readonly fanPublishes: number;
  readonly subscribers: number;
}

export async function runScaling(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      warmup: { type: 'string' },
      measure: { type: 'string' },
      publishers: { type: 'string' },
      window: { type: 'string' },
      subscribers: { type: 'string' },
      setups: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SCALING_USAGE);
    return 0;
  }
  const o: Options = {
    warmupMs: intOption(values.warmup, values.quick ? 500 : 1500, 'warmup'),
    measureMs: intOption(values.measure, values.quick ? 1500 : 4000, 'measure'),
    publishers: intOption(values.publishers, 4, 'publishers'),
    window: intOption(values.window, 256, 'window'),
    subscribers: intOption(values.subscribers, 20, 'subscribers'),
  };
  const rows: Row[] = [];
  const ceilings: Array<{ replicas: number; rate: number }> = [];
  const clusters = new Map<number, NatsCluster>();
  try {
    const chosen = values.setups === undefined ? SETUPS : values.setups.split(',').map((n) => {
      const setup = SETUPS[Number(n) - 1];
      if (setup === undefined) throw new Error(`--setups takes numbers 1-${SETUPS.length}, got ${n}`);
      return setup;
    });
    for (const setup of chosen) {
      let cluster: NatsCluster | undefined;
      if (setup.replicas !== undefined) {
        cluster = clusters.get(setup.replicas);
        if (cluster === undefined) {
          log(`[scaling] starting ${setup.replicas === 1 ? 'one NATS server' : 'a three-server NATS cluster'}`);
          cluster = await startNatsCluster(setup.replicas);
          clusters.set(setup.replicas, cluster);
          log(`[scaling] JetStream async publish ceiling, R${setup.replicas}`);
          ceilings.push({ replicas: setup.replicas, rate: await jetStreamCeiling(cluster.urls, setup.replicas, o) });
        }
      }
      // A fresh stream per setup: each starts empty, as the SQLite node does.
      const stream = `BENCH${rows.length}`;
      const args = cluster === undefined ? [] : ['--nats', cluster.urls, '--nats-replicas', String(setup.replicas), '--nats-stream', stream];
      const nodes: ParleyNode[] = [await startParley(args)];
      nodes.push(...(await Promise.all(Array.from({ length: setup.nodes - 1 }, () => startParley(args)))));
      try {
        const ports = nodes.map((n) => n.port);
        log(`[scaling] ${setup.label}: acked ingest`);
        const ingestRate = await ingest(ports, o);
        log(`[scaling] ${setup.label}: fan-out`);
        const fan = await fanOut(ports, o);
        rows.push({ setup: setup.label, ingest: ingestRate, fanDeliveries: fan.deliveries, fanPublishes: fan.publishes, subscribers: o.subscribers * setup.nodes });
        log(`[scaling] ${setup.label}: ingest ${Math.round(ingestRate)} msg/s, fan-out ${Math.round(fan.deliveries)} deliveries/s`);
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
      }
    }
  } finally {
    for (const cluster of clusters.values()) await cluster.stop();
  }
  const f = (n: number): string => Math.round(n).toLocaleString('en-US');
  const lines = [
    `Scaling out (${cpus().length} cores shared by the NATS servers, the parley nodes and the generator; ${o.publishers} publishers per node with ${o.window} publishes in flight each; 64-byte messages; ${o.subscribers} subscribers per node in fan-out)`,
    '',
    '| setup | acked ingest (msg/s) | fan-out: publishes/s | fan-out: deliveries/s (subscribers) |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.setup} | ${f(r.ingest)} | ${f(r.fanPublishes)} | ${f(r.fanDeliveries)} (${r.subscribers}) |`),
    ...ceilings.map((c) => `| JetStream's own async publish, R${c.replicas} (no parley) | ${f(c.rate)} | | |`),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return 0;
}

// Imported by run.ts for `npm run bench -- scaling`; also runs alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(await runScaling(process.argv.slice(2)));

