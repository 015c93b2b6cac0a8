// Origin vectors (see OriginVector in store.ts) and the questions peering asks of them,
// shared by both stores.

import type { AppendRequest, OriginVector, Replica, StoredMessage } from './store.ts';

/**
 * The seq of the oldest message a holder of `have` lacks, from a channel's messages
 * newest first as [seq, origin, originSeq]. Each origin's messages are in origin-seq
 * order, so once one of an origin's messages is covered by `have`, so are all older
 * ones: a peer that was away briefly lacks a short tail, and the scan stops soon after.
 */
export function firstMissing(
  vector: OriginVector,
  have: OriginVector,
  newestFirst: Iterable<readonly [number, string, number]>,
): number | undefined {
  const open = new Set<string>();
  for (const [origin, highest] of vector) if (highest > (have.get(origin) ?? 0)) open.add(origin);
  if (open.size === 0) return undefined;
  let first: number | undefined;
  for (const [seq, origin, originSeq] of newestFirst) {
    if (!open.has(origin)) continue;
    if (originSeq > (have.get(origin) ?? 0)) first = seq;
    else if (open.delete(origin) && open.size === 0) break;
  }
  return first;
}

/** What a store answers for a replica it already holds: the replica itself, seq 0. */
export function replicaAsGiven(request: AppendRequest, replica: Replica): StoredMessage {
  return { ...replica, channel: request.channel, seq: 0, uid: request.uid, binary: request.binary, payload: request.payload };
}
