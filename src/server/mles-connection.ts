// One Mles v2 connection, from upgrade to close: waits for the header, checks it and
// its auth, joins the hub, then relays every later frame. Refusals close promptly with
// the catalogue's code and reason (the reference just stops reading).

import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Hub, Member } from '../hub/hub.ts';
import { REFUSALS, type RefusalCode } from '../protocol/errors.ts';
import { authAccepted } from '../protocol/mles-auth.ts';
import { headerForReplay, parseMlesHeader } from '../protocol/mles-header.ts';
import { OutboundQueue } from './outbound.ts';
import { relayFrame, type RelayFrame } from './relay-frame.ts';
import type { NodeStats } from './stats.ts';

export interface ConnectionContext {
  readonly hub: Hub<RelayFrame>;
  readonly stats: NodeStats;
  readonly log: Logger;
  readonly mlesKey: string | undefined;
  readonly headerTimeoutMs: number;
  readonly maxBuffered: number;
}

/** How long a refused or too-slow peer gets to finish the closing handshake. */
const CLOSE_GRACE_MS = 2000;

let nextConnectionId = 1;

export class MlesConnection implements Member<RelayFrame> {
  readonly id = nextConnectionId++;
  uid = '';
  channel = '';
  readonly #ws: WebSocket;
  readonly #ctx: ConnectionContext;
  readonly #queue: OutboundQueue;
  readonly #remote: string;
  #headerTimer: NodeJS.Timeout | undefined;
  #joined = false;
  #closing = false;
  /** Pings sent since the last sign of life. */
  missedPings = 0;
  /** Settles when the connection has closed, however it closed. */
  readonly closed: Promise<void>;
  #markClosed!: () => void;

  constructor(ws: WebSocket, socket: Duplex, remote: string, ctx: ConnectionContext) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.#remote = remote;
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.#queue = new OutboundQueue(socket, ctx.maxBuffered, ctx.stats, () => this.#dropSlowReader());
    this.#headerTimer = setTimeout(() => this.refuse('HEADER_TIMEOUT'), ctx.headerTimeoutMs);
    // ws answers a client's close frame by writing its own close frame at once. Frames
    // still queued in this turn must go first, or a client that joins and closes in
    // one turn would lose its history: flush whenever ws starts a close.
    const wsClose = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => {
      this.#queue.flush();
      wsClose(code, reason);
    };
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('pong', () => (this.missedPings = 0));
    ws.on('close', () => this.#onClose());
    ws.on('error', (error: Error & { code?: string }) => this.#onError(error));
  }

  deliver(frame: RelayFrame): void {
    this.#queue.push(frame.wire);
  }

  /** Closes with a catalogue code, after anything already queued. */
  refuse(code: RefusalCode, detail?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    const refusal = REFUSALS[code];
    if (code !== 'SHUTDOWN' && code !== 'IDLE') this.#ctx.stats.reject(code);
    this.#ctx.log.info({ conn: this.id, remote: this.#remote, uid: this.uid || undefined, channel: this.channel || undefined, code, detail }, 'connection refused');
    this.#leave();
    this.#queue.flush();
    this.#queue.close();
    // A close reason is limited to 123 bytes; the detail is for logs when it does not fit.
    const reason = detail !== undefined && refusal.reason.length + detail.length + 2 <= 123 ? `${refusal.reason}: ${detail}` : refusal.reason;
    this.#ws.close(refusal.close, reason);
    setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Sends a keepalive ping; drops the connection after too many unanswered ones. */
  ping(maxMissed: number): void {
    if (this.#closing) return;
    if (this.missedPings >= maxMissed) {
      this.refuse('IDLE');
      return;
    }
    this.missedPings++;
    this.#ws.ping();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closing) return;
    this.missedPings = 0;
    const stats = this.#ctx.stats;
    stats.framesIn++;
    stats.bytesIn += data.length;
    if (this.#joined) {
      this.#ctx.hub.publish(this, relayFrame(data, isBinary));
      return;
    }
    if (isBinary) return this.refuse('BAD_HEADER', 'header must be a text frame');
    const text = data.toString('utf8');
    const parsed = parseMlesHeader(text);
    if (!parsed.ok) return this.refuse('BAD_HEADER', parsed.error);
    const { uid, channel, auth } = parsed.header;
    this.uid = uid;
    this.channel = channel;
    if (!authAccepted(uid, channel, auth, this.#ctx.mlesKey)) return this.refuse('AUTH_FAILED');
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
    const joined = this.#ctx.hub.join(this, relayFrame(headerForReplay(text), false));
    if (!joined.ok) return this.refuse(joined.code);
    this.#joined = true;
    this.#ctx.log.debug({ conn: this.id, uid, channel }, 'joined');
  }

  #dropSlowReader(): void {
    this.#ctx.stats.slowConsumersDropped++;
    this.#closing = false; // the queue is already closed; refuse() must still run
    this.refuse('TOO_SLOW');
  }

  #onError(error: Error & { code?: string }): void {
    // ws closes the connection itself after a protocol error (1002, 1007, 1009).
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#ctx.stats.reject('TOO_BIG');
    this.#ctx.log.info({ conn: this.id, remote: this.#remote, err: error.message, code: error.code }, 'protocol error');
  }

  #onClose(): void {
    this.#closing = true;
    clearTimeout(this.#headerTimer);
    this.#queue.close();
    this.#leave();
    this.#ctx.stats.connections--;
    this.#markClosed();
  }

  #leave(): void {
    if (!this.#joined) return;
    this.#joined = false;
    this.#ctx.hub.leave(this);
  }
}
