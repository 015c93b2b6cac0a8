// The load scenarios, run inside the generator process against one server:
//   fanout: 1 channel, N subscribers, 1 publisher keeping W messages in flight
//   pairs:  P channels of 2 clients, each publishing to its peer with W in flight
//   idle:   N connections joined to channels, for server memory per connection
// and, in store-scenarios.ts, the store's: acknowledged ingest, preload and catch-up.
//
// Flow control is by receipt: a message is in flight until its receiver(s) saw it (by
// sequence number, so a dropped message does not stall the window). The sender tops up
// once per event-loop turn after the reads, so its writes carry many frames each.

import { performance } from 'node:perf_hooks';
import type { Adapter, BenchClient, MessageHandler } from './adapter.ts';
import type { LatencySummary } from './hist.ts';
import { LatencyHistogram } from './hist.ts';
import { jetstream } from './jetstream.ts';
import { mles } from './mles.ts';
import { mqtt } from './mqtt.ts';
import { nats } from './nats.ts';
import { native } from './native.ts';
import { payloadSender, payloadSeq, payloadTime } from './payload.ts';
import { CreditWindow } from './credit-window.ts';
import { CpuMeter, rssKiB } from './proc.ts';
import { rxClock } from './ws-client.ts';

/** The scenarios of the report: (a)-(c) relay, (d) durable ingest, (e) catch-up, (f) native fan-out. */
export type ScenarioName = 'fanout' | 'pairs' | 'idle' | 'ingest' | 'catchup' | 'native-fanout';
/** What one generator run does. */
export type JobKind = 'fanout' | 'pairs' | 'idle' | 'ingest' | 'preload' | 'catchup';
export type ProtocolName = 'mles' | 'mqtt' | 'nats' | 'native' | 'jetstream';

export const ADAPTERS: Record<ProtocolName, Adapter> = { mles, mqtt, nats, native, jetstream };

export interface Job {
  readonly scenario: JobKind;
  readonly label: string;
  readonly protocol: ProtocolName;
  readonly host: string;
  readonly port: number;
  readonly serverPid: number;
  readonly ticksPerSecond: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** fanout: subscribers; pairs: channels (2 clients each); idle: connections; ingest: publishers. */
  readonly clients: number;
  /** Messages in flight per sender (fanout, pairs), unacknowledged per publisher (ingest, preload). */
  readonly window: number;
  /** ingest: channels the publishers spread over (publisher i uses channel i mod channels). */
  readonly channels?: number;
  /** preload: messages to publish; catchup: messages expected. */
  readonly messages?: number;
  /** catchup: catch-ups to run one after another, each on a fresh connection. */
  readonly repeats?: number;
  /** fanout: the publisher's server port when it is another node than the subscribers' (peering). */
  readonly publishPort?: number;
}

export interface ThroughputResult {
  readonly kind: 'throughput';
  /** Subscribers, channels of 2, or (ingest) publishers. */
  readonly clients: number;
  /** ingest: channels the publishers spread over. */
  readonly channels?: number;
  readonly window: number;
  readonly seconds: number;
  readonly delivered: number;
  readonly msgsPerSec: number;
  readonly sentPerSec: number;
  readonly latency: LatencySummary;
  readonly serverRssKiB: number;
  readonly serverCpuPct: number;
  readonly generatorCpuPct: number;
  /** Times the window had to be forgiven because receipts stopped (lost messages). */
  readonly stalls: number;
  readonly misrouted: number;
  readonly problems: readonly string[];
  /** Msgs/s in each second from the start of the warm-up. */
  readonly timeline?: readonly number[];
  /** How many of the timeline's seconds were warm-up. */
  readonly timelineWarmup?: number;
}

export interface IdleResult {
  readonly kind: 'idle';
  readonly connections: number;
  readonly connectSeconds: number;
  readonly rssBeforeKiB: number;
  readonly rssAfterKiB: number;
  readonly bytesPerConnection: number;
  readonly problems: readonly string[];
}

/** Publishing a fixed number of messages with acks (the catch-up's preload). */
export interface PreloadResult {
  readonly kind: 'preload';
  readonly messages: number;
  readonly seconds: number;
  readonly msgsPerSec: number;
  /** Publish-to-ack latency. */
  readonly latency: LatencySummary;
  readonly problems: readonly string[];
}

export interface CatchupRun {
  /** Replayed messages received before the stream went live (or, JetStream, before the last). */
  readonly received: number;
  /** From sending the subscription to its `live` frame (JetStream: to the last message). */
  readonly seconds: number;
  readonly msgsPerSec: number;
  /** From sending the subscription to the first replayed message. */
  readonly firstMs: number;
  /** The `live` frame's `last` (JetStream: -1). */
  readonly last: number;
  readonly serverCpuPct: number;
  readonly generatorCpuPct: number;
}

export interface CatchupResult {
  readonly kind: 'catchup';
  readonly messages: number;
  readonly runs: readonly CatchupRun[];
  /** The median run by msgs/s. */
  readonly median: CatchupRun;
  readonly serverRssKiB: number;
  readonly problems: readonly string[];
  /** Filled in by run.ts: how the channel was filled, and whether the server was restarted since. */
  readonly preload?: PreloadResult;
  readonly restarted?: boolean;
}

export type ScenarioResult = ThroughputResult | IdleResult | PreloadResult | CatchupResult;

export function progress(label: string, text: string): void {
  process.stderr.write(`[${label}] ${text}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn(i)` for i in [0, n) with at most `limit` running at once. */
export async function forEachLimit(
  n: number,
  limit: number,
  fn: (i: number) => Promise<void>,
  onProgress?: (done: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < n && failure === undefined) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failure ??= e;
      }
      done++;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  if (failure !== undefined) throw failure;
}

/** Spreads many connections over several loopback source addresses (ephemeral ports). */
function sourceAddress(i: number, total: number): string | undefined {
  return total > 16_000 ? `127.0.0.${2 + (i % 16)}` : undefined;
}

export function collectProblems(clients: readonly (BenchClient | undefined)[]): string[] {
  const out: string[] = [];
  let more = 0;
  for (const c of clients) {
    for (const p of c?.problems ?? []) {
      if (out.length < 10) out.push(p);
      else more++;
    }
  }
  if (more > 0) out.push(`... and ${more} more`);
  return out;
}

export function closeAll(clients: readonly (BenchClient | undefined)[]): void {
  for (const c of clients) c?.close();
}

/** Shared machinery of the two throughput scenarios: counters, histogram, window timing. */
export class Meter {
  readonly hist = new LatencyHistogram();
  measuring = false;
  delivered = 0;
  /** Messages received (or acks) since the start, warm-up included. */
  total = 0;
  sent = 0;
  lastProgress = performance.now();

  /** Records one received message: call from every MessageHandler. */
  receive(buf: Buffer, at: number): void {
    this.total++;
    if (this.measuring) {
      this.delivered++;
      this.hist.record((rxClock.now - payloadTime(buf, at)) * 1000);
    }
  }

  /** Records one acknowledged publish sent at `sentAt` (performance.now() ms). */
  ack(sentAt: number): void {
    this.total++;
    if (this.measuring) {
      this.delivered++;
      this.hist.record((rxClock.now - sentAt) * 1000);
    }
  }
}

export async function measure(
  job: Job,
  meter: Meter,
  pump: () => void,
  forgive: () => boolean,
  finish: () => { problems: string[]; misrouted: number },
  stop: () => void,
): Promise<ThroughputResult> {
  let stalls = 0;
  const timeline: number[] = [];
  let timelineStart = 0;
  let ticker: NodeJS.Timeout | undefined;
  const watchdog = setInterval(() => {
    if (performance.now() - meter.lastProgress > 1000 && forgive()) {
      stalls++;
      meter.lastProgress = performance.now();
      pump();
    }
  }, 250);
  try {
    progress(job.label, `warm-up ${job.warmupMs} ms`);
    // The rate in each second from the start of the warm-up: shows a rate that changes.
    timelineStart = performance.now();
    let tickAt = timelineStart;
    let tickCount = meter.total;
    ticker = setInterval(() => {
      const now = performance.now();
      timeline.push(((meter.total - tickCount) * 1000) / (now - tickAt));
      tickAt = now;
      tickCount = meter.total;
    }, 1000);
    meter.lastProgress = performance.now();
    pump();
    await sleep(job.warmupMs);
    progress(job.label, `measuring ${job.measureMs} ms`);
    const cpu = new CpuMeter(job.serverPid, job.ticksPerSecond);
    meter.hist.reset();
    meter.delivered = 0;
    const sent0 = meter.sent;
    const t0 = performance.now();
    cpu.start(t0);
    meter.measuring = true;
    await sleep(job.measureMs);
    meter.measuring = false;
    const t1 = performance.now();
    clearInterval(ticker);
    const usage = cpu.stop(t1);
    const rss = rssKiB(job.serverPid);
    const seconds = (t1 - t0) / 1000;
    const sent = meter.sent - sent0;
    stop();
    await sleep(200); // let the last messages in flight land before hanging up
    const { problems, misrouted } = finish();
    const result: ThroughputResult = {
      kind: 'throughput',
      clients: job.clients,
      window: job.window,
      seconds,
      delivered: meter.delivered,
      msgsPerSec: meter.delivered / seconds,
      sentPerSec: sent / seconds,
      latency: meter.hist.summary(),
      serverRssKiB: rss,
      serverCpuPct: usage.serverPct,
      generatorCpuPct: usage.generatorPct,
      stalls,
      misrouted,
      problems,
      timeline,
      timelineWarmup: Math.round((t0 - timelineStart) / 1000),
    };
    return result;
  } finally {
    clearInterval(watchdog);
    clearInterval(ticker);
  }
}

/** (a) 1 channel, `job.clients` subscribers, 1 publisher with `job.window` in flight. */
export async function fanout(job: Job): Promise<ThroughputResult> {
  const adapter = ADAPTERS[job.protocol];
  const n = job.clients;
  const w = job.window;
  const threshold = Math.max(1, w >> 3);
  const meter = new Meter();
  const got = new Float64Array(n); // per subscriber: highest sequence seen + 1
  const subs: (BenchClient | undefined)[] = new Array<BenchClient | undefined>(n);
  let scheduled = false;
  let stopped = false;
  let pub: BenchClient | undefined;

  const pump = (): void => {
    scheduled = false;
    const batcher = pub?.batcher;
    if (stopped || pub === undefined || batcher === undefined) return;
    let min = meter.sent;
    for (let i = 0; i < n; i++) {
      const g = got[i] ?? 0;
      if (g < min) min = g;
    }
    const inflight = meter.sent - min;
    const credit = w - inflight;
    if (credit >= threshold || (inflight === 0 && credit > 0)) {
      if (pub.conn.bufferedBytes > 1 << 20) return;
      pub.conn.write(batcher.build(credit, performance.now(), meter.sent));
      meter.sent += credit;
    }
  };
  const schedule = (): void => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(pump);
    }
  };
  const onMessageFor = (i: number): MessageHandler => (buf, at) => {
    const seq = payloadSeq(buf, at) + 1;
    if (seq > (got[i] ?? 0)) got[i] = seq;
    meter.lastProgress = rxClock.now;
    meter.receive(buf, at);
    schedule();
  };

  progress(job.label, `connecting ${n} subscribers + 1 publisher`);
  try {
    await forEachLimit(n, 64, async (i) => {
      subs[i] = await adapter.connect({
        host: job.host,
        port: job.port,
        uid: `s${i}`,
        listen: 'c1',
        publish: undefined,
        sender: i,
        onMessage: onMessageFor(i),
      });
    });
    pub = await adapter.connect({
      host: job.host,
      port: job.publishPort ?? job.port,
      uid: 'pub',
      listen: undefined,
      publish: 'c1',
      sender: n,
      onMessage: () => {},
    });
  } catch (e) {
    closeAll(subs);
    pub?.close();
    throw e;
  }
  const publisher = pub;
  return measure(
    job,
    meter,
    pump,
    () => {
      if (got.every((g) => g >= meter.sent)) return false;
      got.fill(meter.sent);
      return true;
    },
    () => {
      const all = [...subs, publisher];
      const problems = collectProblems(all);
      closeAll(all);
      return { problems, misrouted: 0 };
    },
    () => {
      stopped = true;
    },
  );
}

/** (b) `job.clients` channels of 2; each client publishes to its peer, `job.window` in flight. */
export async function pairs(job: Job): Promise<ThroughputResult> {
  const adapter = ADAPTERS[job.protocol];
  const n = job.clients * 2;
  const w = job.window;
  const threshold = Math.max(1, w >> 2);
  const meter = new Meter();
  let misrouted = 0;
  const clients: (BenchClient | undefined)[] = new Array<BenchClient | undefined>(n);
  const credit = new CreditWindow(clients, w, threshold, (_j, _first, count) => (meter.sent += count));
  const acked = credit.acked;
  const markDirty = (j: number): void => credit.markDirty(j);
  const onMessageFor = (j: number): MessageHandler => {
    const peer = j ^ 1;
    return (buf, at) => {
      if (payloadSender(buf, at) !== peer) {
        misrouted++;
        return;
      }
      const seq = payloadSeq(buf, at) + 1;
      if (seq > (acked[peer] ?? 0)) acked[peer] = seq;
      meter.lastProgress = rxClock.now;
      meter.receive(buf, at);
      markDirty(peer);
    };
  };
  const channelsOf = (j: number): { listen: string; publish: string } => {
    const pair = `p${j >> 1}`;
    if (adapter.noEcho) return { listen: pair, publish: pair };
    return { listen: `${pair}/${j & 1}`, publish: `${pair}/${(j & 1) ^ 1}` };
  };

  progress(job.label, `connecting ${n} clients in ${job.clients} channels`);
  try {
    await forEachLimit(
      n,
      128,
      async (j) => {
        clients[j] = await adapter.connect({
          host: job.host,
          port: job.port,
          uid: `u${j & 1}-${j >> 1}`,
          ...channelsOf(j),
          sender: j,
          onMessage: onMessageFor(j),
        });
      },
      (done) => {
        if (done % 500 === 0 && done < n) progress(job.label, `  ${done}/${n} connected`);
      },
    );
  } catch (e) {
    closeAll(clients);
    throw e;
  }
  return measure(
    job,
    meter,
    () => credit.markAllDirty(),
    () => credit.forgive(),
    () => {
      const problems = collectProblems(clients);
      closeAll(clients);
      return { problems, misrouted };
    },
    () => credit.stop(),
  );
}

/** (c) `job.clients` idle connections, 2 per channel: server RSS growth per connection. */
export async function idle(job: Job): Promise<IdleResult> {
  const adapter = ADAPTERS[job.protocol];
  const n = job.clients;
  const clients: (BenchClient | undefined)[] = new Array<BenchClient | undefined>(n);
  const connect = (i: number, uid: string): Promise<BenchClient> => {
    const channel = `idle${i >> 1}`;
    const localAddress = sourceAddress(i, n);
    return adapter.connect({
      host: job.host,
      port: job.port,
      ...(localAddress === undefined ? {} : { localAddress }),
      uid,
      listen: channel,
      publish: undefined,
      sender: i,
      onMessage: () => {},
    });
  };
  try {
    // Warm the server's code paths first so their one-off cost is not counted per connection.
    const warm: BenchClient[] = [];
    for (let i = 0; i < 20; i++) warm.push(await connect(i, `warm${i}`));
    closeAll(warm);
    await sleep(1000);
    const rssBefore = rssKiB(job.serverPid);
    progress(job.label, `server RSS before: ${(rssBefore / 1024).toFixed(1)} MiB; opening ${n} connections`);
    const t0 = performance.now();
    await forEachLimit(
      n,
      256,
      async (i) => {
        clients[i] = await connect(i, `u${i}`);
      },
      (done) => {
        if (done % 2000 === 0 && done < n) progress(job.label, `  ${done}/${n} joined`);
      },
    );
    const connectSeconds = (performance.now() - t0) / 1000;
    progress(job.label, `${n} joined in ${connectSeconds.toFixed(1)} s; settling`);
    await sleep(Math.max(1000, Math.min(3000, job.measureMs)));
    const lost = clients.filter((c) => c === undefined || c.conn.closed !== undefined).length;
    if (lost > 0) throw new Error(`${lost} of ${n} idle connections were closed by the server`);
    const rssAfter = rssKiB(job.serverPid);
    return {
      kind: 'idle',
      connections: n,
      connectSeconds,
      rssBeforeKiB: rssBefore,
      rssAfterKiB: rssAfter,
      bytesPerConnection: ((rssAfter - rssBefore) * 1024) / n,
      problems: collectProblems(clients),
    };
  } finally {
    closeAll(clients);
  }
}
