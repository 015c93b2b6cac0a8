// (m) Matrix: how fast an event sent through the Matrix gateway reaches other clients
// whose /sync long-polls are waiting, beside the native protocol on the same node in the
// same run, and what each long-polling client costs the node in memory.
//
// One `parley serve --memory --matrix` node. N guest accounts join one public room, each
// then long-polls /sync (timeout 30 s) on its own keep-alive connection. A sender puts
// one event at a time; the latency of a delivery is from just before the PUT to the
// moment a client's long-poll answer holding the event is read (one clock: clients and
// sender share this process). The next event goes once every client has it. Then N
// native-protocol subscribers (the client SDK) on one channel of the same node, with the
// same one-at-a-time publishing. Memory: the node's RSS with every client waiting in a
// long-poll, less its RSS with the accounts and the room made but nobody polling.

import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { ParleyClient } from '../src/client/index.ts';
import { LatencyHistogram, type LatencySummary } from './hist.ts';
import { cpuTicks, rssKiB } from './proc.ts';
import type { RunningSystem, SystemOptions } from './systems.ts';
import { startSystem } from './systems.ts';

export interface MatrixBenchOptions {
  readonly systemOpts: SystemOptions;
  /** Long-polling Matrix clients, and native subscribers. */
  readonly clients: number;
  /** Events sent (each after every client got the one before). */
  readonly events: number;
  readonly log: (text: string) => void;
  /** Clock ticks per second of /proc CPU times. */
  readonly ticksPerSecond: number;
}

export interface MatrixBenchResult {
  readonly clients: number;
  readonly events: number;
  readonly matrix: LatencySummary;
  readonly native: LatencySummary;
  /** Node RSS added per long-polling client, in KiB. */
  readonly kibPerSyncingClient: number;
  /** Node CPU time per event delivered to every client (its answers and the polls after them), ms. */
  readonly matrixCpuMsPerEvent: number;
  readonly nativeCpuMsPerEvent: number;
}

interface Answer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

function call(agent: Agent, node: RunningSystem, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { agent, host: node.host, port: node.port, method, path, headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
          } catch (error) {
            reject(error as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const FILTER = encodeURIComponent(JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 1 }, ephemeral: { types: [] } }, presence: { types: [] } }));

interface Poller {
  readonly token: string;
  since: string;
}

const BODY = /"body":"(event \d+)"/g;
const NEXT_BATCH = /"next_batch":"([^"]+)"/;

/**
 * Each client long-polls on its own socket, with HTTP/1.1 written and read by hand (the
 * answers have a content-length): a thousand clients in this one process would otherwise
 * spend more time in the HTTP client than the node spends answering them. Reports the
 * bodies of new messages with when their answer was read.
 */
function pollLoop(node: RunningSystem, poller: Poller, seen: (body: string, at: number) => void, stop: () => boolean): { done: Promise<void>; socket: Socket } {
  const socket = connect(node.port, node.host);
  socket.setNoDelay(true);
  const ask = (): void => {
    socket.write(`GET /_matrix/client/v3/sync?since=${poller.since}&timeout=30000&filter=${FILTER} HTTP/1.1\r\nhost: ${node.host}\r\nauthorization: Bearer ${poller.token}\r\n\r\n`);
  };
  let buffer = '';
  const done = new Promise<void>((resolve, reject) => {
    socket.on('connect', ask);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        const headersEnd = buffer.indexOf('\r\n\r\n');
        if (headersEnd < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, headersEnd))?.[1]);
        if (!buffer.startsWith('HTTP/1.1 200')) return reject(new Error(`sync answered ${buffer.slice(0, 200)}`));
        if (buffer.length < headersEnd + 4 + length) return;
        const body = buffer.slice(headersEnd + 4, headersEnd + 4 + length);
        buffer = buffer.slice(headersEnd + 4 + length);
        const at = performance.now();
        poller.since = NEXT_BATCH.exec(body)![1]!;
        for (const match of body.matchAll(BODY)) seen(match[1]!, at);
        if (stop()) {
          socket.end();
          return resolve();
        }
        ask();
      }
    });
    socket.on('error', (error) => (stop() ? resolve() : reject(error)));
    socket.on('close', () => resolve());
  });
  return { done, socket };
}

async function matrixLatency(options: MatrixBenchOptions, node: RunningSystem, histogram: LatencyHistogram): Promise<{ kibPerClient: number; cpuMsPerEvent: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients + 16 });
  const sender = (await call(agent, node, 'POST', '/_matrix/client/v3/register?kind=guest', undefined, {})).json;
  const room = (await call(agent, node, 'POST', '/_matrix/client/v3/createRoom', sender.access_token as string, { preset: 'public_chat' })).json.room_id as string;
  const pollers: Poller[] = [];
  for (let i = 0; i < options.clients; i++) {
    const guest = (await call(agent, node, 'POST', '/_matrix/client/v3/register?kind=guest', undefined, {})).json;
    const token = guest.access_token as string;
    const joined = await call(agent, node, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(room)}`, token, {});
    if (joined.status !== 200) throw new Error(`join answered ${joined.status}: ${JSON.stringify(joined.json)}`);
    pollers.push({ token, since: '' });
  }
  for (const poller of pollers) {
    poller.since = (await call(agent, node, 'GET', `/_matrix/client/v3/sync?timeout=0&filter=${FILTER}`, poller.token)).json.next_batch as string;
  }
  const idleKiB = rssKiB(node.pid);
  let stopping = false;
  let waiting: { body: string; sentAt: number; left: number; done: () => void } | undefined;
  const seen = (body: string, at: number): void => {
    if (waiting === undefined || body !== waiting.body) return;
    histogram.record(Math.max(1, Math.round((at - waiting.sentAt) * 1000)));
    if (--waiting.left === 0) waiting.done();
  };
  const loops = pollers.map((poller) => pollLoop(node, poller, seen, () => stopping));
  // A poll that fails ends the run with its error (not as an unhandled rejection).
  let failure: Error | undefined;
  for (const loop of loops) {
    loop.done.catch((error: Error) => {
      failure ??= error;
      waiting?.done();
    });
  }
  // Every client is in a long-poll once the node holds as many open requests; the RSS then counts them.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const pollingKiB = rssKiB(node.pid);
  const token = sender.access_token as string;
  const ticksBefore = cpuTicks(node.pid);
  for (let i = 0; i < options.events; i++) {
    const body = `event ${i}`;
    const all = new Promise<void>((done) => (waiting = { body, sentAt: performance.now(), left: options.clients, done }));
    const sent = await call(agent, node, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/t${i}`, token, { msgtype: 'm.text', body });
    if (sent.status !== 200) throw new Error(`send answered ${sent.status}`);
    await all;
    if (failure !== undefined) throw failure;
  }
  const cpuMsPerEvent = ((cpuTicks(node.pid) - ticksBefore) * 1000) / options.ticksPerSecond / options.events;
  stopping = true;
  agent.destroy();
  for (const loop of loops) loop.socket.destroy();
  await Promise.allSettled(loops.map((loop) => loop.done));
  return { kibPerClient: (pollingKiB - idleKiB) / options.clients, cpuMsPerEvent };
}

/** Returns the node's CPU time per message, in ms. */
async function nativeLatency(options: MatrixBenchOptions, node: RunningSystem, histogram: LatencyHistogram): Promise<number> {
  const url = `ws://${node.host}:${node.port}/`;
  const channel = 'bench-native-latency';
  let waiting: { body: string; sentAt: number; left: number; done: () => void } | undefined;
  const subscribers: ParleyClient[] = [];
  for (let i = 0; i < options.clients; i++) {
    const client = new ParleyClient({ url, uid: `sub${i}` });
    await client.connect();
    const subscription = client.subscribe(channel, { from: 'now' });
    subscription.on('message', (message) => {
      const at = performance.now();
      const body = new TextDecoder().decode(message.payload);
      if (waiting === undefined || body !== waiting.body) return;
      histogram.record(Math.max(1, Math.round((at - waiting.sentAt) * 1000)));
      if (--waiting.left === 0) waiting.done();
    });
    subscribers.push(client);
  }
  const publisher = new ParleyClient({ url, uid: 'publisher' });
  await publisher.connect();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ticksBefore = cpuTicks(node.pid);
  for (let i = 0; i < options.events; i++) {
    const body = `native ${i}`;
    const all = new Promise<void>((done) => (waiting = { body, sentAt: performance.now(), left: options.clients, done }));
    await publisher.publish(channel, body);
    await all;
  }
  const cpuMsPerEvent = ((cpuTicks(node.pid) - ticksBefore) * 1000) / options.ticksPerSecond / options.events;
  await Promise.all([publisher, ...subscribers].map((c) => c.close()));
  return cpuMsPerEvent;
}

export async function runMatrixBench(options: MatrixBenchOptions): Promise<MatrixBenchResult> {
  const node = await startSystem('parley', options.systemOpts, {
    mode: 'memory',
    extraArgs: ['--matrix', '--matrix-registration', 'open', '--matrix-login-rate', '0', '--matrix-send-rate', '0', '--server-name', 'bench.test'],
  });
  try {
    options.log(`[matrix] ${options.clients} long-polling clients, ${options.events} events`);
    const matrix = new LatencyHistogram();
    const { kibPerClient, cpuMsPerEvent } = await matrixLatency(options, node, matrix);
    options.log(`[matrix] native protocol: ${options.clients} subscribers, ${options.events} messages`);
    const native = new LatencyHistogram();
    const nativeCpuMsPerEvent = await nativeLatency(options, node, native);
    return {
      clients: options.clients,
      events: options.events,
      matrix: matrix.summary(),
      native: native.summary(),
      kibPerSyncingClient: kibPerClient,
      matrixCpuMsPerEvent: cpuMsPerEvent,
      nativeCpuMsPerEvent,
    };
  } catch (error) {
    throw new Error(`${String(error)}; the node's last output:\n${node.output()}`);
  } finally {
    await node.stop();
  }
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;

export function matrixMarkdown(result: MatrixBenchResult): string {
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const m = result.matrix;
  const n = result.native;
  return [
    `### (m) Matrix: send to long-poll delivery, ${result.clients} clients, ${result.events} events one at a time`,
    '',
    '| protocol | deliveries | p50 | p99 | node CPU per event | target |',
    '|---|---|---|---|---|---|',
    `| Matrix /sync long-poll | ${m.count} | ${ms(m.p50Us)} | ${ms(m.p99Us)} | ${result.matrixCpuMsPerEvent.toFixed(1)} ms | p50 < 10 ms: ${verdict(m.p50Us < 10_000)}; p99 < 50 ms: ${verdict(m.p99Us < 50_000)} |`,
    `| native protocol (parley.v1) | ${n.count} | ${ms(n.p50Us)} | ${ms(n.p99Us)} | ${result.nativeCpuMsPerEvent.toFixed(1)} ms | |`,
    '',
    `Memory: ${result.kibPerSyncingClient.toFixed(1)} KiB of node RSS per long-polling client (target < 50 KB: ${verdict(result.kibPerSyncingClient * 1024 < 50_000)}).`,
    '',
    'One `--memory --matrix` node; guest accounts in one public room, each long-polling /sync (lazy-loaded members, timeline limit 1) on its own keep-alive connection; the latency runs from just before the sender\'s PUT to the read of each client\'s answer, and the next event goes once all have it. The native row is the client SDK on the same node, publishing the same way. Node CPU per event is the node\'s user + system time over the run divided by the events: the cost of answering every client once (and of taking its next poll), which other load on the machine does not inflate as it does latency. Clients and sender share one process, so the figures include their own work.',
    '',
  ].join('\n');
}
