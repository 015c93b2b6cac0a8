// How the SQLite store reads message rows back into StoredMessages: as arrays of
// columns, and for range reads with id and payload in one blob (see RANGE_COLUMNS).

import type { StoredMessage } from './store.ts';

/**
 * Message rows are read as arrays of these columns, in this order: a row object per
 * message, then a message object from it, was a measurable part of a catch-up.
 */
export const COLUMNS = 'channel, seq, id, ts, origin, origin_seq, uid, binary, payload';
export type MessageRow = [string, number, Uint8Array, number, string, number, string, number, Uint8Array];

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
  };
}

/**
 * Range reads (replay, queries) take id and payload as one blob and split it into two
 * views, and get the origin as NULL when it is this node: node:sqlite makes a new
 * ArrayBuffer for every blob and a string for every text value, and those were most of
 * a catch-up's read time. (`||` joins blobs byte for byte; the cast keeps it a blob.)
 */
export const RANGE_COLUMNS = 'seq, ts, NULLIF(origin, ?), origin_seq, uid, binary, length(id), CAST(id || payload AS BLOB)';
export type RangeRow = [number, number, string | null, number, string, number, number, Uint8Array];

export function fromRangeRow(channel: string, nodeId: string, row: RangeRow): StoredMessage {
  const idLength = row[6];
  const bytes = row[7];
  return {
    channel,
    seq: row[0],
    id: bytes.subarray(0, idLength),
    ts: row[1],
    origin: row[2] ?? nodeId,
    originSeq: row[3],
    uid: row[4],
    binary: row[5] === 1,
    payload: bytes.subarray(idLength),
  };
}
