// The store's scenarios, run inside the generator process against one server:
//   ingest:  P publishers on C channels, each keeping W publishes unacknowledged; the
//            rate of acks and the publish-to-ack latency (parley: native `pub`/`ack` on
//            its durable store; NATS: JetStream publishes acknowledged by a file stream)
//   preload: one publisher puts N messages on the catch-up channel, W unacknowledged
//   catchup: a fresh client asks for everything stored on that channel (parley: `sub`
//            with `after: 0`, timed to its `live` frame; NATS: an ephemeral push consumer
//            delivering all, timed to the last message), R times in a row

import { performance } from 'node:perf_hooks';
import { CreditWindow } from './credit-window.ts';
import type { BenchClient } from './adapter.ts';
import { LatencyHistogram } from './hist.ts';
import { apiReply, ensureStream, NatsConn, STREAM, subjectOf } from './jetstream.ts';
import { NativeClient } from './native.ts';
import { payloadSeq } from './payload.ts';
import { CpuMeter, rssKiB } from './proc.ts';
import type { CatchupResult, CatchupRun, Job, PreloadResult, ThroughputResult } from './scenarios.ts';
import { ADAPTERS, closeAll, collectProblems, forEachLimit, measure, Meter, progress, sleep } from './scenarios.ts';
import { rxClock } from './ws-client.ts';

/** The channel the catch-up scenario fills and replays. */
export const CATCHUP_CHANNEL = 'cu';

function channelName(job: Job, name: string): string {
  return job.protocol === 'jetstream' ? subjectOf(name) : name;
}

/** A power of two of at least 2 * window: send times are kept in a ring indexed by sequence. */
function ringSize(window: number): number {
  let n = 64;
  while (n < 2 * window) n *= 2;
  return n;
}

/** (d) acknowledged ingest: `job.clients` publishers over `job.channels` channels. */
export async function ingest(job: Job): Promise<ThroughputResult> {
  const adapter = ADAPTERS[job.protocol];
  const n = job.clients;
  const channels = Math.max(1, Math.min(n, job.channels ?? n));
  const w = job.window;
  const threshold = Math.max(1, w >> 3);
  const ring = ringSize(w);
  const mask = ring - 1;
  const meter = new Meter();
  const times = new Float64Array(n * ring); // per publisher: send time by sequence
  const clients: (BenchClient | undefined)[] = new Array<BenchClient | undefined>(n);
  const credit = new CreditWindow(clients, w, threshold, (j, first, count, now) => {
    const base = j * ring;
    for (let i = 0; i < count; i++) times[base + ((first + i) & mask)] = now;
    meter.sent += count;
  });
  const acked = credit.acked;
  const markDirty = (j: number): void => credit.markDirty(j);
  const onAckFor = (j: number): ((seq: number) => void) => {
    const base = j * ring;
    return (seq) => {
      acked[j] = (acked[j] ?? 0) + 1;
      meter.lastProgress = rxClock.now;
      meter.ack(times[base + (seq & mask)] ?? rxClock.now);
      markDirty(j);
    };
  };

  if (job.protocol === 'jetstream') await ensureStream(job.host, job.port);
  progress(job.label, `connecting ${n} publishers on ${channels} channel${channels === 1 ? '' : 's'}`);
  try {
    await forEachLimit(n, 16, async (j) => {
      clients[j] = await adapter.connect({
        host: job.host,
        port: job.port,
        uid: `ing${j}`,
        listen: undefined,
        publish: channelName(job, `ing${j % channels}`),
        sender: j,
        onMessage: () => {},
        onAck: onAckFor(j),
      });
    });
  } catch (e) {
    closeAll(clients);
    throw e;
  }
  const result = await measure(
    job,
    meter,
    () => credit.markAllDirty(),
    () => credit.forgive(),
    () => {
      const problems = collectProblems(clients);
      closeAll(clients);
      return { problems, misrouted: 0 };
    },
    () => credit.stop(),
  );
  return { ...result, channels };
}

/** Fills the catch-up channel with `job.messages` messages from one publisher, `job.window` unacknowledged. */
export async function preload(job: Job): Promise<PreloadResult> {
  const total = job.messages ?? 100_000;
  const w = job.window;
  const threshold = Math.max(1, w >> 3);
  const ring = ringSize(w);
  const mask = ring - 1;
  const times = new Float64Array(ring);
  const hist = new LatencyHistogram();
  let sent = 0;
  let acked = 0;
  let scheduled = false;
  let lastProgress = performance.now();
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let client: BenchClient | undefined;

  const pump = (): void => {
    scheduled = false;
    const c = client;
    if (c?.batcher === undefined) return;
    const inflight = sent - acked;
    const credit = Math.min(w - inflight, total - sent);
    if (credit > 0 && (credit >= threshold || inflight === 0 || sent + credit === total)) {
      const now = performance.now();
      c.conn.write(c.batcher.build(credit, now, sent));
      for (let i = 0; i < credit; i++) times[(sent + i) & mask] = now;
      sent += credit;
    }
  };
  if (job.protocol === 'jetstream') await ensureStream(job.host, job.port);
  client = await ADAPTERS[job.protocol].connect({
    host: job.host,
    port: job.port,
    uid: 'preload',
    listen: undefined,
    publish: channelName(job, CATCHUP_CHANNEL),
    sender: 0,
    onMessage: () => {},
    onAck: (seq) => {
      acked++;
      lastProgress = rxClock.now;
      hist.record((rxClock.now - (times[seq & mask] ?? rxClock.now)) * 1000);
      if (acked % 25_000 === 0 && acked < total) progress(job.label, `  ${acked}/${total} acked`);
      if (acked >= total) finish();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    },
  });
  progress(job.label, `preloading ${total} messages (${w} unacknowledged)`);
  const t0 = performance.now();
  let stalled = false;
  const watchdog = setInterval(() => {
    if (performance.now() - lastProgress > 15_000) {
      stalled = true;
      finish();
    }
  }, 500);
  try {
    pump();
    await finished;
  } finally {
    clearInterval(watchdog);
  }
  const seconds = (performance.now() - t0) / 1000;
  const problems = collectProblems([client]);
  client.close();
  if (stalled) throw new Error(`preload stalled at ${acked} of ${total} acks${problems.length > 0 ? `: ${problems.join('; ')}` : ''}`);
  return { kind: 'preload', messages: total, seconds, msgsPerSec: total / seconds, latency: hist.summary(), problems };
}

/** Counts replayed benchmark messages and checks they come in publish order. */
class ReplayCounter {
  received = 0;
  firstAt = -1;
  lastAt = -1;
  outOfOrder = 0;
  #next = 0;

  onMessage(buf: Buffer, at: number): void {
    if (this.received === 0) this.firstAt = rxClock.now;
    this.lastAt = rxClock.now;
    const seq = payloadSeq(buf, at);
    if (seq !== this.#next) this.outOfOrder++;
    this.#next = seq + 1;
    this.received++;
  }
}

async function nativeCatchup(job: Job, r: number, problems: string[]): Promise<CatchupRun> {
  const counter = new ReplayCounter();
  const client = await NativeClient.open(
    { host: job.host, port: job.port, uid: `reader${r}` },
    { onMessage: (buf, at) => counter.onMessage(buf, at) },
  );
  try {
    const cpu = new CpuMeter(job.serverPid, job.ticksPerSecond);
    const t0 = performance.now();
    cpu.start(t0);
    const live = await client.subscribe(CATCHUP_CHANNEL, 0);
    const usage = cpu.stop(performance.now());
    const seconds = (live.at - t0) / 1000;
    problems.push(...client.problems);
    if (counter.outOfOrder > 0) problems.push(`catch-up ${r}: ${counter.outOfOrder} messages out of order`);
    return {
      received: counter.received,
      seconds,
      msgsPerSec: counter.received / seconds,
      firstMs: counter.firstAt < 0 ? Number.NaN : counter.firstAt - t0,
      last: live.last,
      serverCpuPct: usage.serverPct,
      generatorCpuPct: usage.generatorPct,
    };
  } finally {
    client.close();
  }
}

async function jetstreamCatchup(job: Job, r: number, expected: number, problems: string[]): Promise<CatchupRun> {
  const counter = new ReplayCounter();
  let done: () => void = () => {};
  const complete = new Promise<void>((resolve) => {
    done = resolve;
  });
  const deliver = `_D.${r}`;
  const c = await NatsConn.open({ host: job.host, port: job.port }, (buf, at, len) => {
    if (len !== 64) return;
    counter.onMessage(buf, at);
    if (counter.received === expected) done();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    c.send(`SUB ${deliver} 1\r\n`);
    await c.flush();
    const cpu = new CpuMeter(job.serverPid, job.ticksPerSecond);
    const t0 = performance.now();
    cpu.start(t0);
    const config = {
      deliver_subject: deliver,
      deliver_policy: 'all',
      ack_policy: 'none',
      replay_policy: 'instant',
      filter_subject: subjectOf(CATCHUP_CHANNEL),
    };
    apiReply(await c.request(`$JS.API.CONSUMER.CREATE.${STREAM}`, JSON.stringify({ stream_name: STREAM, config })));
    const timedOut = await Promise.race([
      complete.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), 60_000);
      }),
    ]);
    const usage = cpu.stop(performance.now());
    if (timedOut) problems.push(`catch-up ${r}: ${counter.received} of ${expected} messages within 60 s`);
    problems.push(...c.problems);
    if (counter.outOfOrder > 0) problems.push(`catch-up ${r}: ${counter.outOfOrder} messages out of order`);
    const seconds = (counter.lastAt - t0) / 1000;
    return {
      received: counter.received,
      seconds,
      msgsPerSec: counter.received / seconds,
      firstMs: counter.firstAt < 0 ? Number.NaN : counter.firstAt - t0,
      last: -1,
      serverCpuPct: usage.serverPct,
      generatorCpuPct: usage.generatorPct,
    };
  } finally {
    clearTimeout(timer);
    c.close();
  }
}

/** (e) `job.repeats` fresh clients, one after another, each replaying the whole catch-up channel. */
export async function catchup(job: Job): Promise<CatchupResult> {
  const expected = job.messages ?? 100_000;
  const repeats = Math.max(1, job.repeats ?? 1);
  const runs: CatchupRun[] = [];
  const problems: string[] = [];
  for (let r = 0; r < repeats; r++) {
    if (r > 0) await sleep(300);
    const run = job.protocol === 'jetstream' ? await jetstreamCatchup(job, r, expected, problems) : await nativeCatchup(job, r, problems);
    if (run.received !== expected) problems.push(`catch-up ${r}: ${run.received} of ${expected} messages replayed`);
    progress(
      job.label,
      `catch-up ${r + 1}/${repeats}: ${run.received} msgs in ${(run.seconds * 1000).toFixed(0)} ms ` +
        `(${(run.msgsPerSec / 1000).toFixed(0)}k msgs/s, first after ${run.firstMs.toFixed(1)} ms), ` +
        `server CPU ${run.serverCpuPct.toFixed(0)}%, generator CPU ${run.generatorCpuPct.toFixed(0)}%`,
    );
    runs.push(run);
  }
  const sorted = [...runs].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? runs[0]!;
  return { kind: 'catchup', messages: expected, runs, median, serverRssKiB: rssKiB(job.serverPid), problems: problems.slice(0, 10) };
}
