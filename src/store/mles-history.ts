// The Mles replay of a channel: its messages and the join headers stored apart from them,
// interleaved in the order they happened. Both stores build it the same way.

import type { MlesHistoryEntry, StoredMessage } from './store.ts';

/**
 * Interleaves messages and join headers in the order they happened (a header stored
 * at position p came after message p and before p + 1) and keeps the last `limit`.
 */
export function mergeMlesHistory(
  messages: readonly StoredMessage[],
  headers: ReadonlyArray<{ position: number; frame: Uint8Array }>,
  limit: number,
): MlesHistoryEntry[] {
  const merged: MlesHistoryEntry[] = [];
  let h = 0;
  for (const message of messages) {
    while (h < headers.length && headers[h]!.position < message.seq) merged.push({ kind: 'header', frame: headers[h++]!.frame });
    merged.push({ kind: 'message', message });
  }
  while (h < headers.length) merged.push({ kind: 'header', frame: headers[h++]!.frame });
  return merged.slice(Math.max(0, merged.length - limit));
}

