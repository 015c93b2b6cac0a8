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
//   npm run bench -- soak [--quick] [--duration MS] [--seed N] [--no-disk-full]

import { randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { NativeTestClient, type Frame } from '../test/helpers/native-client.ts';
import { MlesTestClient } from '../test/helpers/mles-client.ts';
import type { NodeProcess } from '../test/helpers/node-process.ts';
import { converged, startNetworkNode, storedMessages, type ListedMessage, type NetworkNode } from '../test/helpers/peer-network.ts';
import { Random } from '../test/helpers/random.ts';
import { cpuModel, rssKiB } from './proc.ts';

export const SOAK_USAGE = `usage: npm run bench -- soak [options]
  --duration MS   load time (default 180000: 3 minutes)
  --quick         a short run: 30 s of load
  --seed N        replay the schedule and choices of an earlier run (printed at the start)
  --no-disk-full  leave out the full disk (and the tmpfs it needs): restarts and load only
`;

const CHANNELS = ['soak-0', 'soak-1', 'soak-2', 'soak-3'];
/** The channels B's subscriber follows (and B's publisher writes to the first). */
const FOLLOWED = ['soak-0', 'soak-1'];
const TMPFS_MIB = 64;
/**
 * How far above its baseline A's idle RSS may end. A healthy run ends some 10 MiB above
 * it (V8 keeps heap it has grown into for a while after the load, SQLite its page cache),
 * and the peak under load is some 40 MiB above it; 64 MiB leaves room for a late garbage
 * collection on a busy machine. A leak does not: A's last process stores some 25,000
 * messages after its baseline in a full run, so 2.5 KiB kept per message (or per refused
 * publish of the disk-full phase, or a few hundred KiB per reconnecting client) trips it.
 */
const RSS_MARGIN_MIB = 64;
const NATIVE_PUBLISHERS = 3;
/** Publishes per second of each native publisher on A, plus bursts. */
const PUBLISH_RATE = 60;
/** Unacknowledged publishes per publisher, refused ones awaiting their retry included. */
const WINDOW = 256;
const MLES_USERS = 3;
/** Frames per second of each Mles client while joined. */
const MLES_RATE = 10;
const HTTP_PAUSE_MS = 100;
const TICK_MS = 50;
const SETTLE_MS = 10_000;
/** Time to wait, at the end, for publishes still unacknowledged. */
const DRAIN_MS = 30_000;
/** A STORE_FAILED publish is sent again (with the same cid) after this. */
const RETRY_MS = 500;

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function hex(bytes: unknown): string {
  return bytes instanceof Uint8Array ? Buffer.from(bytes).toString('hex') : '';
}

/** The tag a payload starts with (up to the first ';'): who sent it and its number. */
function tagOf(payload: Uint8Array | string): string {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('latin1', 0, Math.min(payload.length, 64));
  const end = text.indexOf(';');
  return end < 0 ? text : text.slice(0, end);
}

function makePayload(tag: string, rng: Random): Buffer {
  return Buffer.concat([Buffer.from(`${tag};`), rng.bytes(16 + rng.int(496))]);
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);

/** When the disk-full phase ran: refusals inside it are expected, outside it they are not. */
class DiskState {
  fullSince: number | undefined;
  recoveredAt: number | undefined;
  isFull(now = performance.now()): boolean {
    return this.fullSince !== undefined && now >= this.fullSince && (this.recoveredAt === undefined || now <= this.recoveredAt + 1000);
  }
}

// ---- node A: restarts and crashes --------------------------------------------------

interface LogLine {
  /** What happened: the message, with the error or close code it names. */
  readonly what: string;
  readonly detail: string;
}

/** The lines a node logged (JSON lines on stdout) at warn level or above. */
function warnings(proc: NodeProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of proc.stdout) {
    if (!/"level":[4-6]0/.test(line)) continue;
    try {
      const parsed = JSON.parse(line) as { msg?: unknown; code?: unknown; detail?: unknown; err?: { message?: unknown } };
      const err = parsed.err?.message === undefined ? '' : `: ${String(parsed.err.message)}`;
      out.push({ what: `${String(parsed.msg)}${err}${parsed.code === undefined ? '' : ` (${String(parsed.code)})`}`, detail: parsed.detail === undefined ? '' : String(parsed.detail) });
    } catch {
      // not a log line
    }
  }
  return out;
}

/** Log lines counted by what they say, with the first detail of each. */
function summarize(lines: readonly LogLine[]): string[] {
  const counts = new Map<string, { n: number; detail: string }>();
  for (const l of lines) {
    const c = counts.get(l.what) ?? { n: 0, detail: l.detail };
    c.n++;
    counts.set(l.what, c);
  }
  return [...counts].map(([what, c]) => `${c.n} x ${what}${c.detail === '' ? '' : `, e.g. ${c.detail}`}`);
}

class NodeA {
  readonly net: NetworkNode;
  up = true;
  terms = 0;
  kills = 0;
  readonly problems: string[] = [];
  /** What earlier processes logged at warn level or above. */
  readonly logged: LogLine[] = [];
  /** The highest RSS sampled, over all of A's processes. */
  peakKiB = 0;
  #expectExit = false;
  #stopping = false;

  constructor(net: NetworkNode) {
    this.net = net;
    this.#watch();
  }

  get pid(): number | undefined {
    return this.up ? this.net.process.child.pid : undefined;
  }

  #watch(): void {
    const proc = this.net.process;
    proc.child.once('exit', (code, signal) => {
      if (this.#expectExit || this.#stopping) return;
      this.up = false;
      this.logged.push(...warnings(proc));
      this.problems.push(`A exited by itself (${code ?? signal}); last output: ${proc.stderr.slice(-3).join(' | ') || proc.stdout.slice(-2).join(' | ')}`);
      log(`!! A exited by itself (${code ?? signal}); starting it again`);
      void this.#startAgain();
    });
  }

  /** Starts A again on its port and data, trying for a minute; false if it would not start. */
  async #startAgain(): Promise<boolean> {
    const deadline = performance.now() + 60_000;
    for (let attempt = 0; !this.#stopping && performance.now() < deadline; attempt++) {
      try {
        await this.net.start();
        this.#watch();
        this.up = true;
        return true;
      } catch (e) {
        if (attempt % 10 === 0) log(`!! A did not start: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
        await sleep(500);
      }
    }
    this.problems.push('A would not start again within a minute');
    return false;
  }

  /** Stops A with a signal and starts it again on the same port and data; returns the time it was down. */
  async restart(signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
    const started = performance.now();
    const proc = this.net.process;
    this.#expectExit = true;
    this.up = false;
    const exited = proc.stop(signal);
    const code = await Promise.race([exited, sleep(15_000, 'timeout' as const)]);
    if (code === 'timeout') {
      this.problems.push(`A did not exit within 15 s of ${signal}`);
      await proc.stop('SIGKILL');
    } else if (signal === 'SIGTERM' && code !== 0) {
      this.problems.push(`A exited with ${code} on SIGTERM`);
    }
    this.logged.push(...warnings(proc));
    if (signal === 'SIGTERM') this.terms++;
    else this.kills++;
    const back = await this.#startAgain();
    this.#expectExit = false;
    if (!back) throw new Error(`A would not start again after ${signal}: ${this.net.process.stderr.slice(-5).join(' | ')}`);
    return performance.now() - started;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.logged.push(...warnings(this.net.process));
    await this.net.stop('SIGTERM');
  }
}

// ---- load ----------------------------------------------------------------------

interface AckRecord {
  readonly node: string;
  readonly channel: string;
  readonly seq: number;
  readonly id: string;
  readonly tag: string;
}

interface Pending {
  readonly channel: string;
  readonly payload: Buffer;
  /** Sent on the current connection and not refused since. */
  sent: boolean;
  retryAt: number;
}

/** A native publisher: acked publishes are remembered; refused ones and those cut off by a restart are sent again with the same cid. */
class Publisher {
  readonly name: string;
  readonly node: NetworkNode;
  readonly channels: readonly string[];
  readonly rate: number;
  readonly acked = new Map<string, AckRecord>();
  readonly pending = new Map<string, Pending>();
  readonly problems: string[] = [];
  refusedWhileFull = 0;
  refusedOtherwise = 0;
  /** Publishes refused at least once (each may be refused many times before it is stored). */
  readonly refusedCids = new Set<string>();
  connections = 0;
  producing = true;
  readonly #rng: Random;
  readonly #disk: DiskState;
  #client: NativeTestClient | undefined;
  #counter = 0;
  #quota = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(name: string, node: NetworkNode, channels: readonly string[], rate: number, rng: Random, disk: DiskState) {
    this.name = name;
    this.node = node;
    this.channels = channels;
    this.rate = rate;
    this.#rng = rng;
    this.#disk = disk;
  }

  start(): void {
    void this.#connectLoop();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  async #connectLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        const client = await NativeTestClient.connect(this.node.wsUrl, this.name);
        this.connections++;
        client.ws.on('message', () => {
          client.wsMessages.length = 0;
          for (const frame of client.frames.splice(0)) this.#onFrame(frame);
        });
        for (const frame of client.frames.splice(0)) this.#onFrame(frame);
        this.#client = client;
        // Whatever was sent before has an unknown outcome: send it again, marked as a retry.
        for (const [cid, entry] of this.pending) this.#send(cid, entry, true);
        await client.closed;
      } catch {
        // the node is down: try again shortly
      }
      this.#client = undefined;
      for (const entry of this.pending.values()) entry.sent = false;
      if (!this.#stopped) await sleep(200);
    }
  }

  #send(cid: string, entry: Pending, retry: boolean): void {
    const client = this.#client;
    if (client === undefined || client.ws.readyState !== client.ws.OPEN) return;
    client.send({ t: 'pub', ch: entry.channel, cid, p: entry.payload, ...(retry ? { retry: true } : {}) });
    entry.sent = true;
  }

  /** Publishes one message now (or as soon as connected); returns its cid. */
  publishOne(channel = this.#rng.pick(this.channels)): string {
    const cid = `${this.name}-${this.#counter++}`;
    const entry: Pending = { channel, payload: makePayload(cid, this.#rng), sent: false, retryAt: 0 };
    this.pending.set(cid, entry);
    this.#send(cid, entry, false);
    return cid;
  }

  #tick(): void {
    const now = performance.now();
    for (const [cid, entry] of this.pending) if (!entry.sent && entry.retryAt <= now) this.#send(cid, entry, true);
    if (!this.producing || this.#client === undefined) return;
    this.#quota = Math.min(WINDOW, this.#quota + (this.rate * TICK_MS) / 1000);
    if (this.#rng.next() < (0.01 * this.rate) / PUBLISH_RATE) this.#quota += 50 + this.#rng.int(150); // a burst
    while (this.#quota >= 1 && this.pending.size < WINDOW) {
      this.publishOne();
      this.#quota--;
    }
  }

  #onFrame(frame: Frame): void {
    if (frame.t === 'ack') {
      const cid = String(frame.cid);
      const record: AckRecord = { node: this.node.name, channel: String(frame.ch), seq: Number(frame.seq), id: hex(frame.id), tag: cid };
      const before = this.acked.get(cid);
      if (before !== undefined && (before.seq !== record.seq || before.id !== record.id)) {
        this.problems.push(`${cid} acked twice, as seq ${before.seq} and as seq ${record.seq}${frame.dup === true ? ' (dup)' : ''}`);
      }
      if (before === undefined) this.acked.set(cid, record);
      this.pending.delete(cid);
    } else if (frame.t === 'err') {
      const cid = frame.cid === undefined ? undefined : String(frame.cid);
      const entry = cid === undefined ? undefined : this.pending.get(cid);
      if (frame.code === 'STORE_FAILED' && entry !== undefined) {
        if (this.#disk.isFull()) this.refusedWhileFull++;
        else this.refusedOtherwise++;
        this.refusedCids.add(cid!);
        entry.sent = false;
        entry.retryAt = performance.now() + RETRY_MS;
      } else if (this.problems.length < 20) {
        this.problems.push(`${this.name}: err ${String(frame.code)} ${String(frame.msg)}${cid === undefined ? '' : ` for ${cid}`}`);
      }
    }
  }

  /** Waits until every publish is acked, or the time is up. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.pending.size > 0 && performance.now() < deadline) await sleep(100);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#client?.close();
  }
}

interface Received {
  readonly seq: number;
  readonly id: string;
  readonly tag: string;
}

/** A native subscriber to some channels from their start, resuming from its cursors after every reconnect. */
class Follower {
  readonly name: string;
  readonly node: NetworkNode;
  readonly channels: readonly string[];
  readonly seen = new Map<string, Received[]>();
  readonly problems: string[] = [];
  connections = 0;
  refusedReplays = 0;
  #client: NativeTestClient | undefined;
  #stopped = false;

  constructor(name: string, node: NetworkNode, channels: readonly string[]) {
    this.name = name;
    this.node = node;
    this.channels = channels;
    for (const ch of channels) this.seen.set(ch, []);
  }

  cursor(channel: string): number {
    return this.seen.get(channel)?.at(-1)?.seq ?? 0;
  }

  start(): void {
    void this.#connectLoop();
  }

  async #connectLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        const client = await NativeTestClient.connect(this.node.wsUrl, this.name);
        this.connections++;
        client.ws.on('message', () => {
          client.wsMessages.length = 0;
          for (const frame of client.frames.splice(0)) this.#onFrame(frame);
        });
        this.#client = client;
        for (const ch of this.channels) client.send({ t: 'sub', ch, after: this.cursor(ch) });
        await client.closed;
      } catch {
        // the node is down: try again shortly
      }
      this.#client = undefined;
      if (!this.#stopped) await sleep(200);
    }
  }

  #onFrame(frame: Frame): void {
    const ch = String(frame.ch);
    if (frame.t === 'msg') {
      const list = this.seen.get(ch);
      if (list === undefined) return;
      const seq = Number(frame.seq);
      const last = list.at(-1)?.seq ?? 0;
      if (seq <= last) {
        this.problems.push(`${this.name} got ${ch} seq ${seq} again (after ${last})`);
        return;
      }
      if (seq !== last + 1) this.problems.push(`${this.name} got ${ch} seq ${seq} after ${last}: a gap`);
      list.push({ seq, id: hex(frame.id), tag: tagOf(frame.p instanceof Uint8Array ? frame.p : '') });
    } else if (frame.t === 'err') {
      if (frame.code === 'STORE_FAILED') {
        // The replay could not be read: subscribe again.
        this.refusedReplays++;
        setTimeout(() => this.#client?.send({ t: 'sub', ch, after: this.cursor(ch) }), RETRY_MS);
      } else {
        this.problems.push(`${this.name}: err ${String(frame.code)} on ${ch}: ${String(frame.msg)}${frame.first === undefined ? '' : ` (first ${String(frame.first)}, last ${String(frame.last)})`}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#client?.close();
  }
}

interface MlesSession {
  readonly channel: string;
  /** Tags of the binary frames received, history and live, in order. */
  readonly tags: string[];
}

/** An Mles client that joins a channel under a fresh uid, publishes for a while, leaves, and joins again. */
class MlesUser {
  readonly index: number;
  readonly node: NetworkNode;
  readonly sessions: MlesSession[] = [];
  sent = 0;
  received = 0;
  quiet = false;
  readonly #rng: Random;
  #client: MlesTestClient | undefined;
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(index: number, node: NetworkNode, rng: Random) {
    this.index = index;
    this.node = node;
    this.#rng = rng;
  }

  start(): void {
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    for (let session = 0; !this.#stopped; session++) {
      if (this.quiet) {
        await sleep(100);
        continue;
      }
      const channel = this.#rng.pick(CHANNELS);
      const uid = `mles${this.index}.${session}`;
      let client: MlesTestClient;
      try {
        client = new MlesTestClient(this.node.wsUrl);
        await client.opened();
      } catch {
        await sleep(200);
        continue;
      }
      const record: MlesSession = { channel, tags: [] };
      this.sessions.push(record);
      client.ws.on('message', (data, binary) => {
        client.received.length = 0;
        if (!binary) return; // join headers, in the history
        this.received++;
        record.tags.push(tagOf(data as Buffer));
      });
      client.ws.send(JSON.stringify({ uid, channel }));
      this.#client = client;
      const stay = 2000 + this.#rng.int(8000);
      const until = performance.now() + stay;
      for (let k = 0; client.ws.readyState === client.ws.OPEN && (this.quiet || performance.now() < until) && !this.#stopped; ) {
        if (!this.quiet && this.#rng.next() < (MLES_RATE * TICK_MS) / 1000) {
          client.send(makePayload(`${uid}-${k++}`, this.#rng));
          this.sent++;
        }
        await sleep(TICK_MS);
      }
      await client.close();
      this.#client = undefined;
      if (!this.#stopped) await sleep(100 + this.#rng.int(400));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#client?.close();
    await this.#done;
  }
}

/** Reads pages of messages over HTTP, forward and back, and checks each page on its own. */
class HttpReader {
  readonly node: NetworkNode;
  ok = 0;
  unavailable = 0;
  readonly problems: string[] = [];
  readonly #rng: Random;
  readonly #last = new Map<string, number>();
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(node: NetworkNode, rng: Random) {
    this.node = node;
    this.#rng = rng;
  }

  start(): void {
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const channel = this.#rng.pick(CHANNELS);
      const last = this.#last.get(channel) ?? 0;
      const r = this.#rng.next();
      if (r < 0.45) await this.#page(channel, { after: this.#rng.int(last + 1), limit: 1 + this.#rng.int(200) });
      else if (r < 0.9) await this.#page(channel, { before: 1 + this.#rng.int(last + 1), limit: 1 + this.#rng.int(200) });
      else await this.#walk(channel);
      await sleep(HTTP_PAUSE_MS);
    }
  }

  async #get(channel: string, query: Record<string, number>): Promise<{ messages: Array<{ seq: number }>; first: number; last: boolean; next?: number } | undefined> {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const url = `${this.node.httpUrl}v1/channels/${channel}/messages?${params}`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    } catch {
      this.unavailable++;
      return undefined;
    }
    const body = await response.text().catch(() => '');
    if (response.status !== 200) {
      if (this.problems.length < 20) this.problems.push(`GET ${channel}?${params}: ${response.status} ${body.slice(0, 200)}`);
      return undefined;
    }
    this.ok++;
    return JSON.parse(body) as { messages: Array<{ seq: number }>; first: number; last: boolean; next?: number };
  }

  #note(what: string): void {
    if (this.problems.length < 20) this.problems.push(what);
  }

  /** One page; its seqs must run without a gap from where it was asked to start. */
  async #page(channel: string, query: { after?: number; before?: number; limit: number }): Promise<void> {
    const page = await this.#get(channel, query);
    if (page === undefined) return;
    const seqs = page.messages.map((m) => m.seq);
    const top = seqs.at(-1);
    if (top !== undefined) this.#last.set(channel, Math.max(top, this.#last.get(channel) ?? 0));
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1]! + 1) return this.#note(`GET ${channel} ${JSON.stringify(query)}: seq ${seqs[i]} after ${seqs[i - 1]}`);
    }
    if (query.after !== undefined && seqs.length > 0 && seqs[0] !== Math.max(query.after + 1, page.first)) {
      this.#note(`GET ${channel} after=${query.after}: page starts at ${seqs[0]}, first stored ${page.first}`);
    }
    if (query.before !== undefined && top !== undefined && query.before <= (this.#last.get(channel) ?? 0) && top !== query.before - 1) {
      this.#note(`GET ${channel} before=${query.before}: page ends at ${top}`);
    }
  }

  /** Pages through a whole channel, 500 at a time. */
  async #walk(channel: string): Promise<void> {
    let after = 0;
    for (let pages = 0; pages < 1000 && !this.#stopped; pages++) {
      const page = await this.#get(channel, { after, limit: 500 });
      if (page === undefined) return;
      const seqs = page.messages.map((m) => m.seq);
      if (seqs.length > 0 && seqs[0] !== after + 1) return this.#note(`walk of ${channel}: ${seqs[0]} follows ${after}`);
      for (let i = 1; i < seqs.length; i++) {
        if (seqs[i] !== seqs[i - 1]! + 1) return this.#note(`walk of ${channel}: seq ${seqs[i]} after ${seqs[i - 1]}`);
      }
      if (page.last || seqs.length === 0) {
        if (seqs.length > 0) this.#last.set(channel, Math.max(seqs.at(-1)!, this.#last.get(channel) ?? 0));
        return;
      }
      after = seqs.at(-1)!;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

// ---- the disk --------------------------------------------------------------------

interface Scratch {
  readonly dir: string;
  readonly mounted: boolean;
  /** Why it is not a tmpfs of its own, if not. */
  readonly why?: string;
}

function makeScratch(mount: boolean): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'parley-soak-a-'));
  if (!mount) return { dir, mounted: false, why: '--no-disk-full' };
  if (process.getuid?.() !== 0) return { dir, mounted: false, why: 'not root: cannot mount a tmpfs' };
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { dir, mounted: false, why: `mount failed: ${(r.stderr || r.error?.message || '').trim()}` };
  return { dir, mounted: true };
}

/** Unmounts (retrying while a dying process still holds it, then lazily) and removes the directory. */
function dropScratch(scratch: Scratch): void {
  if (scratch.mounted) {
    let done = false;
    for (let i = 0; i < 20 && !done; i++) {
      done = spawnSync('umount', [scratch.dir]).status === 0;
      if (!done) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    if (!done && spawnSync('umount', ['-l', scratch.dir]).status !== 0) {
      log(`could not unmount ${scratch.dir}`);
      return;
    }
  }
  rmSync(scratch.dir, { recursive: true, force: true });
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes a ballast file until the filesystem is full; returns its size. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1)]) {
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

// ---- the schedule ------------------------------------------------------------------

interface Plan {
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
function makePlan(rng: Random, durationMs: number): Plan {
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

// ---- checks ------------------------------------------------------------------------

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

function samples(list: readonly string[], n = 5): string {
  return list.length === 0 ? '' : `: ${list.slice(0, n).join('; ')}${list.length > n ? `; ... (${list.length} in all)` : ''}`;
}

/** Seq problems of one stored channel, which must hold 1..n, each once: the missing ranges, and any seq out of order. */
function seqProblems(node: string, channel: string, messages: readonly ListedMessage[]): string[] {
  const out: string[] = [];
  let prev = 0;
  for (const { seq } of messages) {
    if (seq <= prev) out.push(`${node} ${channel}: seq ${seq} after ${prev}`);
    else if (seq > prev + 1) out.push(`${node} ${channel}: seqs ${prev + 1}-${seq - 1} missing (${seq - prev - 1})`);
    prev = Math.max(prev, seq);
  }
  return out;
}

/** A native replay of a whole channel: its messages and the node's newest seq (`live.last`). */
async function replay(node: NetworkNode, channel: string): Promise<{ messages: Received[]; last: number }> {
  const client = await NativeTestClient.connect(node.wsUrl, `verify-${channel}`);
  try {
    client.send({ t: 'sub', ch: channel, after: 0 });
    const live = await client.next((f) => (f.t === 'live' || f.t === 'err') && f.ch === channel, 30_000);
    if (live.t === 'err') throw new Error(`replay of ${channel} on ${node.name}: ${String(live.code)} ${String(live.msg)}`);
    const messages = client.messages(channel).map((f) => ({ seq: Number(f.seq), id: hex(f.id), tag: tagOf(f.p instanceof Uint8Array ? f.p : '') }));
    return { messages, last: Number(live.last) };
  } finally {
    await client.close();
  }
}

async function metricSum(node: NetworkNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

async function waitForLink(node: NetworkNode): Promise<void> {
  const deadline = performance.now() + 20_000;
  while ((await metricSum(node, 'parley_peer_up')) < 1) {
    if (performance.now() > deadline) throw new Error(`no peer link up on ${node.name} within 20 s`);
    await sleep(100);
  }
}

// ---- the run -------------------------------------------------------------------------

function intOption(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

/** Runs the soak; resolves with the exit status. */
export async function runSoak(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string' },
      'no-disk-full': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SOAK_USAGE);
    return 0;
  }
  const durationMs = intOption(values.duration, values.quick ? 30_000 : 180_000, 'duration');
  if (durationMs < 10_000) throw new Error('--duration must be at least 10000');
  const seed = intOption(values.seed, randomInt(1, 2 ** 31), 'seed');
  log(`soak: ${(durationMs / 1000).toFixed(0)} s of load, seed ${seed} (replay with --seed ${seed})`);
  const plan = makePlan(new Random(seed), durationMs);

  const scratch = makeScratch(!values['no-disk-full']);
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

/** Everyone who puts load on the nodes. */
interface Load {
  /** The native publishers on A. */
  readonly publishers: readonly Publisher[];
  /** The native publisher on B. */
  readonly remote: Publisher;
  /** Publishes one message on A when asked (to see A store again after the full disk). */
  readonly probe: Publisher;
  readonly allPublishers: readonly Publisher[];
  readonly mles: readonly MlesUser[];
  readonly http: HttpReader;
  readonly followA: Follower;
  readonly followB: Follower;
}

function startLoad(a: NodeA, b: NetworkNode, seed: number, disk: DiskState): Load {
  // A stream of its own for each client: the schedule and one client's choices do not
  // depend on how far another got.
  const rng = (i: number): Random => new Random((seed + 7919 * (i + 1)) >>> 0);
  const publishers = Array.from({ length: NATIVE_PUBLISHERS }, (_, i) => new Publisher(`pub${i}`, a.net, CHANNELS, PUBLISH_RATE, rng(i), disk));
  const remote = new Publisher('bpub', b, [FOLLOWED[0]!], 5, rng(10), disk);
  const probe = new Publisher('probe', a.net, [CHANNELS[0]!], 0, rng(11), disk);
  const load: Load = {
    publishers,
    remote,
    probe,
    allPublishers: [...publishers, remote, probe],
    mles: Array.from({ length: MLES_USERS }, (_, i) => new MlesUser(i, a.net, rng(20 + i))),
    http: new HttpReader(a.net, rng(30)),
    followA: new Follower('followA', a.net, CHANNELS),
    followB: new Follower('followB', b, FOLLOWED),
  };
  for (const x of [...load.allPublishers, ...load.mles, load.http, load.followA, load.followB]) x.start();
  return load;
}

const ackedCount = (load: Load): number => load.allPublishers.reduce((n, p) => n + p.acked.size, 0);
const refusedWhileFull = (load: Load): number => load.allPublishers.reduce((n, p) => n + p.refusedWhileFull, 0);

interface DiskFigures {
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

interface Verdict {
  readonly checks: Check[];
  readonly rows: Array<[string, string]>;
  /** Per channel and node: messages stored, the newest seq stored, the node's counter. */
  readonly counters: string[];
}

function check(name: string, problems: readonly string[], detail = ''): Check {
  return { name, ok: problems.length === 0, detail: problems.length === 0 ? detail : `${problems.length} problem(s)${samples(problems)}` };
}

/** Reads both stores and checks them against what was acked and what clients were handed. */
async function verify(a: NodeA, b: NetworkNode, load: Load): Promise<Verdict> {
  const stores = new Map<string, Map<string, ListedMessage[]>>([
    ['A', new Map()],
    ['B', new Map()],
  ]);
  for (const ch of CHANNELS) stores.get('A')!.set(ch, await storedMessages(a.net, ch));
  // B's stores once it has caught up: the same ids as A's, none twice.
  const convergence: string[] = [];
  for (const ch of FOLLOWED) {
    try {
      await converged([a.net, b], ch, 1, 30_000);
    } catch (e) {
      convergence.push(`${ch}: ${e instanceof Error ? e.message : String(e)}`);
    }
    stores.get('B')!.set(ch, await storedMessages(b, ch));
    stores.get('A')!.set(ch, await storedMessages(a.net, ch));
  }

  // Seqs 1..n on both nodes, and the node's own counter (a native replay's `live.last`) agreeing.
  const seqs: string[] = [];
  const readPaths: string[] = [];
  const counters: string[] = [];
  for (const [node, byChannel] of stores) {
    for (const [ch, messages] of byChannel) {
      seqs.push(...seqProblems(node, ch, messages));
      const native = await replay(node === 'A' ? a.net : b, ch);
      const top = messages.at(-1)?.seq ?? 0;
      counters.push(`${node} ${ch}: ${messages.length}, ${top}, ${native.last}`);
      if (native.last !== top) seqs.push(`${node} ${ch}: the node's last seq is ${native.last}, the newest stored ${top}`);
      const httpIds = messages.map((m) => `${m.seq}:${m.id}`).join();
      if (native.messages.map((m) => `${m.seq}:${m.id}`).join() !== httpIds) {
        readPaths.push(`${node} ${ch}: native replay (${native.messages.length}) differs from the HTTP pages (${messages.length})`);
      }
    }
  }

  // Every acked publish at its seq, with its id and payload, on the node that acked it; and on A.
  const lost: string[] = [];
  let lostOnA = 0;
  const idsOnA = new Set([...stores.get('A')!.values()].flatMap((list) => list.map((m) => m.id)));
  for (const p of load.allPublishers) {
    const byChannel = stores.get(p.node.name)!;
    for (const r of p.acked.values()) {
      const list = byChannel.get(r.channel) ?? [];
      const at = list[r.seq - 1];
      const found = at?.seq === r.seq ? at : list.find((m) => m.seq === r.seq);
      if (found === undefined || found.id !== r.id || tagOf(found.text) !== r.tag) {
        const elsewhere = list.find((m) => tagOf(m.text) === r.tag);
        lost.push(
          `${r.tag} acked on ${r.node} as ${r.channel} seq ${r.seq}: ${found === undefined ? 'no such seq' : `seq ${r.seq} holds ${tagOf(found.text)}`}` +
            `${elsewhere === undefined ? ', not stored anywhere in the channel' : `, stored as seq ${elsewhere.seq}`}`,
        );
      } else if (!idsOnA.has(r.id)) {
        lost.push(`${r.tag} acked on ${r.node} as ${r.channel} seq ${r.seq} but missing on A`);
        lostOnA++;
      }
    }
  }

  // Nothing stored twice.
  const twice: string[] = [];
  for (const [node, byChannel] of stores) {
    for (const [ch, messages] of byChannel) {
      const seen = new Set<string>();
      for (const m of messages) {
        const tag = tagOf(m.text);
        if (seen.has(tag)) twice.push(`${node} ${ch}: ${tag}`);
        seen.add(tag);
      }
    }
  }

  // What clients were handed: stored, each once, in one order.
  const handed: string[] = [];
  const seqOnA = new Map<string, Map<string, number>>();
  for (const [ch, messages] of stores.get('A')!) seqOnA.set(ch, new Map(messages.map((m) => [tagOf(m.text), m.seq])));
  let mlesReceived = 0;
  for (const m of load.mles) {
    for (const s of m.sessions) {
      const seqOf = seqOnA.get(s.channel)!;
      let prev = 0;
      for (const tag of s.tags) {
        mlesReceived++;
        const seq = seqOf.get(tag);
        if (seq === undefined) handed.push(`Mles client in ${s.channel} got ${tag}, which A does not store`);
        else if (seq <= prev) handed.push(`Mles client in ${s.channel} got ${tag} (seq ${seq}) after seq ${prev}`);
        else prev = seq;
      }
    }
  }
  for (const [follower, node] of [
    [load.followA, 'A'],
    [load.followB, 'B'],
  ] as const) {
    handed.push(...follower.problems);
    const byChannel = stores.get(node)!;
    for (const ch of follower.channels) {
      const stored = byChannel.get(ch) ?? [];
      const deadline = performance.now() + 15_000;
      while (follower.cursor(ch) < (stored.at(-1)?.seq ?? 0) && performance.now() < deadline) await sleep(100);
      const got = follower.seen.get(ch)!.map((m) => `${m.seq}:${m.id}`).join();
      if (got !== stored.map((m) => `${m.seq}:${m.id}`).join()) {
        handed.push(`${follower.name} ${ch}: received ${follower.seen.get(ch)!.length} messages (to seq ${follower.cursor(ch)}), ${node} stores ${stored.length}`);
      }
    }
  }

  const { allPublishers, remote, mles } = load;
  const unacked = allPublishers.flatMap((p) => [...p.pending.keys()]);
  const refusedOther = allPublishers.reduce((n, p) => n + p.refusedOtherwise, 0);
  const checks = [
    check('every acked message is stored at its seq, on the node that acked it and on A', lost, `${ackedCount(load)} acked`),
    check('seqs run 1..n in every channel, and the node counters agree', seqs),
    check('nothing stored twice', twice),
    check('the native replay and the HTTP pages agree', readPaths),
    check('B holds what A holds in the channels it follows', convergence),
    check('clients were handed only stored messages, once each, in order', handed),
    check('every publish was acked in the end', unacked.map((c) => `${c} unacked`)),
    check('publishes refused only while the disk was full', refusedOther > 0 ? [`${refusedOther} refused outside the disk-full phase`] : []),
    check('acks consistent, and no native error but STORE_FAILED', allPublishers.flatMap((p) => p.problems)),
    check('HTTP pages: every answer 200 and gap-free', load.http.problems),
    check('A exited only when told to, and promptly', a.problems),
  ];
  const onA = [...stores.get('A')!.values()];
  const rows: Array<[string, string]> = [
    ['native publishes acked (on A, on B)', `${ackedCount(load) - remote.acked.size}, ${remote.acked.size}`],
    ['acked and lost (where acked; on A, acked on B)', `${lost.length - lostOnA}; ${lostOnA}`],
    ['stored twice; seq gaps', `${twice.length}; ${seqs.length}`],
    [`messages stored on A (${CHANNELS.length} channels)`, String(onA.reduce((n, list) => n + list.length, 0))],
    [
      'publishes refused while the disk was full (STORE_FAILED)',
      `${refusedWhileFull(load)} refusals of ${allPublishers.reduce((n, p) => n + p.refusedCids.size, 0)} publishes`,
    ],
    ['publishes refused otherwise', String(refusedOther)],
    [
      'Mles joins; frames sent, stored, received',
      `${mles.reduce((n, m) => n + m.sessions.length, 0)}; ${mles.reduce((n, m) => n + m.sent, 0)}, ` +
        `${onA.reduce((n, list) => n + list.filter((m) => m.text.startsWith('mles')).length, 0)}, ${mlesReceived}`,
    ],
    ['HTTP pages read (refused while A was down)', `${load.http.ok} (${load.http.unavailable})`],
    [
      'peer messages B received from A (sent to A)',
      `${await metricSum(b, 'parley_peer_messages_received_total')} (${await metricSum(b, 'parley_peer_messages_sent_total')})`,
    ],
  ];
  return { checks, rows, counters };
}

async function soak(a: NodeA, b: NetworkNode, scratch: Scratch, plan: Plan, durationMs: number, seed: number, wall: number): Promise<number> {
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
        `mles sent ${load.mles.reduce((n, m) => n + m.sent, 0)}, http ${load.http.ok}, ` +
        `A ${a.up ? `RSS ${mib(rssNow)} MiB` : 'down'}${disk.isFull() ? ', disk full' : ''}`,
    );
  }, 10_000);

  // The schedule: restarts, the baseline, the full disk.
  let baselineKiB = Number.NaN;
  const downtimes: number[] = [];
  let full: DiskFigures | undefined;
  const chaos = (async () => {
    for (const r of plan.restarts) {
      await sleep(Math.max(0, started + r.atMs - performance.now()));
      log(`${stamp()} ${r.signal} to A`);
      downtimes.push(await a.restart(r.signal));
    }
    await sleep(plan.warmMs);
    baselineKiB = rssKiB(a.pid ?? 0);
    log(`${stamp()} A's baseline RSS ${mib(baselineKiB)} MiB`);
    if (!scratch.mounted) return;
    await sleep(Math.max(0, started + plan.diskFullAtMs - performance.now()));
    full = await diskFullPhase(a, scratch, plan, disk, load, stamp);
  })();
  chaos.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile

  await sleep(durationMs);
  await chaos;
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
  const checks = verdict.checks;
  if (full !== undefined) {
    checks.push(check('the full disk refused publishes', refusedWhileFull(load) > 0 ? [] : ['no publish was refused while the disk was full: the phase tested nothing']));
    checks.push(check('A stores again once the disk has room', full.recovered ? [] : ['no publish acked within 30 s of freeing the disk']));
  }
  checks.push(
    check(
      `A's idle RSS at most ${RSS_MARGIN_MIB} MiB above its baseline`,
      finalKiB <= baselineKiB + RSS_MARGIN_MIB * 1024 ? [] : [`${mib(finalKiB)} MiB after ${SETTLE_MS / 1000} s idle, baseline ${mib(baselineKiB)} MiB`],
    ),
  );

  // ---- report ----
  const rows: Array<[string, string]> = [
    ['load', `${(durationMs / 1000).toFixed(0)} s (${(loadMs / 1000).toFixed(0)} s with the last acks; ${((performance.now() - wall) / 1000).toFixed(0)} s in all)`],
    ['seed', String(seed)],
    ...verdict.rows.map(([k, v]): [string, string] => (k.startsWith('publishes refused while') && full === undefined ? [k, 'no disk-full phase'] : [k, v])),
  ];
  if (full !== undefined) {
    // Next to the refusals.
    rows.splice(rows.findIndex(([k]) => k === 'publishes refused otherwise') + 1, 0, [
      'disk full',
      `${mib(full.ballastBytes / 1024)} MiB ballast on the ${TMPFS_MIB} MiB tmpfs, held ${(full.heldMs / 1000).toFixed(1)} s, ` +
        `first refusal after ${(full.firstRefusalMs / 1000).toFixed(1)} s, ${full.warnings} warnings and errors logged`,
    ], ['stored again after the ballast went', full.recovered ? `${full.recoveryMs.toFixed(0)} ms` : 'not within 30 s']);
  }
  const meanDown = downtimes.length === 0 ? '-' : `${(downtimes.reduce((x, y) => x + y, 0) / downtimes.length / 1000).toFixed(1)} s`;
  rows.push(
    ['restarts of A', `${a.terms + a.kills} (${a.terms} SIGTERM, ${a.kills} SIGKILL), down ${meanDown} on average`],
    ['client reconnects (native publishers, subscriber on A)', `${load.publishers.reduce((n, p) => n + p.connections - 1, 0)}, ${load.followA.connections - 1}`],
    ['A RSS baseline / peak / final', `${mib(baselineKiB)} / ${mib(a.peakKiB)} / ${mib(finalKiB)} MiB`],
  );
  const machine = `${cpuModel()}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim() || '?'} cores (\`nproc\`), Linux ${release()}, node ${process.version}`;
  const failed = checks.filter((c) => !c.ok);
  const flags = `${durationMs === 180_000 ? '' : ` --duration ${durationMs}`}${scratch.why === '--no-disk-full' ? ' --no-disk-full' : ''}`;
  let out = `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- soak${flags}\` (seed ${seed}): ${machine}.\n\n`;
  out += `| figure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n\n`;
  out += `Checks:\n\n${checks.map((c) => `- [${c.ok ? 'x' : ' '}] ${c.name}${c.detail === '' ? '' : ` (${c.detail})`}`).join('\n')}\n`;
  if (failed.length > 0) out += `\nChannels (stored, newest seq stored, the node's counter):\n\n${verdict.counters.map((c) => `- ${c}`).join('\n')}\n`;
  for (const [name, lines] of [
    ['A', [...a.logged, ...warnings(a.net.process)]],
    ['B', warnings(b.process)],
  ] as const) {
    if (lines.length > 0) out += `\n${name} logged (warn and above):\n\n${summarize(lines).map((l) => `- ${l}`).join('\n')}\n`;
  }
  process.stdout.write(out);
  log(failed.length === 0 ? '\nsoak: every check passed' : `\nsoak: ${failed.length} check(s) failed (seed ${seed})`);

  await Promise.all([...load.allPublishers, ...load.mles, load.followA, load.followB].map((x) => x.stop()));
  return failed.length === 0 ? 0 : 1;
}
