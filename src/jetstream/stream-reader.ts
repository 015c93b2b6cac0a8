// The reading side of the JetStream log: an ordered consumer reads the whole stream, and
// each stream message's records are appended to this node's store through the hub's
// commit, in stream order and in batches. A record of this node answers its waiting
// publish (PendingPublishes) as it is committed. Checkpoints a trim wrote are where a
// node that missed trimmed records goes on from; a reader that stalls is rebuilt.

import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Hub, Member, PublishCallback } from '../hub/hub.ts';
import type { AppendRequest } from '../store/store.ts';
import type { ChannelCheckpoint } from './checkpoint.ts';
import { BadRecordError, decodeStreamMessage } from './log-record.ts';
import type { PendingPublishes } from './pending-publishes.ts';
import { positionOf, streamSeqOfPosition, type StreamPositions } from './stream-positions.ts';
import { channelOfSubject } from './subjects.ts';

/** Where the Mles join headers read from the stream go, each after the messages applied before it. */
export interface JoinHeadersSink {
  applied(channel: string, frames: readonly Uint8Array[]): void;
}

/** What the log needs of the node's view to start a channel again from a checkpoint. */
export interface ReseedableView {
  bounds(channel: string): { first: number; last: number };
  reseed(channel: string, checkpoint: ChannelCheckpoint): void;
}

export interface ReadEvents {
  /** A record that is not parley's (or of a newer version), skipped by every node alike. */
  onBadRecord?(seq: number, reason: string): void;
  /** The stream reader started again after a stall or an error. */
  onReaderRestart?(reason: string): void;
  /** Records this node had not read were trimmed away: the channel went on from a checkpoint. */
  onResumedFromCheckpoint?(channel: string, lastSeqHad: number, lastSeqNow: number): void;
}

/** Records applied together (as the hub's own batches); whole stream messages, so a little more. */
const MAX_APPLY_BATCH = 512;
/** A reader behind what JetStream acknowledged, with nothing read for this long, is rebuilt. */
const STALL_MS = 3000;
/** Heartbeats missed in a row before the reader is rebuilt (a stream leader may have died). */
const MISSED_HEARTBEATS = 2;

export class StreamReader {
  readonly #client: JetStreamClient;
  readonly #manager: JetStreamManager;
  readonly #stream: string;
  readonly #events: ReadEvents;
  readonly #tag: string;
  readonly #pending: PendingPublishes;
  /** Where the view's messages are in the stream, for trims. */
  readonly #positions: StreamPositions;
  #hub: Hub | undefined;
  #joinHeaders: JoinHeadersSink | undefined;
  #view: ReseedableView | undefined;
  /** Each channel's newest checkpoint known (trim.ts): where its trimmed records end. */
  readonly #checkpoints = new Map<string, ChannelCheckpoint>();
  /** Each channel's last position read, to tell when the reader reaches its checkpoint. */
  readonly #readPositions = new Map<string, number>();
  /** Per channel seeded from a checkpoint: records before this stream seq are covered by it. */
  readonly #skipBefore = new Map<string, number>();
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
  /** The highest stream seq JetStream acknowledged to this node: the reader must reach it. */
  #ackedHigh = 0;
  /** When the reader last made progress (or was last found idle with nothing to read). */
  #lastProgress = performance.now();
  #stallCheck: ReturnType<typeof setInterval> | undefined;

  /** `tag` tells this process's records, whose publishes wait in `pending`, from every other's. */
  constructor(options: {
    client: JetStreamClient;
    manager: JetStreamManager;
    stream: string;
    tag: string;
    pending: PendingPublishes;
    positions: StreamPositions;
    events?: ReadEvents;
  }) {
    this.#client = options.client;
    this.#manager = options.manager;
    this.#stream = options.stream;
    this.#tag = options.tag;
    this.#pending = options.pending;
    this.#positions = options.positions;
    this.#events = options.events ?? {};
  }

  /** The stream seq applied so far. */
  get applied(): number {
    return this.#applied;
  }

  /** Whether a consumer is reading the stream now. */
  get reading(): boolean {
    return this.#reader !== undefined;
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

  /** JetStream acknowledged stream seq `seq` to this node: the reader must reach it. */
  acknowledged(seq: number): void {
    if (seq > this.#ackedHigh) this.#ackedHigh = seq;
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

  /** Stops reading, and applies what was read. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#stallCheck !== undefined) clearInterval(this.#stallCheck);
    this.#reader?.stop();
    await this.#readerLoop?.catch(() => undefined);
    this.#apply();
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
    this.#positions.forget(channel);
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
    this.#pending.applied(lastSeq);
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
      const waiting = ref === undefined ? undefined : this.#pending.take(ref);
      except.push(waiting?.except);
      done.push(waiting?.done);
    }
    const results = requests.length === 0 ? [] : this.#hub!.commit(requests, except, done);
    if (results !== undefined) {
      for (let i = 0; i < positions.length; i++) {
        const result = results[i]!;
        const position = positions[i]!;
        if (!result.duplicate) this.#positions.record(result.message.channel, result.message.seq, position);
        // A duplicate JetStream acknowledges names its original's stream message, which holds that record alone.
        const seq = streamSeqOfPosition(position);
        if (positionOf(seq, 0) === position) this.#pending.remember(seq, result);
      }
    }
  }
}
