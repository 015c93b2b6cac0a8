// Replay from the store, then live: the seam every reader of a channel goes through
// (a native subscription, a peer's stream of a channel). The reader is already a hub
// member that ignores live deliveries until it is told to go live; the last read and
// that switch happen in one synchronous step, so no message falls between them.
//
// Pages are bounded in bytes as well as rows, and the store stops reading at the byte
// bound: a catch-up of large messages reads each about once (reading a row-sized page
// and sending a byte-sized part of it made one of 200 messages of 1 MiB cost 11 s).

import { readComplete, type Store, type StoredMessage } from '../store/store.ts';

export interface ReplayPage {
  /** Messages read at most per step. */
  readonly rows: number;
  /** Payload bytes read per step: the message that reaches it is the step's last. */
  readonly bytes: number;
}

export interface ReplayReader {
  /** Whether to stop: the reader went away or no longer wants the channel. */
  stopped(): boolean;
  /** Takes one step's messages, oldest first. */
  deliver(messages: readonly StoredMessage[]): void;
  /** Caught up, in the same synchronous step as the read that found no more. */
  live(last: number): void;
  /** Resolves once the reader has room for another step; false to stop. */
  drain(): Promise<boolean>;
}

/** Rows read in the first step of a replay. */
const FIRST_STEP_ROWS = 8;

/** Replays a channel after `after` to the reader, then switches it to live. */
export async function replayThenLive(store: Store, channel: string, after: number, page: ReplayPage, reader: ReplayReader): Promise<void> {
  let cursor = after;
  // The first step is short, so the first messages go out before a whole page has been
  // read and encoded (on a node just started, still by the interpreter).
  let rows = Math.min(page.rows, FIRST_STEP_ROWS);
  for (;;) {
    if (reader.stopped()) return;
    const range = { after: cursor, limit: rows, maxBytes: page.bytes };
    rows = page.rows;
    const messages = store.read(channel, range);
    if (messages.length > 0) {
      reader.deliver(messages);
      cursor = messages[messages.length - 1]!.seq;
    }
    if (readComplete(range, messages)) {
      reader.live(cursor);
      return;
    }
    if (!(await reader.drain())) return;
  }
}
