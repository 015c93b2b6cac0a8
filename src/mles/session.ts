// One Mles v2 connection, from upgrade to close: waits for the header, checks it and
// its auth, joins the hub, then relays every later frame. Refusals close promptly with
// the catalogue's code and reason (the reference just stops reading).

import type { Duplex } from 'node:stream';
import type { Delivery, Hub } from '../hub/hub.ts';
import type { MlesChannels, MlesMember } from './channels.ts';
import { authAccepted } from '../access/auth.ts';
import { isGatewayChannel } from '../access/gateway-channels.ts';
import { headerForReplay, MAX_HEADER_BYTES, MLES_SUBPROTOCOL, parseMlesHeader } from './header.ts';
import { encodeFrame, OP_TEXT } from '../websocket/frame.ts';
import { ClientConnection, type ConnectionContext, type WebSocketProtocol } from '../websocket/client-connection.ts';

export interface MlesContext extends ConnectionContext {
  readonly hub: Hub;
  readonly channels: MlesChannels;
  readonly mlesKey: string | undefined;
}

/** Mles v2 as a protocol of the node's WebSocket server. */
export function mlesProtocol(ctx: MlesContext): WebSocketProtocol {
  return { subprotocol: MLES_SUBPROTOCOL, accept: (socket, head, remote) => new MlesSession(socket, head, remote, ctx).connection };
}

export class MlesSession implements MlesMember {
  uid = '';
  channel = '';
  readonly connection: ClientConnection;
  readonly #ctx: MlesContext;
  #joined = false;
  /** Joined to a channel only the node writes (gateway-channels.ts): a frame ends the connection. */
  #readOnly = false;

  constructor(socket: Duplex, head: Buffer, remote: string, ctx: MlesContext) {
    this.#ctx = ctx;
    this.connection = new ClientConnection(socket, remote, ctx, {
      message: (buf, start, end, binary) => this.#onMessage(buf, start, end, binary),
      leave: () => this.#leave(),
      describe: () => ({ uid: this.uid || undefined, channel: this.channel || undefined }),
    });
    this.connection.start(head);
  }

  deliver(delivery: Delivery): void {
    // An Mles client gets the payload alone, as a binary or a text frame: Mles has no
    // message fields. Built once per message and shared by every Mles member it goes to.
    this.connection.send(this.#ctx.channels.frameOf(delivery));
  }

  deliverHeader(frame: Uint8Array): void {
    this.connection.send(encodeFrame(OP_TEXT, frame));
  }

  #onMessage(buf: Buffer, start: number, end: number, binary: boolean): void {
    if (this.#joined) {
      if (this.#readOnly) return this.connection.refuse('READ_ONLY', "only the node's Matrix gateway writes matrix/ and matrix- channels");
      // A copy: the bytes are a view into a read buffer that will be reused.
      const payload = Buffer.allocUnsafe(end - start);
      buf.copy(payload, 0, start, end);
      this.#ctx.hub.publish({ channel: this.channel, uid: this.uid, binary, payload }, this);
      return;
    }
    const connection = this.connection;
    if (binary) return connection.refuse('BAD_HEADER', 'header must be a text frame');
    if (end - start > MAX_HEADER_BYTES) return connection.refuse('BAD_HEADER', `header over ${MAX_HEADER_BYTES} bytes`);
    const text = buf.toString('utf8', start, end);
    const parsed = parseMlesHeader(text);
    if (!parsed.ok) return connection.refuse('BAD_HEADER', parsed.error);
    const { uid, channel, auth } = parsed.header;
    this.uid = uid;
    this.channel = channel;
    if (!authAccepted(uid, channel, auth, this.#ctx.mlesKey)) return connection.refuse('AUTH_FAILED');
    connection.accepted();
    const joined = this.#ctx.channels.join(this, Buffer.from(headerForReplay(text)));
    if (!joined.ok) return connection.refuse(joined.code);
    this.#joined = true;
    this.#readOnly = isGatewayChannel(channel);
    this.#ctx.log.debug({ conn: connection.id, uid, channel }, 'joined');
  }

  #leave(): void {
    if (!this.#joined) return;
    this.#joined = false;
    this.#ctx.channels.leave(this);
  }
}
