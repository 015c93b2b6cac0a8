// A channel's numbering state just before a stream sequence: what a node needs to number
// the channel's later messages as every other node does once the earlier ones are gone
// from the stream. Written before the stream is trimmed (trim.ts), read by a starting
// node to seed its view. Pure: values and bytes.

import { Decoder, Encoder } from 'cbor-x';
import type { StoredMessage } from '../store/store.ts';

export interface ChannelCheckpoint {
  /**
   * The position (stream-positions.ts) of the first record not covered: the channel's
   * records before it are skipped.
   */
  readonly position: number;
  /** The channel's seq of the last message covered. */
  readonly lastSeq: number;
  /** Per origin, the highest origin seq covered (the origin vector then). */
  readonly vector: ReadonlyMap<string, number>;
  /** Per origin, the id of its last message covered (its next message's prev). */
  readonly lastIds: ReadonlyMap<string, Uint8Array>;
}

/**
 * The state before `kept[0]`, the oldest message the view keeps, from the view's state now
 * (`vector`, `lastId`) and the messages it keeps: an origin with kept messages is taken back
 * to before its oldest kept one; an origin with none is as it is now.
 */
export function checkpointBefore(
  position: number,
  kept: readonly StoredMessage[],
  lastSeq: number,
  vector: ReadonlyMap<string, number>,
  lastId: (origin: string) => Uint8Array | undefined,
): ChannelCheckpoint {
  const entries = new Map(vector);
  const ids = new Map<string, Uint8Array>();
  for (const origin of vector.keys()) {
    const id = lastId(origin);
    if (id !== undefined) ids.set(origin, id);
  }
  const seen = new Set<string>();
  for (const message of kept) {
    if (seen.has(message.origin)) continue;
    seen.add(message.origin);
    if (message.originSeq <= 1) {
      entries.delete(message.origin);
      ids.delete(message.origin);
    } else {
      entries.set(message.origin, message.originSeq - 1);
      if (message.prev !== undefined) ids.set(message.origin, message.prev);
      else ids.delete(message.origin);
    }
  }
  return { position, lastSeq: kept.length > 0 ? kept[0]!.seq - 1 : lastSeq, vector: entries, lastIds: ids };
}

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

export function encodeCheckpoint(c: ChannelCheckpoint): Uint8Array {
  return encoder.encode({ s: c.position, q: c.lastSeq, v: [...c.vector], i: [...c.lastIds] });
}

/** The checkpoint in `bytes`, or undefined for bytes that are not one. */
export function decodeCheckpoint(bytes: Uint8Array): ChannelCheckpoint | undefined {
  let w: unknown;
  try {
    w = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  if (typeof w !== 'object' || w === null) return undefined;
  const { s, q, v, i } = w as { s?: unknown; q?: unknown; v?: unknown; i?: unknown };
  if (typeof s !== 'number' || typeof q !== 'number' || !Array.isArray(v) || !Array.isArray(i)) return undefined;
  const vector = new Map<string, number>();
  for (const e of v as unknown[]) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') return undefined;
    vector.set(e[0], e[1]);
  }
  const lastIds = new Map<string, Uint8Array>();
  for (const e of i as unknown[]) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || !(e[1] instanceof Uint8Array)) return undefined;
    lastIds.set(e[0], e[1]);
  }
  return { position: s, lastSeq: q, vector, lastIds };
}
