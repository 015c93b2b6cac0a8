// Mles join headers with --nats: they go through the stream like the messages, so a
// client that joins through whichever node of the cluster is replayed the headers of those who
// joined through the others. Every node reads them in stream order and keeps them in
// memory, each placed after the channel's last message applied before it: the same
// place on every node, as seqs are. The stream's trims take them with the messages
// around them; the cap per channel and the age limit apply to what each node keeps.

import type { RetentionLimits } from '../store/store.ts';
import type { JoinHeader } from '../mles/history.ts';
import { MemoryJoinHeaders, type JoinHeaderRecord, type JoinHeaders, type JoinHeadersOptions } from '../mles/join-headers.ts';
import type { JoinHeadersSink } from './jetstream-log.ts';

export interface StreamJoinHeadersOptions extends JoinHeadersOptions {
  /** Publishes a channel's headers, in order, to the stream. */
  readonly publish: (channel: string, frames: readonly Uint8Array[]) => void;
  /** The channel's last applied seq (0 for none). */
  readonly lastSeq: (channel: string) => number;
}

export class StreamJoinHeaders implements JoinHeaders, JoinHeadersSink {
  /**
   * A header goes to the stream at its join. Sent at the end of the turn, it went after
   * the hub's flush when one was already due: a message sent right after the join (in
   * the same read) then came before the header in the stream, and a joiner on another
   * node was replayed the message without the header before it.
   */
  readonly appendAtJoin = true;
  readonly #kept: MemoryJoinHeaders;
  readonly #publish: StreamJoinHeadersOptions['publish'];
  readonly #lastSeq: (channel: string) => number;

  constructor(options: StreamJoinHeadersOptions) {
    this.#kept = new MemoryJoinHeaders(options);
    this.#publish = options.publish;
    this.#lastSeq = options.lastSeq;
  }

  /** Sends the headers to the stream; they are kept (here too) once read back from it. */
  append(headers: readonly JoinHeaderRecord[]): void {
    const byChannel = new Map<string, Uint8Array[]>();
    for (const { channel, frame } of headers) {
      const frames = byChannel.get(channel);
      if (frames === undefined) byChannel.set(channel, [frame]);
      else frames.push(frame);
    }
    for (const [channel, frames] of byChannel) this.#publish(channel, frames);
  }

  applied(channel: string, frames: readonly Uint8Array[]): void {
    const position = this.#lastSeq(channel);
    this.#kept.append(frames.map((frame) => ({ channel, position, frame })));
  }

  latest(channel: string, limit: number): JoinHeader[] {
    return this.#kept.latest(channel, limit);
  }

  enforceRetention(limits: RetentionLimits, now: number, budget: number): number {
    return this.#kept.enforceRetention(limits, now, budget);
  }

  close(): void {}
}
