// Test kit: a fake transport for the client sessions. A session runs on a Duplex (in the
// node, the socket an HTTP upgrade hands over); here that Duplex is one end of an
// in-memory pair, and FakeWsClient speaks real WebSocket frames on the other end: masked
// frames out, the server's frames parsed back into messages and its close frame. No
// TCP, no timers of its own: a test awaits each frame the session sends.

import { duplexPair, type Duplex } from 'node:stream';
import { pino } from 'pino';
import type { ClientConnection, ConnectionContext } from './client-connection.ts';
import { encodeFrame, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, parseFrames } from './frame.ts';
import { OutboundFlusher } from './outbound.ts';
import { NodeStats } from './stats.ts';

/** A data message the server sent. */
export interface ServerMessage {
  readonly binary: boolean;
  readonly data: Buffer;
}

/** The server's close frame: its code (undefined for an empty close) and reason. */
export interface ServerClose {
  readonly code: number | undefined;
  readonly reason: string;
}

const MASK = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

/** Thrown by `message()` when the server closed instead of sending another message. */
export class ServerClosedError extends Error {
  readonly close: ServerClose;
  constructor(close: ServerClose) {
    super(`the server closed with ${close.code ?? 'no code'}: ${close.reason}`);
    this.close = close;
  }
}

/** The client end of a fake connection: writes masked frames, reads the server's. */
export class FakeWsClient {
  readonly #socket: Duplex;
  #buffered: Buffer = Buffer.alloc(0);
  readonly #messages: ServerMessage[] = [];
  #close: ServerClose | undefined;
  #waiters: Array<() => void> = [];
  /** Resolves when both ends of the socket have closed. */
  readonly ended: Promise<void>;
  /** Pings the server sent (keepalive), answered with pongs. */
  pings = 0;

  constructor(socket: Duplex) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    // The server ended its side (after the closing handshake): end ours, as TCP would.
    socket.on('end', () => socket.end());
    this.ended = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  sendText(text: string): void {
    this.sendFrame(OP_TEXT, Buffer.from(text));
  }

  sendBinary(bytes: Uint8Array): void {
    this.sendFrame(OP_BINARY, bytes);
  }

  /** Any frame, masked as a client's must be. */
  sendFrame(opcode: number, payload: Uint8Array, fin = true): void {
    this.sendRaw(encodeFrame(opcode, payload, MASK, fin));
  }

  /** Bytes as they are, for frames a well-behaved client would never send. */
  sendRaw(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** Starts the closing handshake from the client's side. */
  close(code: number, reason = ''): void {
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    this.sendFrame(OP_CLOSE, payload);
  }

  /** The next data message; rejects with ServerClosedError if the server closes first. */
  async message(): Promise<ServerMessage> {
    for (;;) {
      const next = this.#messages.shift();
      if (next !== undefined) return next;
      if (this.#close !== undefined) throw new ServerClosedError(this.#close);
      await this.#changed();
    }
  }

  /** The next data message, which must be a text frame: its text. */
  async text(): Promise<string> {
    const m = await this.message();
    if (m.binary) throw new Error(`expected a text frame, got ${m.data.length} binary bytes`);
    return m.data.toString('utf8');
  }

  /** The server's close frame, once it comes; rejects if a data message comes first. */
  async closed(): Promise<ServerClose> {
    for (;;) {
      const next = this.#messages.shift();
      if (next !== undefined) throw new Error(`expected a close, got a ${next.binary ? 'binary' : 'text'} message of ${next.data.length} bytes`);
      if (this.#close !== undefined) return this.#close;
      await this.#changed();
    }
  }

  /** Messages received and not taken yet. */
  get queued(): number {
    return this.#messages.length;
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #read(chunk: Buffer): void {
    const buf = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const used = parseFrames(buf, 0, buf.length, (opcode, fin, b, start, end, masked) => {
      if (masked) throw new Error('the server sent a masked frame');
      if (!fin) throw new Error('the server sent a fragment: this fake does not reassemble');
      const payload = Buffer.from(b.subarray(start, end));
      if (opcode === OP_TEXT || opcode === OP_BINARY) {
        this.#messages.push({ binary: opcode === OP_BINARY, data: payload });
      } else if (opcode === OP_PING) {
        this.pings++;
        if (this.#close === undefined) this.sendFrame(OP_PONG, payload);
      } else if (opcode === OP_CLOSE) {
        if (this.#close !== undefined) return;
        this.#close = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.toString('utf8', 2) } : { code: undefined, reason: '' };
        // Echo it, as a client must; the server then ends the connection.
        this.sendFrame(OP_CLOSE, payload.subarray(0, 2));
      }
    });
    this.#buffered = Buffer.from(buf.subarray(used));
    this.#wake();
  }
}

/** A connected pair: `server` for the session under test, `client` to drive it. */
export function fakeConnection(): { readonly server: Duplex; readonly client: FakeWsClient } {
  const [server, client] = duplexPair();
  return { server, client: new FakeWsClient(client) };
}

/** A ConnectionContext with a silent logger and fresh counters; `closedSessions` resolves per close. */
export function testConnectionContext(overrides: Partial<ConnectionContext> = {}): ConnectionContext & { readonly closedSessions: Closed } {
  const closedSessions = new Closed();
  return {
    stats: new NodeStats(),
    outbound: new OutboundFlusher(),
    log: pino({ level: 'silent' }),
    headerTimeoutMs: 5000,
    maxMessage: 64 * 1024,
    maxBuffered: 1024 * 1024,
    onClosed: (session) => closedSessions.add(session),
    ...overrides,
    closedSessions,
  };
}

/** The sessions a context saw close, and a wait for the next ones. */
export class Closed {
  readonly sessions: ClientConnection[] = [];
  #waiters: Array<() => void> = [];

  add(session: ClientConnection): void {
    this.sessions.push(session);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once `count` sessions in all have closed. */
  async count(count: number): Promise<void> {
    while (this.sessions.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}
