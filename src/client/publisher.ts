// Publishing with retries that cannot duplicate: each publish gets a cid and waits in
// the bounded outbox until its ack; whatever is unacked when a connection comes up is
// (re-)sent oldest first, with `retry: true` when it may have reached the node before.
// STORE_FAILED (nothing was stored) is re-sent with the same cid a moment later. The
// connection, the node's frame limit and auth values come from the client.

import { encodeFrame, MAX_TOKEN_LENGTH } from '../native/frames.ts';
import type { AckFrame } from '../native/frames.ts';
import type { Connection } from './connection.ts';
import { ParleyError } from './errors.ts';
import { CidGenerator, Outbox } from './outbox.ts';
import type { OutboxEntry, OutboxLimits } from './outbox.ts';
import { PendingTable } from './pending.ts';
import type { PublishOptions, PublishResult } from './options.ts';

/** Delay before re-sending a publish the node could not store (STORE_FAILED). */
const STORE_RETRY_MS = 1000;

export interface PublisherHost {
  /** The open, welcomed connection, if any. */
  connection(): Connection | undefined;
  /** The largest frame the node accepts (welcome.max), once known. */
  maxFrame(): number | undefined;
  authFor(channel: string): string | undefined;
}

const utf8 = new TextEncoder();

export class Publisher {
  readonly #host: PublisherHost;
  readonly #outbox: Outbox;
  readonly #pending = new PendingTable<PublishResult>('publish', 'cid');
  readonly #cids = new CidGenerator();
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();
  readonly #timeoutMs: number;

  constructor(host: PublisherHost, limits: OutboxLimits | undefined, timeoutMs: number) {
    this.#host = host;
    this.#outbox = new Outbox(limits);
    this.#timeoutMs = timeoutMs;
  }

  /** Publishes waiting for their ack. */
  get waiting(): number {
    return this.#outbox.size;
  }

  publish(channel: string, payload: Uint8Array | string, options: PublishOptions): Promise<PublishResult> {
    const cid = options.cid ?? this.#cids.next();
    if (typeof cid !== 'string' || cid.length === 0 || cid.length > MAX_TOKEN_LENGTH) throw new RangeError(`cid must be 1-${MAX_TOKEN_LENGTH} characters`);
    if (this.#outbox.has(cid)) throw new RangeError(`a publish with cid ${cid} is already waiting for its ack`);
    // A copy: the caller may reuse its buffer, and a re-send must carry the same bytes.
    const bytes = typeof payload === 'string' ? utf8.encode(payload) : payload.slice();
    if (!this.#outbox.fits(bytes.byteLength)) {
      return Promise.reject(new ParleyError('OUTBOX_FULL', undefined, { channel, cid }));
    }
    const entry = this.#outbox.add({ cid, channel, payload: bytes, binary: options.binary ?? true }, options.retry === true);
    const result = this.#pending.add(
      cid,
      { timeoutMs: options.timeoutMs ?? this.#timeoutMs, signal: options.signal, onSettled: () => this.#outbox.remove(cid) },
      { channel },
    );
    this.#send(entry);
    return result;
  }

  /** A connection came up: send everything unacked, oldest first. */
  resendAll(): void {
    for (const entry of this.#outbox.entries()) this.#send(entry);
  }

  acked(frame: AckFrame): void {
    this.#pending.resolve(frame.cid, { channel: frame.ch, cid: frame.cid, seq: frame.seq, id: frame.id, ts: frame.ts, duplicate: frame.dup });
  }

  /** An `err` about a cid; false when no publish with that cid is waiting. */
  refused(cid: string, error: ParleyError): boolean {
    const entry = this.#outbox.get(cid);
    if (entry === undefined) return false;
    if (error.code === 'STORE_FAILED') {
      const timer = setTimeout(() => {
        this.#retries.delete(timer);
        if (this.#outbox.get(cid) === entry) this.#send(entry);
      }, STORE_RETRY_MS);
      this.#retries.add(timer);
      return true;
    }
    return this.#pending.reject(cid, error);
  }

  rejectAll(error: ParleyError): void {
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
    this.#pending.rejectAll(error);
  }

  #send(entry: OutboxEntry): void {
    const connection = this.#host.connection();
    if (connection === undefined || !connection.open) return;
    const bytes = encodeFrame({
      t: 'pub',
      ch: entry.channel,
      cid: entry.cid,
      p: entry.payload,
      auth: this.#host.authFor(entry.channel),
      bin: entry.binary ? undefined : false,
      retry: entry.sent ? true : undefined,
    });
    const max = this.#host.maxFrame();
    if (max !== undefined && bytes.byteLength > max) {
      this.#pending.reject(entry.cid, new ParleyError('TOO_LARGE', `the publish is ${bytes.byteLength} bytes; the node accepts at most ${max}`, { channel: entry.channel, cid: entry.cid }));
      return;
    }
    connection.sendBytes(bytes);
    entry.sent = true;
  }
}
