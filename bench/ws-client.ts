// A minimal raw WebSocket client on `net`: hand-written upgrade, masked frames written as
// prebuilt batches, and a streaming parser reading into one buffer shared by every socket
// (net's `onread`), so receiving allocates nothing per read or per frame in steady state.

import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Reassembler } from '../src/websocket/reassembler.ts';
import { acceptKey } from '../src/websocket/handshake.ts';
import { encodeFrame, OP_CLOSE, OP_PING, OP_PONG, parseFrames } from '../src/websocket/frame.ts';

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** Time of the read being processed (performance.now() ms), set before any handler runs. */
export const rxClock = { now: 0 };

export interface WsTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly protocol: string;
  readonly localAddress?: string;
}

export interface WsHandler {
  /** A data frame (text, binary or continuation); the payload is `buf[start, end)`. */
  onFrame(opcode: number, fin: boolean, buf: Buffer, start: number, end: number): void;
  /** The connection ended without us closing it. */
  onClose?(code: number, reason: string): void;
}


export function upgradeRequest(target: WsTarget, key: string): string {
  return (
    `GET ${target.path} HTTP/1.1\r\n` +
    `Host: ${target.host}:${target.port}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n' +
    `Sec-WebSocket-Protocol: ${target.protocol}\r\n\r\n`
  );
}

export class WsConnectError extends Error {}

const NO_HANDLER: WsHandler = { onFrame() {} };

export class WsConn {
  readonly socket: Socket;
  readonly target: WsTarget;
  handler: WsHandler = NO_HANDLER;
  /** Close code and reason if the server closed us (or the socket died). */
  closed: { code: number; reason: string } | undefined;
  error: Error | undefined;
  #key: string;
  #head: Buffer | undefined = Buffer.alloc(0); // upgrade response so far; undefined once open
  #frames: Reassembler;
  #pongWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #opened: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #ending = false;

  private constructor(target: WsTarget, handler: WsHandler) {
    this.target = target;
    this.handler = handler;
    this.#key = randomBytes(16).toString('base64');
    this.#frames = new Reassembler((buf, start, end) =>
      parseFrames(buf, start, end, (op, fin, b, s, e) => this.#onFrame(op, fin, b, s, e)),
    );
    this.socket = netConnect({
      host: target.host,
      port: target.port,
      ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }),
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array): boolean => {
          rxClock.now = performance.now();
          this.#onData(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket.on('connect', () => {
      this.socket.write(upgradeRequest(target, this.#key));
    });
    this.socket.on('error', (err) => {
      this.error ??= err;
      this.#fail(new WsConnectError(`${target.host}:${target.port}: ${err.message}`));
    });
    this.socket.on('close', () => {
      if (this.#opened !== undefined) {
        this.#fail(new WsConnectError(`${target.host}:${target.port}: closed during upgrade`));
        return;
      }
      if (!this.#ending) this.#ended(1006, this.error?.message ?? 'connection lost');
    });
  }

  /**
   * Connects and completes the upgrade (rejecting on any failure or after `timeoutMs`).
   * The handler is attached from the start: frames that arrive with the upgrade response
   * reach it before the promise settles.
   */
  static open(target: WsTarget, handler: WsHandler = NO_HANDLER, timeoutMs = 10_000): Promise<WsConn> {
    const conn = new WsConn(target, handler);
    return new Promise<WsConn>((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.#fail(new WsConnectError(`${target.host}:${target.port}: upgrade timed out`));
        conn.destroy();
      }, timeoutMs);
      conn.#opened = {
        resolve: () => {
          clearTimeout(timer);
          resolve(conn);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Writes bytes that are already framed (e.g. a FrameBatcher batch). */
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  /** Frames (masked) and writes one message. */
  send(opcode: number, payload: Uint8Array): boolean {
    return this.socket.write(encodeFrame(opcode, payload, randomBytes(4)));
  }

  /**
   * Resolves when the server answers a ping sent now, so everything sent before it has
   * been handled; rejects if the connection ends or no pong comes within `timeoutMs`.
   */
  ping(timeoutMs = 10_000): Promise<void> {
    if (this.closed !== undefined) return Promise.reject(this.#closedError());
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WsConnectError('no pong')), timeoutMs);
      this.#pongWaiters.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send(OP_PING, Buffer.from('bench'));
    });
  }

  #closedError(): Error {
    const c = this.closed;
    return new WsConnectError(`connection closed: ${c?.code ?? 0} ${c?.reason ?? ''}`);
  }

  #ended(code: number, reason: string): void {
    if (this.closed !== undefined) return;
    this.closed = { code, reason };
    const waiters = this.#pongWaiters;
    this.#pongWaiters = [];
    for (const w of waiters) w.reject(this.#closedError());
    this.handler.onClose?.(code, reason);
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Drops the connection with a TCP reset: no close handshake, no TIME_WAIT left behind. */
  destroy(): void {
    this.#ending = true;
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  #fail(e: Error): void {
    const opened = this.#opened;
    if (opened === undefined || this.#head === undefined) return;
    this.#opened = undefined;
    opened.reject(e);
  }

  #onData(buf: Buffer, n: number): void {
    if (this.#head === undefined) {
      this.#frames.push(buf, 0, n);
      return;
    }
    const head = Buffer.concat([this.#head, buf.subarray(0, n)]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 16384) this.#rejectUpgrade('oversized upgrade response');
      else this.#head = head;
      return;
    }
    const text = head.subarray(0, end).toString('latin1');
    const lines = text.split('\r\n');
    const status = lines[0] ?? '';
    if (!/^HTTP\/1\.1 101\b/.test(status)) {
      this.#rejectUpgrade(`upgrade refused: ${status}`);
      return;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    if (headers.get('sec-websocket-accept') !== acceptKey(this.#key)) {
      this.#rejectUpgrade('bad Sec-WebSocket-Accept');
      return;
    }
    const proto = headers.get('sec-websocket-protocol');
    if (proto !== undefined && proto !== this.target.protocol) {
      this.#rejectUpgrade(`server chose subprotocol ${proto}`);
      return;
    }
    this.#head = undefined;
    const opened = this.#opened;
    this.#opened = undefined;
    opened?.resolve();
    // Bytes after the response are frames; copy them out of the shared read buffer.
    if (end + 4 < head.length) this.#frames.push(head, end + 4, head.length);
  }

  #rejectUpgrade(why: string): void {
    this.#fail(new WsConnectError(`${this.target.host}:${this.target.port}: ${why}`));
    this.destroy();
  }

  #onFrame(opcode: number, fin: boolean, buf: Buffer, start: number, end: number): void {
    if (opcode < 0x8) {
      this.handler.onFrame(opcode, fin, buf, start, end);
      return;
    }
    if (opcode === OP_PING) {
      this.send(OP_PONG, buf.subarray(start, end));
    } else if (opcode === OP_PONG) {
      this.#pongWaiters.shift()?.resolve();
    } else if (opcode === OP_CLOSE) {
      const code = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
      const reason = end - start > 2 ? buf.toString('utf8', start + 2, end) : '';
      this.#ended(code, reason);
      this.destroy();
    }
  }
}
