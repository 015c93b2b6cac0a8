// JetStream as the shared log in front of this node's store. Publishes made here go to
// the stream first; every node reads the whole stream in stream order and appends each
// record to its own store (its view), so every node numbers each channel's messages the
// same, without gaps: numbering by compare-and-set on the stream is not safe on the
// servers this runs on (docs/scaling.md). A publisher is answered only once this node
// has applied its record: an ack then means JetStream stored it with the stream's
// replicas, and that this node serves it.
//
// This is the face the node uses; the work is done by the publishing side
// (stream-publisher.ts), the reading side (stream-reader.ts), and the table of this
// node's publishes waiting for their record to be applied, which the two share
// (pending-publishes.ts).

import { randomBytes } from 'node:crypto';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Hub, Member, PublishCallback, PublishLog } from '../hub/hub.ts';
import type { AppendRequest } from '../store/store.ts';
import type { ChannelCheckpoint } from './checkpoint.ts';
import { notStored, PendingPublishes } from './pending-publishes.ts';
import { StreamPositions } from './stream-positions.ts';
import { StreamPublisher, type PublishEvents } from './stream-publisher.ts';
import { StreamReader, type JoinHeadersSink, type ReadEvents, type ReseedableView } from './stream-reader.ts';

export type { JoinHeadersSink, ReseedableView } from './stream-reader.ts';

export interface LogEvents extends PublishEvents, ReadEvents {}

export class JetStreamLog implements PublishLog {
  readonly #connection: NatsConnection;
  readonly #pending = new PendingPublishes();
  readonly #publisher: StreamPublisher;
  readonly #reader: StreamReader;
  /** Where the view's messages are in the stream, for trims. */
  readonly positions = new StreamPositions();
  #reconnecting = false;

  constructor(options: { connection: NatsConnection; manager: JetStreamManager; stream: string; publishTimeoutMs: number; events?: LogEvents }) {
    this.#connection = options.connection;
    const events = options.events ?? {};
    // Tells this process's records from every other's, a restart of this node included.
    const tag = randomBytes(8).toString('base64url');
    this.#reader = new StreamReader({
      client: jetstream(options.connection, { timeout: options.publishTimeoutMs }),
      manager: options.manager,
      stream: options.stream,
      tag,
      pending: this.#pending,
      positions: this.positions,
      events,
    });
    this.#publisher = new StreamPublisher({
      connection: options.connection,
      stream: options.stream,
      publishTimeoutMs: options.publishTimeoutMs,
      tag,
      pending: this.#pending,
      acknowledged: (seq) => this.#reader.acknowledged(seq),
      events,
    });
  }

  /**
   * Reads the stream into the hub's store from the start, and resolves once everything
   * the stream held when called is applied: the node serves nothing older than that.
   */
  start(hub: Hub, attach: { view?: ReseedableView; joinHeaders?: JoinHeadersSink } = {}): Promise<void> {
    return this.#reader.start(hub, attach);
  }

  /** Skips the channel's records before `position`: a checkpoint the view was seeded from covers them. */
  skipBefore(channel: string, position: number): void {
    this.#reader.skipBefore(channel, position);
  }

  /**
   * A channel's checkpoint, as written (by whichever node trimmed) before the stream is trimmed to it.
   * A reader that reaches it without having applied everything it covers (the records
   * were purged while this node was behind) starts the channel again from it.
   */
  checkpointSeen(channel: string, checkpoint: ChannelCheckpoint): void {
    this.#reader.checkpointSeen(channel, checkpoint);
  }

  /** Resolves once this node has applied the stream up to `seq`. */
  waitApplied(seq: number): Promise<void> {
    return this.#reader.waitApplied(seq);
  }

  /**
   * Resolves once this node has applied everything the stream holds now: a query
   * answered after it sees every message acked anywhere before it was asked.
   */
  catchUp(): Promise<void> {
    return this.#reader.catchUp();
  }

  /** Publishes a turn's batch, one stream message per run of a channel's publishes. */
  submit(requests: AppendRequest[], except: Array<Member | undefined>, done: Array<PublishCallback | undefined>): void {
    this.#publisher.submit(requests, except, done);
  }

  /**
   * Publishes Mles join headers of a channel, in order, as stream messages of their own.
   * No one waits for them: one JetStream does not store is logged (onPublishFailed).
   */
  submitJoinHeaders(channel: string, frames: readonly Uint8Array[]): void {
    this.#publisher.submitJoinHeaders(channel, frames);
  }

  status(): { connected: boolean; server: string | undefined; applied: number; inFlight: number; published: number; failed: number; reading: boolean } {
    return {
      connected: !this.#connection.isClosed() && this.#connection.info !== undefined && !this.#reconnecting,
      server: this.#connection.getServer() || undefined,
      applied: this.#reader.applied,
      inFlight: this.#publisher.inFlight,
      published: this.#publisher.published,
      failed: this.#publisher.failed,
      reading: this.#reader.reading,
    };
  }

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
    this.#publisher.stopTimeouts();
    await this.#reader.close();
    this.#pending.failAll(notStored('the node is stopping; publish it again'));
    this.#publisher.close();
    await this.#connection.drain().catch(() => undefined);
  }
}
