// Trimming the stream to what the views keep. Retention removes messages from each node's
// view; the stream keeps them until a trim: for a channel whose oldest kept message moved,
// a node writes the channel's checkpoint (its numbering state before that message) to a
// key-value bucket, and on its next pass purges the channel's subject before it. A node
// that starts later seeds its view from the checkpoints and skips what they cover, so it
// numbers the rest as every other node does.
//
// Checkpoints only move forward (a write names the revision it read), and a purge only
// goes as far as a checkpoint written a pass earlier: every node watches the checkpoints,
// and one whose reader reaches a checkpoint without having applied all it covers (a purge
// took records while it was behind) goes on from the checkpoint (stream-reader.ts).

import type { KV } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { MemoryStore } from '../store/memory-store.ts';
import { checkpointBefore, decodeCheckpoint, encodeCheckpoint, type ChannelCheckpoint } from './checkpoint.ts';
import { positionOf, streamSeqOfPosition, type StreamPositions } from './stream-positions.ts';
import { channelSubject } from './subjects.ts';

/** The bucket of a stream's checkpoints. */
export function checkpointBucket(stream: string): string {
  return `${stream}_CKPT`;
}

/** A checkpoint's key: the channel's subject token (base64url, which KV keys allow). */
function keyOf(channel: string): string {
  return Buffer.from(channel, 'latin1').toString('base64url');
}

function channelOfKey(key: string): string {
  return Buffer.from(key, 'base64url').toString('latin1');
}

/** Every channel's checkpoint in the bucket. */
export async function loadCheckpoints(kv: KV): Promise<Map<string, ChannelCheckpoint>> {
  const found = new Map<string, ChannelCheckpoint>();
  const keys = await kv.keys();
  for await (const key of keys) {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== 'PUT') continue;
    const checkpoint = decodeCheckpoint(entry.value);
    if (checkpoint !== undefined) found.set(channelOfKey(key), checkpoint);
  }
  return found;
}

/**
 * Calls `onCheckpoint` with every checkpoint in the bucket, then with each one written
 * later, until the connection closes: a node learns where trims will cut a pass before
 * they do.
 */
export async function watchCheckpoints(kv: KV, onCheckpoint: (channel: string, checkpoint: ChannelCheckpoint) => void): Promise<void> {
  const entries = await kv.watch();
  for await (const entry of entries) {
    if (entry.operation !== 'PUT') continue;
    const checkpoint = decodeCheckpoint(entry.value);
    if (checkpoint !== undefined) onCheckpoint(channelOfKey(entry.key), checkpoint);
  }
}

export interface TrimEvents {
  onTrimmed?(channel: string, beforeStreamSeq: number): void;
  onError?(error: unknown): void;
}

export class StreamTrimmer {
  readonly #kv: KV;
  readonly #manager: JetStreamManager;
  readonly #stream: string;
  readonly #store: MemoryStore;
  readonly #positions: StreamPositions;
  readonly #events: TrimEvents;
  /** Checkpoints written (or found) last pass, by position, purged up to on this one. */
  #toPurge = new Map<string, number>();
  #running = false;

  constructor(options: { kv: KV; manager: JetStreamManager; stream: string; store: MemoryStore; positions: StreamPositions; events?: TrimEvents }) {
    this.#kv = options.kv;
    this.#manager = options.manager;
    this.#stream = options.stream;
    this.#store = options.store;
    this.#positions = options.positions;
    this.#events = options.events ?? {};
  }

  /** One pass: purges what last pass checkpointed, then checkpoints what retention removed since. */
  async run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const purging = this.#toPurge;
      this.#toPurge = new Map();
      for (const [channel, position] of purging) {
        // The stream message holding the first record kept stays: the checkpoint skips its records before it.
        const seq = streamSeqOfPosition(position);
        await this.#manager.streams.purge(this.#stream, { filter: channelSubject(this.#stream, channel), seq });
        this.#events.onTrimmed?.(channel, seq);
      }
      for (const channel of [...this.#positions.channels()]) await this.#checkpoint(channel);
    } catch (error) {
      this.#events.onError?.(error);
    } finally {
      this.#running = false;
    }
  }

  async #checkpoint(channel: string): Promise<void> {
    const recorded = this.#positions.first(channel);
    const { first, last } = this.#store.bounds(channel);
    if (recorded === undefined || first <= recorded) return; // retention removed nothing since
    // The position of the oldest kept message; with none kept, the next stream message.
    const newest = this.#positions.last(channel);
    const position = first <= last ? this.#positions.positionOf(channel, first) : newest === undefined ? undefined : positionOf(streamSeqOfPosition(newest) + 1, 0);
    if (position === undefined) return;
    const kept = first <= last ? this.#store.read(channel, { after: first - 1, limit: last - first + 1 }) : [];
    const checkpoint = checkpointBefore(position, kept, last, this.#store.vector(channel), (origin) => this.#store.lastId(channel, origin));
    const key = keyOf(channel);
    const current = await this.#kv.get(key);
    const currentPosition = current === null || current.operation !== 'PUT' ? 0 : (decodeCheckpoint(current.value)?.position ?? 0);
    if (currentPosition < position) {
      try {
        if (current === null) await this.#kv.create(key, encodeCheckpoint(checkpoint));
        else await this.#kv.update(key, encodeCheckpoint(checkpoint), current.revision);
      } catch {
        return; // another node wrote one meanwhile: the next pass looks again
      }
    }
    this.#positions.dropBefore(channel, first);
    this.#toPurge.set(channel, position);
  }
}
