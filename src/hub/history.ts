// Recent history per channel, as Mles replays it to joiners. This is the seam the
// durable store plugs into later: the hub only appends and asks for the recent tail.

/** What the hub needs to know of a frame to keep it: its size in bytes. */
export interface SizedFrame {
  readonly size: number;
}

export interface ChannelHistory<F extends SizedFrame> {
  /** Appends one frame to a channel's history, dropping the oldest past the limits. */
  append(channel: string, frame: F): void;
  /** The channel's stored frames, oldest first. */
  recent(channel: string): readonly F[];
  /** Totals for metrics. */
  stats(): { readonly channels: number; readonly frames: number; readonly bytes: number };
}

export interface HistoryLimits {
  /** Frames kept per channel (Mles `--limit`). 0 keeps none. */
  readonly frames: number;
  /** Bytes kept per channel; the oldest frames go first when over. */
  readonly bytes: number;
}

class ChannelLog<F extends SizedFrame> {
  frames: F[] = [];
  start = 0; // index of the oldest live frame; the array is compacted lazily
  bytes = 0;

  get length(): number {
    return this.frames.length - this.start;
  }

  dropOldest(): number {
    const frame = this.frames[this.start];
    if (frame === undefined) return 0;
    // Release the reference so the payload can be collected before compaction.
    (this.frames as Array<F | undefined>)[this.start] = undefined;
    this.start++;
    this.bytes -= frame.size;
    if (this.start > 64 && this.start * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.start);
      this.start = 0;
    }
    return frame.size;
  }
}

export class MemoryHistory<F extends SizedFrame> implements ChannelHistory<F> {
  readonly #limits: HistoryLimits;
  readonly #logs = new Map<string, ChannelLog<F>>();
  #totalFrames = 0;
  #totalBytes = 0;

  constructor(limits: HistoryLimits) {
    this.#limits = limits;
  }

  append(channel: string, frame: F): void {
    if (this.#limits.frames === 0 || frame.size > this.#limits.bytes) return;
    let log = this.#logs.get(channel);
    if (log === undefined) {
      log = new ChannelLog<F>();
      this.#logs.set(channel, log);
    }
    log.frames.push(frame);
    log.bytes += frame.size;
    this.#totalFrames++;
    this.#totalBytes += frame.size;
    while (log.length > this.#limits.frames || log.bytes > this.#limits.bytes) {
      this.#totalBytes -= log.dropOldest();
      this.#totalFrames--;
    }
  }

  recent(channel: string): readonly F[] {
    const log = this.#logs.get(channel);
    if (log === undefined) return [];
    return log.frames.slice(log.start);
  }

  stats(): { channels: number; frames: number; bytes: number } {
    return { channels: this.#logs.size, frames: this.#totalFrames, bytes: this.#totalBytes };
  }
}
