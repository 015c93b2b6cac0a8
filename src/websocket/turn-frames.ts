// The frames queued anywhere during one event-loop turn, in order, each once. In a
// fan-out every recipient's queue holds the same run of frames; instead of each queue
// copying its run into a buffer of its own (100 recipients, 100 copies), the turn's
// frames are joined once and each queue writes a slice of that one buffer. Queues
// whose frames are not one contiguous run of the log (a mix of channels) copy their
// own, as before.

export class TurnFrames {
  #frames: Buffer[] = [];
  /** Byte offset of each frame in the joined buffer; one more entry than frames. */
  #offsets: number[] = [0];
  #last: Buffer | undefined;
  /** The last run joined, shared by every queue that asks for the same run. */
  #joined: Buffer | undefined;
  #joinedStart = -1;
  #joinedEnd = -1;

  /** The frame's index in this turn, appending it when it is not the latest one. */
  indexOf(frame: Buffer): number {
    if (frame !== this.#last) {
      this.#frames.push(frame);
      this.#offsets.push(this.#offsets[this.#offsets.length - 1]! + frame.length);
      this.#last = frame;
    }
    return this.#frames.length - 1;
  }

  /**
   * The bytes of frames `start` up to, not including, `end`. Queues holding the same
   * run (a fan-out) share one joined buffer; a different run is joined on its own, so
   * the cost is bounded by the run, never by the whole turn.
   */
  slice(start: number, end: number): Buffer {
    if (this.#joined === undefined || start !== this.#joinedStart || end !== this.#joinedEnd) {
      this.#joined = Buffer.concat(this.#frames.slice(start, end), this.#offsets[end]! - this.#offsets[start]!);
      this.#joinedStart = start;
      this.#joinedEnd = end;
    }
    return this.#joined;
  }

  /** Forgets the turn; indices handed out before are no longer valid. */
  clear(): void {
    if (this.#frames.length === 0) return;
    this.#frames = [];
    this.#offsets = [0];
    this.#last = undefined;
    this.#joined = undefined;
    this.#joinedStart = this.#joinedEnd = -1;
  }
}
