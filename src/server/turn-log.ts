// The frames queued anywhere during one event-loop turn, in order, each once. In a
// fan-out every recipient's queue holds the same run of frames; instead of each queue
// copying its run into a buffer of its own (100 recipients, 100 copies), the turn's
// frames are joined once and each queue writes a slice of that one buffer. Queues
// whose frames are not one contiguous run of the log (a mix of channels) copy their
// own, as before.

export class TurnLog {
  #frames: Buffer[] = [];
  /** Byte offset of each frame in the joined buffer; one more entry than frames. */
  #offsets: number[] = [0];
  #last: Buffer | undefined;
  #joined: Buffer | undefined;

  /** The frame's index in this turn, appending it when it is not the latest one. */
  indexOf(frame: Buffer): number {
    if (frame !== this.#last) {
      this.#frames.push(frame);
      this.#offsets.push(this.#offsets[this.#offsets.length - 1]! + frame.length);
      this.#last = frame;
      this.#joined = undefined;
    }
    return this.#frames.length - 1;
  }

  /** The bytes of frames `start` up to, not including, `end`: a view, no copy per caller. */
  slice(start: number, end: number): Buffer {
    this.#joined ??= Buffer.concat(this.#frames, this.#offsets[this.#offsets.length - 1]);
    return this.#joined.subarray(this.#offsets[start], this.#offsets[end]);
  }

  /** Forgets the turn; indices handed out before are no longer valid. */
  clear(): void {
    if (this.#frames.length === 0) return;
    this.#frames = [];
    this.#offsets = [0];
    this.#last = undefined;
    this.#joined = undefined;
  }
}
