// What every client connection has, whatever protocol it speaks: the WebSocket, the
// deadline for its first frame, keepalive, refusals with the catalogue's close codes,
// and the bookkeeping when it ends. The Mles and native connections add their
// protocol through a few hooks.

import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { REFUSALS, type RefusalCode } from './refusals.ts';
import type { NodeStats } from './stats.ts';
import { ServerWebSocket } from './server-websocket.ts';
import type { OutboundFlusher } from './outbound.ts';

export interface ConnectionContext {
  readonly stats: NodeStats;
  readonly log: Logger;
  readonly headerTimeoutMs: number;
  readonly maxMessage: number;
  readonly maxBuffered: number;
  /** The node's end-of-turn writer of queued frames. */
  readonly outbound: OutboundFlusher;
  /** Called once when the connection has closed. */
  readonly onClosed: (session: ClientConnection) => void;
}

export interface SessionHooks {
  /** A complete frame, `buf[start, end)`, only valid during the call. Counted already. */
  message(buf: Buffer, start: number, end: number, binary: boolean): void;
  /** Leave every channel: the connection is ending. Must be safe to call twice. */
  leave(): void;
  /** Fields that identify the connection in log lines (uid, channel). */
  describe(): Record<string, unknown>;
}

/** The catalogue entry for a WebSocket protocol violation, by close code. */
function protocolRefusal(code: number): RefusalCode {
  return code === 1009 ? 'TOO_BIG' : code === 1007 ? 'BAD_UTF8' : code === 1011 ? 'INTERNAL_ERROR' : 'PROTOCOL_ERROR';
}

let nextSessionId = 1;

export class ClientConnection {
  readonly id = nextSessionId++;
  readonly remote: string;
  readonly #ctx: ConnectionContext;
  readonly #hooks: SessionHooks;
  readonly #ws: ServerWebSocket;
  #headerTimer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(socket: Duplex, remote: string, ctx: ConnectionContext, hooks: SessionHooks) {
    this.remote = remote;
    this.#ctx = ctx;
    this.#hooks = hooks;
    this.#headerTimer = setTimeout(() => this.refuse('HEADER_TIMEOUT'), ctx.headerTimeoutMs);
    this.#ws = new ServerWebSocket(
      socket,
      { maxMessage: ctx.maxMessage, maxBuffered: ctx.maxBuffered, totals: ctx.stats, outbound: ctx.outbound },
      {
        message: (buf, start, end, binary) => {
          if (this.#closing) return;
          ctx.stats.framesIn++;
          ctx.stats.bytesIn += end - start;
          hooks.message(buf, start, end, binary);
        },
        protocolError: (code, reason) => {
          this.#closing = true;
          ctx.stats.reject(protocolRefusal(code));
          this.log('protocol error', { close: code, detail: reason });
          hooks.leave();
        },
        internalError: (error) => ctx.log.error({ conn: this.id, remote, err: error }, 'internal error handling a frame'),
        overflow: () => {
          ctx.stats.slowConsumersDropped++;
          this.refuse('TOO_SLOW');
        },
        closed: () => {
          this.#closing = true;
          clearTimeout(this.#headerTimer);
          hooks.leave();
          ctx.stats.connections--;
          ctx.onClosed(this);
        },
      },
    );
  }

  /** Starts reading; separate from the constructor so the owner is complete first. */
  start(head: Buffer): void {
    this.#ws.start(head);
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** The first frame was good: the header deadline no longer applies. */
  accepted(): void {
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
  }

  send(wire: Buffer): void {
    this.#ws.send(wire);
  }

  /** Resolves when at most `limit` bytes wait to be sent; false if the connection closed. */
  waitForRoom(limit: number): Promise<boolean> {
    return this.#ws.waitForRoom(limit);
  }

  /** Closes with a catalogue code, after anything already queued (but for a too slow reader). */
  refuse(code: RefusalCode, detail?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    const refusal = REFUSALS[code];
    const reason = detail === undefined ? refusal.reason : `${refusal.reason}: ${detail}`;
    // A node shutting down or a client gone silent is a close, not a refusal of the client.
    if (code === 'SHUTDOWN' || code === 'IDLE') this.log('connection closed', { code, reason });
    else {
      this.#ctx.stats.reject(code);
      this.log('connection refused', { code, detail });
    }
    this.#hooks.leave();
    if (code === 'TOO_SLOW') this.#ws.abandon(refusal.close, reason);
    else this.#ws.close(refusal.close, reason);
  }

  /** Sends a keepalive ping, or drops a connection that stopped answering them. */
  ping(maxMissed: number): void {
    if (!this.#closing && !this.#ws.keepalive(maxMissed)) this.refuse('IDLE');
  }

  log(msg: string, fields: Record<string, unknown>): void {
    this.#ctx.log.info({ conn: this.id, remote: this.remote, ...this.#hooks.describe(), ...fields }, msg);
  }
}

/**
 * A client protocol that runs on this WebSocket server: the subprotocol it answers to,
 * and how it takes a connection once the upgrade is accepted (the 101 is written). The
 * node lists the ones it speaks; adding one touches no other.
 */
export interface WebSocketProtocol {
  readonly subprotocol: string;
  accept(socket: Duplex, head: Buffer, remote: string): ClientConnection;
}
