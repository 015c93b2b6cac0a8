// Where each message of the view is in the stream: per channel, the stream sequence of each
// seq the view holds, so a trim knows where in the stream a channel's oldest kept message
// is. Eight bytes a message; dropped as retention removes messages. Pure.

interface ChannelPositions {
  /** The channel seq of `streamSeqs[0]`. */
  base: number;
  streamSeqs: number[];
}

export class StreamPositions {
  readonly #channels = new Map<string, ChannelPositions>();

  /** The view gave a record at `streamSeq` the channel seq `seq` (seqs come in order, without gaps). */
  record(channel: string, seq: number, streamSeq: number): void {
    const positions = this.#channels.get(channel);
    if (positions === undefined) this.#channels.set(channel, { base: seq, streamSeqs: [streamSeq] });
    else positions.streamSeqs.push(streamSeq);
  }

  /** The stream sequence of the channel's message `seq`, if recorded and not dropped. */
  streamSeqOf(channel: string, seq: number): number | undefined {
    const positions = this.#channels.get(channel);
    if (positions === undefined) return undefined;
    return positions.streamSeqs[seq - positions.base];
  }

  /** The stream sequence of the channel's newest message recorded. */
  last(channel: string): number | undefined {
    const seqs = this.#channels.get(channel)?.streamSeqs;
    return seqs === undefined ? undefined : seqs[seqs.length - 1];
  }

  /** The oldest seq recorded. */
  first(channel: string): number | undefined {
    return this.#channels.get(channel)?.base;
  }

  /** Forgets the channel's messages before `seq`. */
  dropBefore(channel: string, seq: number): void {
    const positions = this.#channels.get(channel);
    if (positions === undefined || seq <= positions.base) return;
    positions.streamSeqs = positions.streamSeqs.slice(seq - positions.base);
    positions.base = seq;
  }

  channels(): IterableIterator<string> {
    return this.#channels.keys();
  }
}
