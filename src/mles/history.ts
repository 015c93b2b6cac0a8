// The Mles replay of a channel: its messages (from the store) and the join headers
// (kept apart, in a JoinHeaders store), interleaved in the order they happened.

import type { StoredMessage } from '../store/store.ts';

/** An entry of the Mles replay: a message, or a join header frame (text, auth removed). */
export type MlesHistoryEntry =
  | { readonly kind: 'message'; readonly message: StoredMessage }
  | { readonly kind: 'header'; readonly frame: Uint8Array };

/** A stored join header: it came after message `position` of its channel. */
export interface JoinHeader {
  readonly position: number;
  readonly frame: Uint8Array;
}

/**
 * Interleaves messages and join headers in the order they happened (a header stored
 * at position p came after message p and before p + 1) and keeps the last `limit`.
 */
export function mergeMlesHistory(messages: readonly StoredMessage[], headers: readonly JoinHeader[], limit: number): MlesHistoryEntry[] {
  const merged: MlesHistoryEntry[] = [];
  let h = 0;
  for (const message of messages) {
    while (h < headers.length && headers[h]!.position < message.seq) merged.push({ kind: 'header', frame: headers[h++]!.frame });
    merged.push({ kind: 'message', message });
  }
  while (h < headers.length) merged.push({ kind: 'header', frame: headers[h++]!.frame });
  return merged.slice(Math.max(0, merged.length - limit));
}
