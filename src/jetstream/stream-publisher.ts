// The publishing side of the JetStream log: this node's publishes go to the stream as
// runs, one stream message per run of a channel's publishes, and JetStream's
// acknowledgements come back to one inbox. An acknowledged publish waits in the
// PendingPublishes until the reading side applies its record; one JetStream does not
// store (an error, no leader, no acknowledgement in time) is failed at once.

import { createInbox, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Member, PublishCallback } from '../hub/hub.ts';
import type { AppendRequest } from '../store/store.ts';
import { encodeJoinHeaders, encodeRecords, MAX_RECORDS_PER_MESSAGE, type PublishRef } from './log-record.ts';
import { notStored, type PendingPublishes } from './pending-publishes.ts';
import { channelSubject, dedupId } from './subjects.ts';

export interface PublishEvents {
  /** A publish JetStream acknowledged, with the time it took. */
  onPublished?(seconds: number): void;
  /** A publish JetStream did not store; its publisher got `error`. */
  onPublishFailed?(error: Error): void;
}

/**
 * Bytes of records in one stream message at most (unless a single publish is larger), and
 * at most half of what the server takes in a message (1 MiB by default).
 */
const MAX_RUN_BYTES = 256 * 1024;
/** What a record takes beside its payload, uid and client id, about. */
const RECORD_FIELDS = 64;
/** How often publishes are checked for their timeout. */
const SWEEP_MS = 250;
const textDecoder = new TextDecoder();

export class StreamPublisher {
  readonly #connection: NatsConnection;
  readonly #stream: string;
  readonly #publishTimeoutMs: number;
  readonly #maxRunBytes: number;
  readonly #events: PublishEvents;
  readonly #tag: string;
  readonly #pending: PendingPublishes;
  readonly #acknowledged: (seq: number) => void;
  #nextRun = 0;
  /** The publishes (refs) of each run sent and not acknowledged yet. */
  readonly #runs = new Map<number, number[]>();
  /** When each run not acknowledged yet was sent, oldest first. */
  readonly #sentAt = new Map<number, number>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** Acknowledgements come to `${inbox}.${ref}`. */
  readonly #inbox: string;
  readonly #replies: Subscription;
  #published = 0;
  #failed = 0;

  /**
   * `tag` marks this process's records; `acknowledged` is told each stream seq JetStream
   * acknowledged, which the reading side must reach.
   */
  constructor(options: {
    connection: NatsConnection;
    stream: string;
    publishTimeoutMs: number;
    tag: string;
    pending: PendingPublishes;
    acknowledged: (seq: number) => void;
    events?: PublishEvents;
  }) {
    this.#connection = options.connection;
    this.#maxRunBytes = Math.min(MAX_RUN_BYTES, Math.floor((options.connection.info?.max_payload ?? 1024 * 1024) / 2));
    this.#stream = options.stream;
    this.#publishTimeoutMs = options.publishTimeoutMs;
    this.#events = options.events ?? {};
    this.#tag = options.tag;
    this.#pending = options.pending;
    this.#acknowledged = options.acknowledged;
    this.#inbox = createInbox();
    this.#replies = options.connection.subscribe(`${this.#inbox}.*`, {
      callback: (error, m) => {
        if (error === null) this.#onReply(m);
      },
    });
  }

  /** Runs sent and not acknowledged yet. */
  get inFlight(): number {
    return this.#sentAt.size;
  }

  /** Publishes JetStream acknowledged. */
  get published(): number {
    return this.#published;
  }

  /** Publishes JetStream did not store. */
  get failed(): number {
    return this.#failed;
  }

  /**
   * Publishes a turn's batch: one stream message per run of a channel's publishes (at
   * most MAX_RECORDS_PER_MESSAGE records and about MAX_RUN_BYTES), which costs NATS
   * and JetStream one message, one acknowledgement and one delivery per node for the run.
   */
  submit(requests: AppendRequest[], except: Array<Member | undefined>, done: Array<PublishCallback | undefined>): void {
    const ts = Date.now();
    const byChannel = new Map<string, number[]>();
    for (let i = 0; i < requests.length; i++) {
      const indexes = byChannel.get(requests[i]!.channel);
      if (indexes === undefined) byChannel.set(requests[i]!.channel, [i]);
      else indexes.push(i);
    }
    for (const [channel, indexes] of byChannel) {
      let run: Array<{ request: AppendRequest; from: PublishRef }> = [];
      let bytes = 0;
      for (const i of indexes) {
        const request = requests[i]!;
        const ref = this.#pending.add(except[i], done[i]);
        const size = request.payload.length + request.uid.length + (request.cid?.length ?? 0) + RECORD_FIELDS;
        if (run.length === MAX_RECORDS_PER_MESSAGE || (run.length > 0 && bytes + size > this.#maxRunBytes)) {
          this.#publishRun(channel, run, ts);
          run = [];
          bytes = 0;
        }
        run.push({ request, from: { node: this.#tag, ref } });
        bytes += size;
      }
      this.#publishRun(channel, run, ts);
    }
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
  }

  /**
   * Publishes Mles join headers of a channel, in order, as stream messages of their own.
   * No one waits for them: one JetStream does not store is logged (onPublishFailed).
   */
  submitJoinHeaders(channel: string, frames: readonly Uint8Array[]): void {
    let run: Uint8Array[] = [];
    let bytes = 0;
    for (const frame of frames) {
      if (run.length === MAX_RECORDS_PER_MESSAGE || (run.length > 0 && bytes + frame.length > this.#maxRunBytes)) {
        this.#publishMessage(channel, encodeJoinHeaders(run), []);
        run = [];
        bytes = 0;
      }
      run.push(frame);
      bytes += frame.length;
    }
    if (run.length > 0) this.#publishMessage(channel, encodeJoinHeaders(run), []);
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
  }

  /** Stops timing publishes out; the node is stopping. */
  stopTimeouts(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
  }

  /** Forgets the runs not acknowledged yet (their publishes are answered by the caller) and stops taking acknowledgements. */
  close(): void {
    this.#sentAt.clear();
    this.#replies.unsubscribe();
  }

  #publishRun(channel: string, run: ReadonlyArray<{ request: AppendRequest; from: PublishRef }>, ts: number): void {
    // A lone publish with a client id (or a peer's message) is deduplicated by JetStream
    // too; in a run, each node's store catches a repeated client id as it applies it.
    const msgID = run.length === 1 ? dedupId(run[0]!.request) : undefined;
    this.#publishMessage(channel, encodeRecords(run, ts), run.map((r) => r.from.ref), msgID);
  }

  /** Publishes one stream message whose acknowledgement answers the publishes `refs`. */
  #publishMessage(channel: string, data: Uint8Array, refs: number[], msgID?: string): void {
    const id = ++this.#nextRun;
    this.#runs.set(id, refs);
    this.#sentAt.set(id, performance.now());
    let options: { reply: string; headers?: MsgHdrs } = { reply: `${this.#inbox}.${id}` };
    if (msgID !== undefined) {
      const h = headers();
      h.set('Nats-Msg-Id', msgID);
      options = { reply: options.reply, headers: h };
    }
    try {
      // A plain publish with a reply subject (JetStream's asynchronous publish): one
      // subscription takes every acknowledgement, and one timer times them all out.
      this.#connection.publish(channelSubject(this.#stream, channel), data, options);
    } catch (error) {
      this.#notStored(id, error);
    }
  }

  /** An acknowledgement from JetStream, or a no-responders status when the stream has no leader. */
  #onReply(m: Msg): void {
    const id = Number(m.subject.slice(this.#inbox.length + 1));
    if (!this.#sentAt.has(id)) return; // timed out already
    if (m.headers?.hasError === true) return this.#notStored(id, `${m.headers.code} ${m.headers.description || 'no responders'}: the stream has no leader right now`);
    let ack: { seq?: unknown; duplicate?: unknown; error?: { description?: unknown } };
    try {
      ack = JSON.parse(textDecoder.decode(m.data)) as typeof ack;
    } catch {
      return this.#notStored(id, 'an acknowledgement that is not JSON');
    }
    if (ack.error !== undefined) return this.#notStored(id, String(ack.error.description ?? 'JetStream error'));
    if (typeof ack.seq !== 'number') return this.#notStored(id, 'an acknowledgement without a sequence');
    this.#acked(id, ack.seq, ack.duplicate === true);
  }

  /** Fails the runs not acknowledged within the timeout (the oldest are first in the map). */
  #sweep(): void {
    const expired = performance.now() - this.#publishTimeoutMs;
    for (const [id, sent] of this.#sentAt) {
      if (sent > expired) break;
      this.#notStored(id, `no acknowledgement within ${this.#publishTimeoutMs / 1000} s`);
    }
    if (this.#sentAt.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #acked(id: number, seq: number, duplicate: boolean): void {
    const sent = this.#sentAt.get(id)!;
    this.#sentAt.delete(id);
    const refs = this.#runs.get(id)!;
    this.#runs.delete(id);
    this.#published += refs.length;
    this.#events.onPublished?.((performance.now() - sent) / 1000);
    this.#acknowledged(seq);
    if (!duplicate) return; // its records are (or will be) applied, and answer them
    // Only a lone publish carries a dedup id: `seq` holds its original, alone too.
    this.#pending.duplicateAcked(refs[0]!, seq);
  }

  #notStored(id: number, error: unknown): void {
    this.#sentAt.delete(id);
    const refs = this.#runs.get(id) ?? [];
    this.#runs.delete(id);
    this.#failed += refs.length;
    const reason = error instanceof Error ? error.message : String(error);
    const failure = notStored(`NATS JetStream did not store the message (${reason}); publish it again`);
    this.#events.onPublishFailed?.(failure);
    this.#pending.fail(refs, failure);
  }
}
