// Origin vectors (see OriginVector in store.ts) and the questions peering asks of them,
// shared by both stores.

import type { AppendRequest, AppendResult, OriginVector, OriginStamp, StoredMessage } from './store.ts';

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

/**
 * Where a message copied from a peer falls in its origin's sequence, as this store has
 * it: already held, next in line, or past a hole. Each origin numbers its messages
 * 1, 2, 3... and a node stores them in that order, so a message beyond the next one
 * is refused: taking it would move the vector entry past messages the origin has not
 * written yet, and they would all be dropped as held (one lying peer could silence an
 * honest node for good).
 *
 * One kind of hole is honest and cannot be told from a lie without origin signatures:
 * a peer's retention removed the messages in between. It is taken only while this
 * store holds no message of that origin in the channel (a new node, or one whose own
 * copies aged out too): then a liar can only claim origins that have said nothing here
 * for the whole retention window. `holdsOrigin` is asked only for a hole.
 */
export function replicaPlace(vector: OriginVector, replica: OriginStamp, holdsOrigin: () => boolean): 'held' | 'next' | 'hole' {
  const highest = vector.get(replica.origin) ?? 0;
  if (replica.originSeq <= highest) return 'held';
  if (replica.originSeq === highest + 1) return 'next';
  return holdsOrigin() ? 'hole' : 'next';
}

/** What a store answers for a replica it does not store: the replica itself, seq 0. */
export function replicaAsGiven(request: AppendRequest, replica: OriginStamp): StoredMessage {
  return { ...replica, channel: request.channel, seq: 0, uid: request.uid, binary: request.binary, payload: request.payload };
}

/** What a store answers for a replica it does not take (see replicaPlace). */
export function replicaNotStored(request: AppendRequest, replica: OriginStamp, place: 'held' | 'hole', vector: OriginVector): AppendResult {
  const message = replicaAsGiven(request, replica);
  return place === 'held' ? { message, duplicate: true } : { message, duplicate: true, hole: { after: vector.get(replica.origin) ?? 0 } };
}
