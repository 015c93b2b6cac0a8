// How the SQLite store reads message rows back into StoredMessages: as arrays of
// columns, and for range reads with id and payload in one blob (see RANGE_COLUMNS).

import { ID_LENGTH } from './message-id.ts';
import type { StoredMessage } from './store.ts';

/**
 * Message rows are read as arrays of these columns, in this order: a row object per
 * message, then a message object from it, was a measurable part of a catch-up.
 */
export const COLUMNS = 'channel, seq, id, ts, origin, origin_seq, uid, binary, payload, chain';
export type MessageRow = [string, number, Uint8Array, number, string, number, string, number, Uint8Array, Uint8Array | null];

/** The `chain` column: the previous id (32 bytes), then the origin's seal when it has one. */
export function chainOf(prev: Uint8Array, seal: Uint8Array | undefined): Uint8Array {
  if (seal === undefined) return prev;
  const chain = new Uint8Array(prev.length + seal.length);
  chain.set(prev);
  chain.set(seal, prev.length);
  return chain;
}

/** prev and seal back out of a `chain` column's bytes (views, not copies). */
function fromChain(chain: Uint8Array | null): { prev: Uint8Array | undefined; seal: Uint8Array | undefined } {
  if (chain === null || chain.length < ID_LENGTH) return { prev: undefined, seal: undefined };
  return { prev: chain.subarray(0, ID_LENGTH), seal: chain.length === ID_LENGTH ? undefined : chain.subarray(ID_LENGTH) };
}

export function toMessage(row: MessageRow): StoredMessage {
  return {
    channel: row[0],
    seq: row[1],
    id: row[2],
    ts: row[3],
    origin: row[4],
    originSeq: row[5],
    uid: row[6],
    binary: row[7] === 1,
    payload: row[8],
    ...fromChain(row[9]),
  };
}

/**
 * Range reads (replay, queries) take id, chain and payload as one blob and split it into
 * views, and get the origin as NULL when it is this node: node:sqlite makes a new
 * ArrayBuffer for every blob and a string for every text value, and those were most of
 * a catch-up's read time. (`||` joins blobs byte for byte; the cast keeps it a blob.)
 */
export const RANGE_COLUMNS = "seq, ts, NULLIF(origin, ?), origin_seq, uid, binary, length(id), coalesce(length(chain), 0), CAST(id || coalesce(chain, x'') || payload AS BLOB)";
export type RangeRow = [number, number, string | null, number, string, number, number, number, Uint8Array];

export function fromRangeRow(channel: string, nodeId: string, row: RangeRow): StoredMessage {
  const idLength = row[6];
  const chainEnd = idLength + row[7];
  const bytes = row[8];
  return {
    channel,
    seq: row[0],
    id: bytes.subarray(0, idLength),
    ts: row[1],
    origin: row[2] ?? nodeId,
    originSeq: row[3],
    uid: row[4],
    binary: row[5] === 1,
    payload: bytes.subarray(chainEnd),
    // Set even when absent: every message then has the same shape (one hidden class).
    prev: chainEnd === idLength ? undefined : bytes.subarray(idLength, idLength + ID_LENGTH),
    seal: chainEnd > idLength + ID_LENGTH ? bytes.subarray(idLength + ID_LENGTH, chainEnd) : undefined,
  };
}
