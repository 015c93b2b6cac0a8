// Reads a client's WebSocket byte stream into messages and control events, enforcing
// RFC 6455's rules for what a server accepts: masked frames, no reserved bits, well
// formed control frames, in-order fragments, valid UTF-8 text and close frames, and a
// size limit. Pure: bytes in, events out. The first violation ends reading with the
// close code the RFC gives for it.

import { isUtf8 } from 'node:buffer';
import { Reassembler } from './reassembler.ts';
import { FrameError, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, parseFrames } from './frame.ts';

export interface WsReaderEvents {
  /**
   * A complete message: `buf[start, end)`. Only valid during the call: copy what you
   * keep. A range, not a view, so the hot path allocates nothing per frame.
   */
  message(buf: Buffer, start: number, end: number, binary: boolean): void;
  ping(payload: Buffer): void;
  pong(payload: Buffer): void;
  /** The client's close frame; reading stops. `code` is undefined for an empty close. */
  close(code: number | undefined, reason: string): void;
  /** A protocol violation; reading stops. */
  fail(code: number, reason: string): void;
}

/** Close codes a peer may send (RFC 6455 7.4, IANA registry; 3000-4999 for applications). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

export class WsReader {
  readonly #events: WsReaderEvents;
  readonly #maxMessage: number;
  readonly #stream: Reassembler;
  #stopped = false;
  /** Fragments of a message in progress (copies: the stream's buffers are reused). */
  #fragments: Buffer[] | undefined;
  #fragmentsBinary = false;
  #fragmentsBytes = 0;

  constructor(events: WsReaderEvents, maxMessage: number) {
    this.#events = events;
    this.#maxMessage = maxMessage;
    this.#stream = new Reassembler((buf, start, end) => this.#parse(buf, start, end));
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  push(chunk: Buffer): void {
    if (!this.#stopped) this.#stream.push(chunk, 0, chunk.length);
  }

  #parse(buf: Buffer, start: number, end: number): number {
    if (this.#stopped) return end;
    try {
      return parseFrames(buf, start, end, this.#onFrame, this.#maxMessage);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.#fail(error.closeCode, error.message);
      return end;
    }
  }

  #fail(code: number, reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#fragments = undefined;
    this.#stream.reset();
    this.#events.fail(code, reason);
  }

  // An arrow function, so parseFrames can call it without a bound copy per chunk.
  #onFrame = (opcode: number, fin: boolean, buf: Buffer, start: number, end: number, masked: boolean): void => {
    if (this.#stopped) return;
    if (!masked) return this.#fail(1002, 'client frames must be masked');
    if (opcode === OP_BINARY && fin && this.#fragments === undefined) {
      this.#events.message(buf, start, end, true); // the common case, first
      return;
    }
    const payload = buf.subarray(start, end);
    if (opcode >= 0x8) {
      if (!fin || payload.length > 125) return this.#fail(1002, 'bad control frame');
      if (opcode === OP_PING) return this.#events.ping(payload);
      if (opcode === OP_PONG) return this.#events.pong(payload);
      if (opcode === OP_CLOSE) return this.#onClose(payload);
      return this.#fail(1002, 'unknown opcode');
    }
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.#fragments !== undefined) return this.#fail(1002, 'expected a continuation frame');
      if (fin) return this.#deliver(payload, opcode === OP_BINARY);
      this.#fragments = [Buffer.from(payload)];
      this.#fragmentsBinary = opcode === OP_BINARY;
      this.#fragmentsBytes = payload.length;
      return;
    }
    if (opcode !== OP_CONTINUATION) return this.#fail(1002, 'unknown opcode');
    if (this.#fragments === undefined) return this.#fail(1002, 'unexpected continuation frame');
    this.#fragmentsBytes += payload.length;
    if (this.#fragmentsBytes > this.#maxMessage) return this.#fail(1009, 'message too big');
    this.#fragments.push(Buffer.from(payload));
    if (!fin) return;
    const whole = Buffer.concat(this.#fragments, this.#fragmentsBytes);
    this.#fragments = undefined;
    this.#deliver(whole, this.#fragmentsBinary);
  };

  #deliver(payload: Buffer, binary: boolean): void {
    if (!binary && !isUtf8(payload)) return this.#fail(1007, 'invalid UTF-8 in text frame');
    this.#events.message(payload, 0, payload.length, binary);
  }

  #onClose(payload: Buffer): void {
    let code: number | undefined;
    let reason = '';
    if (payload.length === 1) return this.#fail(1002, 'bad close frame');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) return this.#fail(1002, 'invalid close code');
      const reasonBytes = payload.subarray(2);
      if (!isUtf8(reasonBytes)) return this.#fail(1007, 'invalid UTF-8 in close reason');
      reason = reasonBytes.toString('utf8');
    }
    this.#stopped = true;
    this.#stream.reset();
    this.#events.close(code, reason);
  }
}
