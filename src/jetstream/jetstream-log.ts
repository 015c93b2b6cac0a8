// JetStream as the shared log in front of this node's store. Publishes made here go to
// the stream first; every node reads the whole stream in stream order and appends each
// record to its own store (its view), so every node numbers each channel's messages the
// same, without gaps: numbering by compare-and-set on the stream is not safe on the
// servers this runs on (docs/scaling.md). A publisher is answered only once this node
// has applied its record: an ack then means JetStream stored it with the stream's
// replicas, and that this node serves it.

import { randomBytes } from 'node:crypto';
import { jetstream, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { createInbox, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Hub, Member, PublishCallback, PublishLog } from '../hub/hub.ts';
import type { AppendRequest, AppendResult } from '../store/store.ts';
import { StoreError } from '../store/store-error.ts';
import { BadRecordError, decodeStreamMessage, encodeJoinHeaders, encodeRecords, MAX_RECORDS_PER_MESSAGE, type PublishRef } from './log-record.ts';
import type { ChannelCheckpoint } from './checkpoint.ts';
import { positionOf, streamSeqOfPosition, StreamPositions } from './stream-positions.ts';
import { channelOfSubject, channelSubject, dedupId } from './subjects.ts';

/** A publish of this node waiting for its record to be applied. */
interface Waiting {
  readonly except: Member | undefined;
  readonly done: PublishCallback | undefined;
}

/** Where the Mles join headers read from the stream go, each after the messages applied before it. */
export interface JoinHeadersSink {
  applied(channel: string, frames: readonly Uint8Array[]): void;
}

/** What the log needs of the node's view to start a channel again from a checkpoint. */
export interface ReseedableView {
  bounds(channel: string): { first: number; last: number };
  reseed(channel: string, checkpoint: ChannelCheckpoint): void;
}

export interface LogEvents {
  /** A publish JetStream acknowledged, with the time it took. */
  onPublished?(seconds: number): void;
  /** A publish JetStream did not store; its publisher got `error`. */
  onPublishFailed?(error: Error): void;
  /** A record that is not parley's (or of a newer version), skipped by every node alike. */
  onBadRecord?(seq: number, reason: string): void;
  /** The stream reader started again after a stall or an error. */
  onReaderRestart?(reason: string): void;
  /** Records this node had not read were trimmed away: the channel went on from a checkpoint. */
  onResumedFromCheckpoint?(channel: string, lastSeqHad: number, lastSeqNow: number): void;
}

/** Publish results kept by stream seq, for a duplicate acked after its original was applied. */
const RECENT_RESULTS = 200_000;
/** Records applied together (as the hub's own batches); whole stream messages, so a little more. */
const MAX_APPLY_BATCH = 512;
/**
 * Bytes of records in one stream message at most (unless a single publish is larger), and
 * at most half of what the server takes in a message (1 MiB by default).
 */
const MAX_RUN_BYTES = 256 * 1024;
/** What a record takes beside its payload, uid and client id, about. */
const RECORD_FIELDS = 64;
/** A reader behind what JetStream acknowledged, with nothing read for this long, is rebuilt. */
const STALL_MS = 3000;
/** How often publishes are checked for their timeout. */
const SWEEP_MS = 250;
const textDecoder = new TextDecoder();
/** Heartbeats missed in a row before the reader is rebuilt (a stream leader may have died). */
const MISSED_HEARTBEATS = 2;

/**
 * A publish JetStream did not store (or this node cannot answer): a store error
 * "unavailable", which clients are told as they are of a failing disk, and which the
 * native client retries with the same client id.
 */
function notStored(reason: string): StoreError {
  return new StoreError('unavailable', reason);
}

export class JetStreamLog implements PublishLog {
  readonly #connection: NatsConnection;
  readonly #manager: JetStreamManager;
  readonly #client: JetStreamClient;
  readonly #stream: string;
  readonly #publishTimeoutMs: number;
  readonly #maxRunBytes: number;
  readonly #events: LogEvents;
  /** Tells this process's records from every other's, a restart of this node included. */
  readonly #tag = randomBytes(8).toString('base64url');
  #hub: Hub | undefined;
  #joinHeaders: JoinHeadersSink | undefined;
  #view: ReseedableView | undefined;
  /** Each channel's newest checkpoint known (trim.ts): where its trimmed records end. */
  readonly #checkpoints = new Map<string, ChannelCheckpoint>();
  /** Each channel's last position read, to tell when the reader reaches its checkpoint. */
  readonly #readPositions = new Map<string, number>();
  /** Where the view's messages are in the stream, for trims. */
  readonly positions = new StreamPositions();
  /** Per channel seeded from a checkpoint: records before this stream seq are covered by it. */
  readonly #skipBefore = new Map<string, number>();
  #nextRef = 0;
  #nextRun = 0;
  /** The publishes (refs) of each run sent and not acknowledged yet. */
  readonly #runs = new Map<number, number[]>();
  readonly #waiting = new Map<number, Waiting>();
  /** Duplicates JetStream acked with a seq not applied yet, by that seq. */
  readonly #duplicates = new Map<number, Waiting[]>();
  readonly #recent = new Map<number, AppendResult>();
  #applied = 0;
  /** Callers waiting until a stream seq is applied. */
  #appliedWaiters: Array<{ seq: number; resolve: () => void }> = [];
  // The records read but not applied yet, in parallel arrays (as the hub's queue).
  #batchRequests: AppendRequest[] = [];
  #batchPositions: number[] = [];
  /** The stream seq of the last stream message read into the batch. */
  #batchLastSeq = 0;
  /** The stream seq of the last stream message read (applied or in the batch). */
  #lastRead = 0;
  #batchFrom: Array<number | undefined> = [];
  #applyScheduled = false;
  #reader: ConsumerMessages | undefined;
  #stallReason: string | undefined;
  #readerLoop: Promise<void> | undefined;
  #closed = false;
  /** When each run not acknowledged yet was sent, oldest first. */
  readonly #sentAt = new Map<number, number>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** Acknowledgements come to `${inbox}.${ref}`. */
  readonly #inbox: string;
  readonly #replies: Subscription;
  #published = 0;
  /** The highest stream seq JetStream acknowledged to this node: the reader must reach it. */
  #ackedHigh = 0;
  /** When the reader last made progress (or was last found idle with nothing to read). */
  #lastProgress = performance.now();
  #stallCheck: ReturnType<typeof setInterval> | undefined;
  #failed = 0;

  constructor(options: { connection: NatsConnection; manager: JetStreamManager; stream: string; publishTimeoutMs: number; events?: LogEvents }) {
    this.#connection = options.connection;
    this.#maxRunBytes = Math.min(MAX_RUN_BYTES, Math.floor((options.connection.info?.max_payload ?? 1024 * 1024) / 2));
    this.#manager = options.manager;
    this.#client = jetstream(options.connection, { timeout: options.publishTimeoutMs });
    this.#stream = options.stream;
    this.#publishTimeoutMs = options.publishTimeoutMs;
    this.#events = options.events ?? {};
    this.#inbox = createInbox();
    this.#replies = options.connection.subscribe(`${this.#inbox}.*`, {
      callback: (error, m) => {
        if (error === null) this.#onReply(m);
      },
    });
  }

  /**
   * Reads the stream into the hub's store from the start, and resolves once everything
   * the stream held when called is applied: the node serves nothing older than that.
   */
  async start(hub: Hub, attach: { view?: ReseedableView; joinHeaders?: JoinHeadersSink } = {}): Promise<void> {
    this.#hub = hub;
    this.#view = attach.view;
    this.#joinHeaders = attach.joinHeaders;
    const info = await this.#manager.streams.info(this.#stream);
    const target = info.state.last_seq;
    this.#ackedHigh = target;
    this.#readerLoop = this.#read();
    // A reader whose consumer lived on a server that died may neither deliver nor report
    // missed heartbeats: one that is behind what JetStream acknowledged and has not moved
    // for a while is rebuilt.
    this.#stallCheck = setInterval(() => {
      if (this.#ackedHigh <= this.#applied) this.#lastProgress = performance.now();
      else if (performance.now() - this.#lastProgress > STALL_MS && this.#reader !== undefined) {
        this.#lastProgress = performance.now();
        this.#stallReason = `stalled ${STALL_MS / 1000} s behind the acknowledged stream seq ${this.#ackedHigh}`;
        this.#reader.stop();
      }
    }, 500);
    this.#stallCheck.unref();
    await this.waitApplied(target);
  }

  /** Skips the channel's records before `position`: a checkpoint the view was seeded from covers them. */
  skipBefore(channel: string, position: number): void {
    this.#skipBefore.set(channel, position);
  }

  /**
   * A channel's checkpoint, as written (by whichever node trimmed) before the stream is trimmed to it.
   * A reader that reaches it without having applied everything it covers (the records
   * were purged while this node was behind) starts the channel again from it.
   */
  checkpointSeen(channel: string, checkpoint: ChannelCheckpoint): void {
    const known = this.#checkpoints.get(channel);
    if (known === undefined || known.position < checkpoint.position) this.#checkpoints.set(channel, checkpoint);
  }

  /** Resolves once this node has applied the stream up to `seq`. */
  waitApplied(seq: number): Promise<void> {
    if (this.#applied >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#appliedWaiters.push({ seq, resolve }));
  }

  /**
   * Resolves once this node has applied everything the stream holds now: a query
   * answered after it sees every message acked anywhere before it was asked.
   */
  async catchUp(): Promise<void> {
    const info = await this.#manager.streams.info(this.#stream);
    await this.waitApplied(info.state.last_seq);
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
        const ref = ++this.#nextRef;
        this.#waiting.set(ref, { except: except[i], done: done[i] });
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
    if (seq > this.#ackedHigh) this.#ackedHigh = seq;
    if (!duplicate) return; // its records are (or will be) applied, and answer them
    // Only a lone publish carries a dedup id: `seq` holds its original, alone too.
    const ref = refs[0]!;
    const waiting = this.#waiting.get(ref);
    if (waiting === undefined) return;
    this.#waiting.delete(ref);
    if (seq <= this.#applied) this.#answerDuplicate(waiting, seq);
    else {
      const list = this.#duplicates.get(seq);
      if (list === undefined) this.#duplicates.set(seq, [waiting]);
      else list.push(waiting);
    }
  }

  #answerDuplicate(waiting: Waiting, seq: number): void {
    const first = this.#recent.get(seq);
    if (first === undefined) {
      // Too old to be kept: the publisher retries, and its store finds it by client id.
      waiting.done?.(notStored('the original of this duplicate is no longer at hand; publish it again'));
      return;
    }
    waiting.done?.({ message: first.message, duplicate: true });
  }

  #notStored(id: number, error: unknown): void {
    this.#sentAt.delete(id);
    const refs = this.#runs.get(id) ?? [];
    this.#runs.delete(id);
    this.#failed += refs.length;
    const reason = error instanceof Error ? error.message : String(error);
    const failure = notStored(`NATS JetStream did not store the message (${reason}); publish it again`);
    this.#events.onPublishFailed?.(failure);
    for (const ref of refs) {
      const waiting = this.#waiting.get(ref);
      this.#waiting.delete(ref);
      waiting?.done?.(failure);
    }
  }

  /** Reads the stream from the first seq not applied, rebuilding the reader whenever it stalls. */
  async #read(): Promise<void> {
    while (!this.#closed) {
      let reason = 'ended';
      try {
        const consumer: Consumer = await this.#client.consumers.get(this.#stream, {
          deliver_policy: 'by_start_sequence' as never,
          opt_start_seq: this.#applied + 1,
        });
        const reader = await consumer.consume({ max_messages: 4096, expires: 2000, callback: (m) => this.#onRecord(m) });
        this.#reader = reader;
        const watch = (async () => {
          for await (const status of reader.status()) {
            if (status.type === 'heartbeats_missed' && status.count >= MISSED_HEARTBEATS) {
              reason = 'heartbeats missed';
              reader.stop();
            }
          }
        })();
        // Closed while the consumer was being made (start() resolves at once on an empty stream).
        if (this.#closed) reader.stop();
        await reader.closed();
        await watch.catch(() => undefined);
        if (this.#stallReason !== undefined) reason = this.#stallReason;
        this.#stallReason = undefined;
      } catch (error) {
        reason = (error as Error).message;
      }
      this.#reader = undefined;
      if (this.#closed) return;
      this.#events.onReaderRestart?.(reason);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  #onRecord(m: JsMsg): void {
    const seq = m.seq;
    this.#lastProgress = performance.now();
    if (seq <= this.#lastRead) return; // read again after the reader was rebuilt
    this.#lastRead = seq;
    // Whole stream messages are applied together: `applied` then covers all their records.
    this.#batchLastSeq = seq;
    this.#scheduleApply();
    const channel = channelOfSubject(this.#stream, m.subject);
    if (channel === undefined) return this.#events.onBadRecord?.(seq, `subject ${m.subject} is not a channel's`);
    let message;
    try {
      message = decodeStreamMessage(channel, m.data);
    } catch (error) {
      if (!(error instanceof BadRecordError)) throw error;
      return this.#events.onBadRecord?.(seq, error.message);
    }
    const skipBefore = this.#skipBefore.size === 0 ? 0 : (this.#skipBefore.get(channel) ?? 0);
    if (message.kind === 'joinHeaders') {
      if (positionOf(seq, 0) < skipBefore) return;
      // The messages read before the headers are committed first: the headers come after them.
      this.#commitBatch();
      this.#joinHeaders?.applied(channel, message.frames);
      return;
    }
    const records = message.records;
    // The channel's checkpoint, if this message reaches it for the first time.
    let checkpoint = this.#checkpoints.size === 0 ? undefined : this.#checkpoints.get(channel);
    if (checkpoint !== undefined && (this.#readPositions.get(channel) ?? -1) >= checkpoint.position) checkpoint = undefined;
    this.#readPositions.set(channel, positionOf(seq, records.length - 1));
    for (let i = 0; i < records.length; i++) {
      const position = positionOf(seq, i);
      if (position < skipBefore) continue;
      if (checkpoint !== undefined && position >= checkpoint.position) {
        this.#reachCheckpoint(channel, checkpoint);
        checkpoint = undefined;
      }
      const record = records[i]!;
      this.#batchRequests.push(record.request);
      this.#batchPositions.push(position);
      this.#batchFrom.push(record.from?.node === this.#tag ? record.from.ref : undefined);
    }
    if (this.#batchRequests.length >= MAX_APPLY_BATCH) this.#apply();
  }

  /**
   * The reader is at the first record a checkpoint does not cover. A view that has not
   * numbered as far as the checkpoint missed records a trim removed while this node was
   * behind (at its start, or while NATS was away): it goes on from the checkpoint, so its
   * seqs stay those of every other node, as a starting node's do.
   */
  #reachCheckpoint(channel: string, checkpoint: ChannelCheckpoint): void {
    const view = this.#view;
    if (view === undefined) return;
    this.#commitBatch();
    const had = view.bounds(channel).last;
    if (had >= checkpoint.lastSeq) return;
    view.reseed(channel, checkpoint);
    this.positions.forget(channel);
    this.#events.onResumedFromCheckpoint?.(channel, had, checkpoint.lastSeq);
  }

  #scheduleApply(): void {
    if (this.#applyScheduled) return;
    this.#applyScheduled = true;
    setImmediate(() => this.#apply());
  }

  /** Appends the records read so far to the store through the hub, which fans them out. */
  #apply(): void {
    this.#applyScheduled = false;
    const lastSeq = this.#batchLastSeq;
    if (lastSeq <= this.#applied) return;
    this.#commitBatch();
    this.#applied = lastSeq;
    if (this.#duplicates.size > 0) {
      for (const [seq, waiting] of this.#duplicates) {
        if (seq > lastSeq) continue;
        this.#duplicates.delete(seq);
        for (const w of waiting) this.#answerDuplicate(w, seq);
      }
    }
    if (this.#appliedWaiters.length > 0) {
      const ready = this.#appliedWaiters.filter((w) => w.seq <= lastSeq);
      this.#appliedWaiters = this.#appliedWaiters.filter((w) => w.seq > lastSeq);
      for (const w of ready) w.resolve();
    }
  }

  /** Commits the records read so far; `applied` moves once their whole stream messages are in. */
  #commitBatch(): void {
    if (this.#batchRequests.length === 0) return;
    const requests = this.#batchRequests;
    const positions = this.#batchPositions;
    const from = this.#batchFrom;
    this.#batchRequests = [];
    this.#batchPositions = [];
    this.#batchFrom = [];
    const except: Array<Member | undefined> = [];
    const done: Array<PublishCallback | undefined> = [];
    for (let i = 0; i < requests.length; i++) {
      const ref = from[i];
      const waiting = ref === undefined ? undefined : this.#waiting.get(ref);
      if (waiting !== undefined) this.#waiting.delete(ref!);
      except.push(waiting?.except);
      done.push(waiting?.done);
    }
    const results = requests.length === 0 ? [] : this.#hub!.commit(requests, except, done);
    if (results !== undefined) {
      for (let i = 0; i < positions.length; i++) {
        const result = results[i]!;
        const position = positions[i]!;
        if (!result.duplicate) this.positions.record(result.message.channel, result.message.seq, position);
        // A duplicate JetStream acknowledges names its original's stream message, which holds that record alone.
        const seq = streamSeqOfPosition(position);
        if (positionOf(seq, 0) === position) {
          this.#recent.set(seq, result);
          this.#recent.delete(seq - RECENT_RESULTS);
        }
      }
    }
  }

  status(): { connected: boolean; server: string | undefined; applied: number; inFlight: number; published: number; failed: number; reading: boolean } {
    return {
      connected: !this.#connection.isClosed() && this.#connection.info !== undefined && !this.#reconnecting,
      server: this.#connection.getServer() || undefined,
      applied: this.#applied,
      inFlight: this.#sentAt.size,
      published: this.#published,
      failed: this.#failed,
      reading: this.#reader !== undefined,
    };
  }

  #reconnecting = false;

  /** Follows the connection's state for `status()`; returns at close. */
  async watchConnection(onChange: (event: string, data: string) => void): Promise<void> {
    for await (const s of this.#connection.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting') this.#reconnecting = true;
      if (s.type === 'reconnect') this.#reconnecting = false;
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') onChange(s.type, 'server' in s ? String(s.server) : '');
    }
  }

  /** Stops reading; publishes not answered yet fail. Then closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    if (this.#stallCheck !== undefined) clearInterval(this.#stallCheck);
    this.#reader?.stop();
    await this.#readerLoop?.catch(() => undefined);
    this.#apply();
    for (const waiting of this.#waiting.values()) waiting.done?.(notStored('the node is stopping; publish it again'));
    this.#waiting.clear();
    this.#sentAt.clear();
    this.#replies.unsubscribe();
    await this.#connection.drain().catch(() => undefined);
  }
}
