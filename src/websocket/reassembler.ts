// Turns a byte stream that arrives in arbitrary pieces into whole protocol units without
// copying in the common case. A parse function consumes complete units in place from the
// piece it is given and returns where the first incomplete unit starts; only that tail is
// copied into a carry buffer, and once the unit that straddled the boundary is complete,
// parsing moves back onto the caller's piece.

/**
 * Parses complete units in `buf[start, end)` and returns the offset just past the last
 * complete one (`start` if there is none). Units must not be consumed partially.
 */
export type ParseFn = (buf: Buffer, start: number, end: number) => number;

const MIN_STEP = 256;
/** A carry buffer larger than this is released once empty, so one big frame does not pin memory. */
const KEEP_CARRY_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class Reassembler {
  readonly #parse: ParseFn;
  #carry: Buffer = EMPTY; // allocated on first use: most connections never need it
  #carryLen = 0;

  constructor(parse: ParseFn) {
    this.#parse = parse;
  }

  /** Bytes held back waiting for the rest of a unit. */
  get pending(): number {
    return this.#carryLen;
  }

  push(buf: Buffer, start: number, end: number): void {
    let pos = start;
    // Finish a unit that began in an earlier piece: append a growing step of bytes at a
    // time (so a huge unit costs amortised linear time) until the parser takes it.
    while (this.#carryLen > 0 && pos < end) {
      const step = Math.min(end - pos, Math.max(MIN_STEP, this.#carryLen));
      this.#append(buf, pos, pos + step);
      pos += step;
      const used = this.#parse(this.#carry, 0, this.#carryLen);
      if (used > 0) {
        // Everything left in the carry came from this piece (the old tail was one
        // incomplete unit, so `used` reaches past it): continue on the piece itself.
        pos -= this.#carryLen - used;
        this.#carryLen = 0;
        if (this.#carry.length > KEEP_CARRY_BYTES) this.#carry = EMPTY;
      }
    }
    if (pos >= end) return;
    const used = this.#parse(buf, pos, end);
    if (used < end) this.#append(buf, used, end);
  }

  reset(): void {
    this.#carryLen = 0;
    this.#carry = EMPTY;
  }

  #append(buf: Buffer, start: number, end: number): void {
    const need = this.#carryLen + (end - start);
    if (need > this.#carry.length) {
      let size = Math.max(1024, this.#carry.length * 2);
      while (size < need) size *= 2;
      const bigger = Buffer.allocUnsafe(size);
      this.#carry.copy(bigger, 0, 0, this.#carryLen);
      this.#carry = bigger;
    }
    buf.copy(this.#carry, this.#carryLen, start, end);
    this.#carryLen = need;
  }
}
