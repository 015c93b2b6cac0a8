// Where each message of the view is in the stream: per channel, the position of each seq
// the view holds, so a trim knows where in the stream a channel's oldest kept message is.
// A position is the stream sequence of the stream message the record came in, times
// SLOTS, plus the record's index in it (one stream message holds a run of records).
// Eight bytes a message; dropped as retention removes messages. Pure.

/** More than the records one stream message may hold (log-record.ts). */
const SLOTS = 1024;

export function positionOf(streamSeq: number, index: number): number {
  return streamSeq * SLOTS + index;
}

export function streamSeqOfPosition(position: number): number {
  return Math.floor(position / SLOTS);
}

interface ChannelPositions {
  /** The channel seq of `positions[0]`. */
  base: number;
  positions: number[];
}

export class StreamPositions {
  readonly #channels = new Map<string, ChannelPositions>();

  /** The view gave the record at `position` the channel seq `seq` (seqs come in order, without gaps). */
  record(channel: string, seq: number, position: number): void {
    const found = this.#channels.get(channel);
    if (found === undefined) this.#channels.set(channel, { base: seq, positions: [position] });
    else found.positions.push(position);
  }

  /** The position of the channel's message `seq`, if recorded and not dropped. */
  positionOf(channel: string, seq: number): number | undefined {
    const found = this.#channels.get(channel);
    if (found === undefined) return undefined;
    return found.positions[seq - found.base];
  }

  /** The position of the channel's newest message recorded. */
  last(channel: string): number | undefined {
    const positions = this.#channels.get(channel)?.positions;
    return positions === undefined ? undefined : positions[positions.length - 1];
  }

  /** The oldest seq recorded. */
  first(channel: string): number | undefined {
    return this.#channels.get(channel)?.base;
  }

  /** Forgets the channel's messages before `seq`. */
  dropBefore(channel: string, seq: number): void {
    const found = this.#channels.get(channel);
    if (found === undefined || seq <= found.base) return;
    found.positions = found.positions.slice(seq - found.base);
    found.base = seq;
  }

  /** Forgets the channel: its next recorded seq starts it again. */
  forget(channel: string): void {
    this.#channels.delete(channel);
  }

  channels(): IterableIterator<string> {
    return this.#channels.keys();
  }
}
