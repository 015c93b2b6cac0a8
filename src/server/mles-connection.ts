// One Mles v2 connection, from upgrade to close: waits for the header, checks it and
// its auth, joins the hub, then relays every later frame. Refusals close promptly with
// the catalogue's code and reason (the reference just stops reading).

import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Delivery, Hub, MlesMember } from '../hub/hub.ts';
import { REFUSALS, type RefusalCode } from '../protocol/errors.ts';
import { authAccepted } from '../protocol/mles-auth.ts';
import { headerForReplay, parseMlesHeader } from '../protocol/mles-header.ts';
import { encodeFrame, OP_BINARY, OP_TEXT } from '../protocol/ws-frame.ts';
import type { NodeStats } from './stats.ts';
import { WsConnection } from './ws-connection.ts';

export interface ConnectionContext {
  readonly hub: Hub;
  readonly stats: NodeStats;
  readonly log: Logger;
  readonly mlesKey: string | undefined;
  readonly headerTimeoutMs: number;
  readonly maxMessage: number;
  readonly maxBuffered: number;
  /** Called once when the connection has closed. */
  readonly onClosed: (connection: MlesConnection) => void;
}

/** The catalogue entry for a WebSocket protocol violation, by close code. */
function protocolRefusal(code: number): RefusalCode {
  return code === 1009 ? 'TOO_BIG' : code === 1007 ? 'BAD_UTF8' : code === 1011 ? 'INTERNAL_ERROR' : 'PROTOCOL_ERROR';
}

let nextConnectionId = 1;

export class MlesConnection implements MlesMember {
  readonly id = nextConnectionId++;
  uid = '';
  channel = '';
  readonly #ws: WsConnection;
  readonly #ctx: ConnectionContext;
  readonly #remote: string;
  #headerTimer: NodeJS.Timeout | undefined;
  #joined = false;
  #closing = false;

  constructor(socket: Duplex, head: Buffer, remote: string, ctx: ConnectionContext) {
    this.#ctx = ctx;
    this.#remote = remote;
    this.#headerTimer = setTimeout(() => this.refuse('HEADER_TIMEOUT'), ctx.headerTimeoutMs);
    this.#ws = new WsConnection(
      socket,
      { maxMessage: ctx.maxMessage, maxBuffered: ctx.maxBuffered, totals: ctx.stats },
      {
        message: (buf, start, end, binary) => this.#onMessage(buf, start, end, binary),
        protocolError: (code, reason) => this.#onProtocolError(code, reason),
        internalError: (error) => ctx.log.error({ conn: this.id, remote, err: error }, 'internal error handling a frame'),
        overflow: () => this.#dropSlowReader(),
        closed: () => this.#onClosed(),
      },
    );
    this.#ws.start(head);
  }

  deliver(delivery: Delivery): void {
    const { message } = delivery;
    // Built once per message and shared by every Mles member it goes to.
    delivery.mlesWire ??= encodeFrame(message.binary ? OP_BINARY : OP_TEXT, message.payload);
    this.#ws.send(delivery.mlesWire);
  }

  deliverHeader(frame: Uint8Array): void {
    this.#ws.send(encodeFrame(OP_TEXT, frame));
  }

  /** Closes with a catalogue code, after anything already queued. */
  refuse(code: RefusalCode, detail?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    const refusal = REFUSALS[code];
    if (code !== 'SHUTDOWN' && code !== 'IDLE') this.#ctx.stats.reject(code);
    this.#log('connection refused', { code, detail });
    this.#leave();
    const reason = detail === undefined ? refusal.reason : `${refusal.reason}: ${detail}`;
    if (code === 'TOO_SLOW') this.#ws.abandon(refusal.close, reason);
    else this.#ws.close(refusal.close, reason);
  }

  /** Sends a keepalive ping, or drops a connection that stopped answering them. */
  ping(maxMissed: number): void {
    if (!this.#closing && !this.#ws.keepalive(maxMissed)) this.refuse('IDLE');
  }

  #onMessage(buf: Buffer, start: number, end: number, binary: boolean): void {
    if (this.#closing) return;
    const stats = this.#ctx.stats;
    stats.framesIn++;
    stats.bytesIn += end - start;
    if (this.#joined) {
      // A copy: the bytes are a view into a read buffer that will be reused.
      const payload = Buffer.allocUnsafe(end - start);
      buf.copy(payload, 0, start, end);
      this.#ctx.hub.publish({ channel: this.channel, uid: this.uid, binary, payload }, this);
      return;
    }
    if (binary) return this.refuse('BAD_HEADER', 'header must be a text frame');
    const text = buf.toString('utf8', start, end);
    const parsed = parseMlesHeader(text);
    if (!parsed.ok) return this.refuse('BAD_HEADER', parsed.error);
    const { uid, channel, auth } = parsed.header;
    this.uid = uid;
    this.channel = channel;
    if (!authAccepted(uid, channel, auth, this.#ctx.mlesKey)) return this.refuse('AUTH_FAILED');
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
    const joined = this.#ctx.hub.joinMles(this, Buffer.from(headerForReplay(text)));
    if (!joined.ok) return this.refuse(joined.code);
    this.#joined = true;
    this.#ctx.log.debug({ conn: this.id, uid, channel }, 'joined');
  }

  #onProtocolError(code: number, reason: string): void {
    this.#closing = true;
    this.#ctx.stats.reject(protocolRefusal(code));
    this.#log('protocol error', { close: code, detail: reason });
    this.#leave();
  }

  #dropSlowReader(): void {
    this.#ctx.stats.slowConsumersDropped++;
    this.refuse('TOO_SLOW');
  }

  #onClosed(): void {
    this.#closing = true;
    clearTimeout(this.#headerTimer);
    this.#leave();
    this.#ctx.stats.connections--;
    this.#ctx.onClosed(this);
  }

  #leave(): void {
    if (!this.#joined) return;
    this.#joined = false;
    this.#ctx.hub.leave(this);
  }

  #log(msg: string, fields: Record<string, unknown>): void {
    this.#ctx.log.info({ conn: this.id, remote: this.#remote, uid: this.uid || undefined, channel: this.channel || undefined, ...fields }, msg);
  }
}
