// The native publishers (on A, on B, and the probe of the disk-full phase): every ack
// remembered, and refused or cut-off publishes sent again with the same cid.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Frame } from '../../test/helpers/native-client.ts';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import type { Random } from '../../test/helpers/random.ts';
import { hex, makePayload } from './common.ts';
import type { DiskState } from './disk.ts';
import { ReconnectingClient } from './reconnecting-client.ts';
import { PUBLISH_RATE, RETRY_MS, TICK_MS, WINDOW } from './shape.ts';

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
export class Publisher {
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
  producing = true;
  readonly #rng: Random;
  readonly #disk: DiskState;
  readonly #link: ReconnectingClient;
  #counter = 0;
  #quota = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(name: string, node: NetworkNode, channels: readonly string[], rate: number, rng: Random, disk: DiskState) {
    this.name = name;
    this.node = node;
    this.channels = channels;
    this.rate = rate;
    this.#rng = rng;
    this.#disk = disk;
    this.#link = new ReconnectingClient(node.wsUrl, name, {
      onFrame: (frame) => this.#onFrame(frame),
      // Whatever was sent before has an unknown outcome: send it again, marked as a retry.
      onOpen: () => {
        for (const [cid, entry] of this.pending) this.#send(cid, entry, true);
      },
      onClose: () => {
        for (const entry of this.pending.values()) entry.sent = false;
      },
    });
  }

  /** Connections opened so far. */
  get connections(): number {
    return this.#link.connections;
  }

  start(): void {
    this.#link.start();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  #send(cid: string, entry: Pending, retry: boolean): void {
    const client = this.#link.client;
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
    if (!this.producing || this.#link.client === undefined) return;
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
    clearInterval(this.#timer);
    await this.#link.stop();
  }
}
