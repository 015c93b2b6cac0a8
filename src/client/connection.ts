// One WebSocket to the node, from opening to close: subprotocol `parley.v1`, the hello
// and its welcome (within a deadline), then validated frames up to the client. Knows
// nothing of subscriptions or retries; each reconnect is a new Connection. Uses the
// WebSocket API that browsers and Node 24 share (or any constructor of that shape).

import { decodeNodeFrames, encodeFrame, NATIVE_SUBPROTOCOL } from '../native/frames.ts';
import type { ClientFrame, ReceivedNodeFrame } from '../native/frames.ts';

/** The part of the standard WebSocket that the client uses. */
export interface WebSocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  readonly protocol: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;

export interface Welcome {
  readonly node: string;
  /** Largest frame the node accepts, bytes. */
  readonly max: number;
}

export interface ConnectionClosed {
  readonly code: number;
  readonly reason: string;
  /** Whether the welcome had arrived. */
  readonly welcomed: boolean;
  /** An `err` frame received before the welcome (e.g. a refused hello), if any. */
  readonly refusal: { readonly code: string; readonly msg: string } | undefined;
}

export interface ConnectionHandlers {
  welcome(welcome: Welcome): void;
  frame(frame: Exclude<ReceivedNodeFrame, { t: 'welcome' }>): void;
  /** A frame that could not be understood; the connection goes on. */
  invalid(reason: string): void;
  /** Called exactly once. */
  closed(info: ConnectionClosed): void;
}

export interface ConnectionOptions {
  readonly WebSocket: WebSocketConstructor;
  readonly url: string;
  readonly uid: string;
  /** Time from opening to welcome, ms. */
  readonly connectTimeoutMs: number;
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

export class Connection {
  readonly #ws: WebSocketLike;
  readonly #handlers: ConnectionHandlers;
  #welcomed = false;
  #closed = false;
  #refusal: ConnectionClosed['refusal'];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Close code to report when this side gives up (the WebSocket reports 1005/1006). */
  #ownClose: { code: number; reason: string } | undefined;
  /** Resolves when the WebSocket itself has closed (after close(), a moment later). */
  readonly socketClosed: Promise<void>;

  constructor(options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.#handlers = handlers;
    const ws = new options.WebSocket(options.url, NATIVE_SUBPROTOCOL);
    this.#ws = ws;
    let socketClosed!: () => void;
    this.socketClosed = new Promise((resolve) => {
      socketClosed = resolve;
    });
    ws.binaryType = 'arraybuffer';
    this.#timer = setTimeout(() => this.#giveUp(4408, 'no welcome in time'), options.connectTimeoutMs);

    ws.addEventListener('open', () => {
      if (this.#closed) return;
      if (ws.protocol !== NATIVE_SUBPROTOCOL) {
        this.#giveUp(1002, `node chose subprotocol "${ws.protocol}", not ${NATIVE_SUBPROTOCOL}`);
        return;
      }
      ws.send(encodeFrame({ t: 'hello', uid: options.uid }));
    });

    ws.addEventListener('message', (event) => {
      if (this.#closed) return;
      const bytes = toBytes(event.data);
      if (bytes === undefined) {
        handlers.invalid('text frame from the node');
        return;
      }
      const decoded = decodeNodeFrames(bytes);
      if (!decoded.ok) {
        handlers.invalid(decoded.reason);
        return;
      }
      for (const frame of decoded.frames) {
        if (this.#closed) return;
        this.#onFrame(frame, handlers);
      }
    });

    ws.addEventListener('close', (event) => {
      socketClosed();
      this.#finish(event.code, event.reason);
    });
    // 'error' is always followed by 'close', which reports.
    ws.addEventListener('error', () => {});
  }

  get open(): boolean {
    return this.#welcomed && !this.#closed && this.#ws.readyState === OPEN;
  }

  /** Sends a frame; false when the connection is not open (the caller re-sends after a reconnect). */
  send(frame: ClientFrame): boolean {
    if (!this.open) return false;
    this.#ws.send(encodeFrame(frame));
    return true;
  }

  /** Sends an already encoded frame; false when the connection is not open. */
  sendBytes(bytes: Uint8Array): boolean {
    if (!this.open) return false;
    this.#ws.send(bytes);
    return true;
  }

  /** Closes from this side; `closed` is reported at once. */
  close(code = 1000, reason = ''): void {
    this.#giveUp(code, reason);
  }

  #onFrame(frame: ReceivedNodeFrame, handlers: ConnectionHandlers): void {
    if (!this.#welcomed) {
      if (frame.t === 'welcome') {
        this.#welcomed = true;
        clearTimeout(this.#timer);
        handlers.welcome({ node: frame.node, max: frame.max });
      } else if (frame.t === 'err') {
        // The node says why before it closes (e.g. NOT_HELLO, BAD_FRAME for the uid).
        this.#refusal = { code: frame.code, msg: frame.msg };
      } else {
        handlers.invalid(`${frame.t} before welcome`);
      }
      return;
    }
    if (frame.t === 'welcome') handlers.invalid('second welcome');
    else handlers.frame(frame);
  }

  #giveUp(code: number, reason: string): void {
    if (this.#closed) return;
    this.#ownClose = { code, reason };
    try {
      // Browsers only let scripts send 1000 and 3000-4999.
      this.#ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
    } catch {
      // Already closing.
    }
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const own = this.#ownClose;
    this.#handlers.closed({
      code: own?.code ?? code,
      reason: own?.reason ?? reason,
      welcomed: this.#welcomed,
      refusal: this.#refusal,
    });
  }
}
