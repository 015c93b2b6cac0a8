// A server-side WebSocket on an upgraded socket: reads frames through WsReader, writes
// through the coalescing OutboundQueue, answers pings, runs keepalive and the closing
// handshake. parley relays many small frames, and a general WebSocket library spends
// most of a relay's time on per-frame events and buffers (PERF.md); reading frames in
// place off the socket and writing prebuilt frames is what lets one core relay
// millions of frames a second, so the node speaks WebSocket itself. Clients still use `ws`.

import type { Duplex } from 'node:stream';
import { encodeFrame, OP_CLOSE, OP_PING, OP_PONG } from './frame.ts';
import { WsReader } from './reader.ts';
import { OutboundQueue, type OutboundFlusher, type OutboundTotals } from './outbound.ts';

export interface ServerWebSocketHandlers {
  /** A complete message, `buf[start, end)`; only valid during the call. */
  message(buf: Buffer, start: number, end: number, binary: boolean): void;
  /** The client broke the protocol; the connection is closing with `code`. */
  protocolError(code: number, reason: string): void;
  /** A bug: handling the client's bytes threw. The connection closes with 1011; the node goes on. */
  internalError(error: unknown): void;
  /** The client fell more than maxBuffered bytes behind. */
  overflow(): void;
  /** The socket has closed. Called exactly once. */
  closed(code: number, reason: string): void;
}

export interface ServerWebSocketOptions {
  readonly maxMessage: number;
  readonly maxBuffered: number;
  readonly totals: OutboundTotals;
  /** The node's flusher, which writes every connection's queued frames at the end of the turn. */
  readonly outbound: OutboundFlusher;
}

/** How long the other side gets to finish a closing handshake before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** Close reasons are limited to 123 bytes by the frame size of control frames. */
const MAX_REASON_BYTES = 123;

function closeFrame(code: number | undefined, reason: string): Buffer {
  if (code === undefined) return encodeFrame(OP_CLOSE, Buffer.alloc(0));
  let reasonBytes = Buffer.from(reason);
  if (reasonBytes.length > MAX_REASON_BYTES) reasonBytes = reasonBytes.subarray(0, MAX_REASON_BYTES);
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return encodeFrame(OP_CLOSE, payload);
}

const EMPTY_PING = encodeFrame(OP_PING, Buffer.alloc(0));

export class ServerWebSocket {
  readonly #socket: Duplex;
  readonly #queue: OutboundQueue;
  readonly #reader: WsReader;
  readonly #handlers: ServerWebSocketHandlers;
  #open = true;
  #closeSent = false;
  #closeCode = 1006;
  #closeReason = '';
  #graceTimer: NodeJS.Timeout | undefined;
  /** Pings sent since the client last showed it is alive. */
  #missedPings = 0;

  constructor(socket: Duplex, options: ServerWebSocketOptions, handlers: ServerWebSocketHandlers) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#queue = new OutboundQueue(socket, options.outbound, options.maxBuffered, options.totals, () => handlers.overflow());
    this.#reader = new WsReader(
      {
        message: (buf, start, end, binary) => {
          this.#missedPings = 0;
          if (this.#open) handlers.message(buf, start, end, binary);
        },
        ping: (payload) => {
          this.#missedPings = 0;
          if (!this.#closeSent) this.#socket.write(encodeFrame(OP_PONG, payload));
        },
        pong: () => (this.#missedPings = 0),
        close: (code, reason) => this.#onPeerClose(code, reason),
        fail: (code, reason) => this.#onProtocolError(code, reason),
      },
      options.maxMessage,
    );
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('end', () => socket.end()); // the client half-closed: finish our side too
    socket.on('error', () => {}); // a reset; 'close' follows
    socket.on('close', () => this.#onSocketClose());
  }

  /**
   * Starts reading, with `head`, the bytes that arrived behind the upgrade request.
   * Separate from the constructor so the owner is fully built before its first message.
   */
  start(head: Buffer): void {
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    if (head.length > 0) this.#read(head);
  }

  #read(chunk: Buffer): void {
    try {
      this.#reader.push(chunk);
    } catch (error) {
      // One connection's bad luck must not take the node down: close it and report.
      this.#onProtocolError(1011, 'internal error');
      this.#handlers.internalError(error);
    }
  }

  /** Queues a prebuilt server frame; ignored once closing. */
  send(wire: Buffer): void {
    if (this.#open) this.#queue.push(wire);
  }

  get open(): boolean {
    return this.#open;
  }

  /**
   * Resolves once at most `limit` bytes wait to be sent: true then, false when the
   * connection closed first. For producers that could outrun the client (replays).
   */
  async waitForRoom(limit: number): Promise<boolean> {
    this.#queue.flush();
    while (this.#open && this.#socket.writableLength > limit) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.on('drain', done);
        this.#socket.on('close', done);
      });
    }
    return this.#open;
  }

  /**
   * Sends a keepalive ping. Returns false, sending nothing, when `maxMissed` pings in a
   * row went unanswered: the caller should close the connection.
   */
  keepalive(maxMissed: number): boolean {
    if (!this.#open) return true;
    if (this.#missedPings >= maxMissed) return false;
    this.#missedPings++;
    this.#socket.write(EMPTY_PING);
    return true;
  }

  /** Starts the closing handshake: queued frames first, then the close frame. */
  close(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#queue.flush();
    this.#queue.close();
    this.#sendClose(code, reason);
    this.#closeCode = code;
    this.#closeReason = reason;
  }

  /** Closes without flushing what is queued (for a reader that is too slow to get it). */
  abandon(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#queue.close();
    this.#sendClose(code, reason);
    this.#closeCode = code;
    this.#closeReason = reason;
  }

  #sendClose(code: number | undefined, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    if (!this.#socket.destroyed) this.#socket.write(closeFrame(code, reason));
    this.#graceTimer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    this.#graceTimer.unref();
  }

  #onPeerClose(code: number | undefined, reason: string): void {
    if (this.#open) {
      // The client closes: what was queued for it goes out first, then our echo.
      this.#open = false;
      this.#queue.flush();
      this.#queue.close();
      this.#closeCode = code ?? 1005;
      this.#closeReason = reason;
      this.#sendClose(code, '');
    }
    // Both close frames are out: the server closes the TCP connection first (RFC 6455 7.1.1).
    this.#socket.end();
  }

  #onProtocolError(code: number, reason: string): void {
    const wasOpen = this.#open;
    this.#open = false;
    this.#queue.close();
    if (wasOpen) {
      this.#closeCode = code;
      this.#closeReason = reason;
      this.#sendClose(code, reason);
      this.#handlers.protocolError(code, reason);
    }
    this.#socket.end();
  }

  #onSocketClose(): void {
    clearTimeout(this.#graceTimer);
    this.#open = false;
    this.#queue.close();
    this.#handlers.closed(this.#closeCode, this.#closeReason);
  }
}
