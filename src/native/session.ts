// One native protocol (parley.v1) connection: hello, then any number of channel
// subscriptions, publishes and queries, each answered with typed frames. The
// subscribe seam (replay from the store, then live) is here: see Subscription.

import type { Duplex } from 'node:stream';
import type { Delivery, DeliveryRun, Hub, Member } from '../hub/hub.ts';
import { EncodeOnce } from '../hub/encode-once.ts';
import { replayThenLive, type ReplayPage } from '../hub/replay.ts';
import { authAccepted } from '../access/auth.ts';
import {
  decodeClientFrame,
  encodeFrame,
  errorFrame,
  MAX_PAGE_BYTES,
  MAX_QUERY_IDS,
  MAX_QUERY_LIMIT,
  MAX_MEMBERS_LISTED,
  NATIVE_SUBPROTOCOL,
  PROTOCOL_VERSION,
  type ErrorCode,
  type FrameAbout,
  type NodeFrame,
  type ReceivedPublic,
  type UnpublicFrame,
  type ReceivedPublish,
  type ReceivedQuery,
  type ReceivedSubscribe,
  type WireMessage,
} from './frames.ts';
import { ackLength, messageLength, wireMessage, writeAck, writeMessage, type AckFields } from './writer.ts';
import { encodeFrame as webSocketFrame, headerLength, OP_BINARY, writeHeader } from '../websocket/frame.ts';
import type { Store, StoredMessage } from '../store/store.ts';
import { toStoreError } from '../store/store-error.ts';
import { GATEWAY_CHANNEL_RULE, isGatewayChannel } from '../access/gateway-channels.ts';
import { ClientConnection, type ConnectionContext, type WebSocketProtocol } from '../websocket/client-connection.ts';
import { readPage } from './query-page.ts';
import type { ChannelPresence, PresenceWatcher } from '../hub/presence.ts';

export interface NativeContext extends ConnectionContext {
  readonly hub: Hub;
  readonly store: Store;
  /** The WebSocket frames of a run, built by the first subscription it reaches (one per node). */
  readonly runFrames: EncodeOnce<DeliveryRun, readonly Buffer[]>;
  readonly nodeId: string;
  readonly mlesKey: string | undefined;
  /** Who is in each channel: every subscription is counted, those that ask are told. */
  readonly presence: ChannelPresence;
  /** Resolves when the channel is as current here as the node's peers can make it. */
  readonly catchUp?: (channel: string) => Promise<void>;
  /** The operator's secret that gives a client the right to list channels in the directory (DIRECTORY_KEY). */
  readonly directoryKey?: string | undefined;
  /** Lists a channel in the network's directory; false when the node has none (no --p2p). */
  readonly listPublic?: (channel: string, about: string) => boolean;
  /** Takes a channel its clients listed off the directory (`no_directory`: the node runs without --p2p). */
  readonly unlistPublic?: (channel: string) => 'unlisted' | 'not_listed' | 'by_flag' | 'no_directory';
}

const MAX_SUBSCRIPTIONS = 1000;
/**
 * What a replay reads per step: 500 messages or about 1 MiB of payloads. It lets about
 * that much wait in the send buffer before it pauses for the client to read.
 */
const REPLAY_PAGE: ReplayPage = { rows: 500, bytes: 1024 * 1024 };
/** `msg` frames are sent in WebSocket messages of at most this many bytes (or one larger message). */
const MESSAGES_PER_FRAME_BYTES = 256 * 1024;

/** A binary WebSocket frame of `length` payload bytes that `write` puts at `out[at]`. */
function binaryFrame(length: number, write: (out: Buffer, at: number) => unknown): Buffer {
  const head = headerLength(length, false);
  const out = Buffer.allocUnsafe(head + length);
  writeHeader(out, 0, OP_BINARY, length, undefined);
  write(out, head);
  return out;
}

/** The WebSocket frame of an `ack`. */
function ackFrame(a: AckFields): Buffer {
  return binaryFrame(ackLength(a), (out, at) => writeAck(out, at, a));
}

/**
 * The WebSocket messages carrying the `msg` frames of `messages`: each a CBOR sequence
 * (the frames back to back) of about MESSAGES_PER_FRAME_BYTES, or one larger message.
 * One WebSocket message per message cost more than encoding it, at both ends: a send
 * per subscriber per message here, a frame event per message at the client.
 */
function messageFrames(messages: readonly StoredMessage[]): Buffer[] {
  const frames: Buffer[] = [];
  const lengths = messages.map(messageLength);
  let from = 0;
  while (from < messages.length) {
    let to = from + 1;
    let total = lengths[from]!;
    while (to < messages.length && total + lengths[to]! <= MESSAGES_PER_FRAME_BYTES) total += lengths[to++]!;
    const first = from;
    frames.push(
      binaryFrame(total, (out, at) => {
        for (let i = first; i < to; i++) at = writeMessage(out, at, messages[i]!);
      }),
    );
    from = to;
  }
  return frames;
}

/** What a node's native subscriptions share: each run's frames, built once for all of them. */
export function sharedRunFrames(): EncodeOnce<DeliveryRun, readonly Buffer[]> {
  return new EncodeOnce((run) => messageFrames(run.messages));
}

/**
 * A channel subscription. It joins the hub's fan-out at once but ignores deliveries
 * while it replays from the store; the replay reads what those deliveries carried
 * anyway (a commit is readable once durable, and fanned out at that same moment). The last replay read and the switch to
 * live happen in one synchronous step, so no commit can fall between them: no gap,
 * no duplicate.
 */
class Subscription implements Member, PresenceWatcher {
  readonly channel: string;
  live = false;
  cancelled = false;
  /** Sends `presence` frames (the client asked for them). */
  watching = false;
  readonly #connection: ClientConnection;
  readonly #frames: EncodeOnce<DeliveryRun, readonly Buffer[]>;

  constructor(channel: string, connection: ClientConnection, frames: EncodeOnce<DeliveryRun, readonly Buffer[]>) {
    this.channel = channel;
    this.#connection = connection;
    this.#frames = frames;
  }

  presence(uid: string, here: boolean): void {
    this.#connection.send(webSocketFrame(OP_BINARY, encodeFrame({ t: 'presence', ch: this.channel, uid, here })));
  }

  deliver(delivery: Delivery): void {
    this.deliverRun({ messages: [delivery.message] });
  }

  deliverRun(run: DeliveryRun): void {
    if (!this.live) return;
    for (const wire of this.#frames.get(run)) this.#connection.send(wire);
  }
}

/** The native protocol as a protocol of the node's WebSocket server. */
export function nativeProtocol(ctx: NativeContext): WebSocketProtocol {
  return { subprotocol: NATIVE_SUBPROTOCOL, accept: (socket, head, remote) => new NativeSession(socket, head, remote, ctx).connection };
}

export class NativeSession {
  uid = '';
  readonly connection: ClientConnection;
  readonly #ctx: NativeContext;
  readonly #subscriptions = new Map<string, Subscription>();
  /** Channels this connection has shown auth for (with MLES_KEY). */
  readonly #authorized = new Set<string>();

  constructor(socket: Duplex, head: Buffer, remote: string, ctx: NativeContext) {
    this.#ctx = ctx;
    this.connection = new ClientConnection(socket, remote, ctx, {
      message: (buf, start, end, binary) => this.#onMessage(buf, start, end, binary),
      leave: () => this.#leaveAll(),
      describe: () => ({ uid: this.uid || undefined, protocol: 'native' }),
    });
    this.connection.start(head);
  }

  #send(frame: NodeFrame): void {
    this.connection.send(webSocketFrame(OP_BINARY, encodeFrame(frame)));
  }

  #error(code: ErrorCode, about: FrameAbout & { first?: number; last?: number; store?: string }, detail?: string): void {
    this.#ctx.stats.nativeError(code);
    this.#send(errorFrame(code, about, detail));
  }

  /** STORE_FAILED, saying why (e.g. "store full: SQLITE_FULL: database or disk is full"). */
  #storeFailed(about: FrameAbout, error: unknown, advice?: string): void {
    const cause = toStoreError(error);
    this.#error('STORE_FAILED', { ...about, store: cause.code }, advice === undefined ? cause.message : `${cause.message}; ${advice}`);
  }

  #onMessage(buf: Buffer, start: number, end: number, binary: boolean): void {
    if (!binary) return this.connection.refuse('BAD_HELLO', 'native protocol frames are binary CBOR');
    const decoded = decodeClientFrame(buf.subarray(start, end));
    if (this.uid === '') {
      if (!decoded.ok) return this.connection.refuse('BAD_HELLO', decoded.error);
      if (decoded.frame.t !== 'hello') {
        this.#error('NOT_HELLO', {});
        return this.connection.refuse('BAD_HELLO', 'the first frame must be hello');
      }
      this.connection.accepted();
      this.uid = decoded.frame.uid;
      this.#send({ t: 'welcome', v: PROTOCOL_VERSION, node: this.#ctx.nodeId, max: this.#ctx.maxMessage });
      return;
    }
    if (!decoded.ok) return this.#error(decoded.code, decoded.about, decoded.error);
    const frame = decoded.frame;
    switch (frame.t) {
      case 'hello':
        return this.#error('ALREADY_HELLO', {});
      case 'sub':
        return this.#subscribe(frame);
      case 'unsub': {
        const subscription = this.#subscriptions.get(frame.ch);
        if (subscription === undefined) return this.#error('NOT_SUBSCRIBED', { ch: frame.ch });
        this.#unsubscribe(subscription);
        return this.#send({ t: 'unsubbed', ch: frame.ch });
      }
      case 'pub':
        return this.#publish(frame);
      case 'query':
        return this.#query(frame);
      case 'public':
        return this.#listPublic(frame);
      case 'unpublic':
        return this.#unlistPublic(frame);
    }
  }

  /**
   * Lists a channel in the directory. The right is the operator's, not a channel
   * member's: MLES_KEY auth lets anyone who may talk in a channel do so, but listing
   * announces the channel to the whole network in this node's name. So the auth is the
   * Mles-style one computed with DIRECTORY_KEY, which the client never sends itself.
   */
  #listPublic(frame: ReceivedPublic): void {
    const about = { ch: frame.ch, qid: frame.qid };
    const { listPublic } = this.#ctx;
    if (!this.#mayList(frame, 'list')) return;
    if (listPublic === undefined || !listPublic(frame.ch, frame.about)) return this.#error('NO_DIRECTORY', about, 'start the node with --p2p');
    this.#ctx.log.info({ channel: frame.ch, uid: this.uid, about: frame.about }, 'a native client listed a channel in the directory');
    this.#send({ t: 'listed', qid: frame.qid, ch: frame.ch, about: frame.about });
  }

  /**
   * Takes a channel off the directory, with the same right as listing it. A channel no
   * client listed is answered `unlisted` too: a request sent again after a reconnect
   * must not fail because the first one did its work.
   */
  #unlistPublic(frame: UnpublicFrame): void {
    const about = { ch: frame.ch, qid: frame.qid };
    if (!this.#mayList(frame, 'unlist')) return;
    const result = this.#ctx.unlistPublic?.(frame.ch) ?? 'no_directory';
    if (result === 'no_directory') return this.#error('NO_DIRECTORY', about, 'start the node with --p2p');
    if (result === 'by_flag') return this.#error('NOT_LISTED', about, "it is listed by the node's --public flag, which only its operator can remove");
    this.#ctx.log.info({ channel: frame.ch, uid: this.uid }, 'a native client took a channel off the directory');
    this.#send({ t: 'unlisted', qid: frame.qid, ch: frame.ch });
  }

  /** Whether this client may list or unlist `frame.ch`; answers the refusal when not. */
  #mayList(frame: ReceivedPublic | UnpublicFrame, verb: string): boolean {
    const about = { ch: frame.ch, qid: frame.qid };
    const { directoryKey } = this.#ctx;
    if (directoryKey === undefined) {
      this.#error('NOT_ALLOWED', about, `this node lets no client ${verb} channels; its operator can allow it by setting DIRECTORY_KEY`);
      return false;
    }
    if (!authAccepted(this.uid, frame.ch, frame.auth, directoryKey)) {
      this.#error('NOT_ALLOWED', about, frame.auth === undefined ? 'auth is missing' : 'auth is wrong for this uid and channel');
      return false;
    }
    return true;
  }

  /**
   * Checks the Mles-style auth for this uid; with MLES_KEY once per channel per
   * connection. Without a key nothing is remembered: no auth passes anyway, and anyone
   * can compute the unkeyed auth of any name, so remembering would keep a name per query.
   */
  #authorize(channel: string, auth: string | undefined, about: FrameAbout): boolean {
    if (this.#authorized.has(channel)) return true;
    if (!authAccepted(this.uid, channel, auth, this.#ctx.mlesKey)) {
      this.#error('AUTH_FAILED', about);
      return false;
    }
    if (this.#ctx.mlesKey !== undefined) this.#authorized.add(channel);
    return true;
  }

  #subscribe(frame: ReceivedSubscribe): void {
    const about = { ch: frame.ch };
    if (!this.#authorize(frame.ch, frame.auth, about)) return;
    if (this.#subscriptions.has(frame.ch)) return this.#error('ALREADY_SUBSCRIBED', about);
    if (this.#subscriptions.size >= MAX_SUBSCRIPTIONS) return this.#error('TOO_MANY_SUBSCRIPTIONS', about);
    const store = this.#ctx.store;
    const bounds = store.bounds(frame.ch);
    if (frame.after !== undefined) {
      if (frame.after > bounds.last) return this.#error('UNKNOWN_CURSOR', about, `the newest seq is ${bounds.last}`);
      if (frame.after + 1 < bounds.first) return this.#error('GAP', { ch: frame.ch, first: bounds.first, last: bounds.last });
    }
    const subscription = new Subscription(frame.ch, this.connection, this.#ctx.runFrames);
    this.#subscriptions.set(frame.ch, subscription);
    this.#ctx.hub.subscribe(subscription);
    this.#arrive(subscription, frame.presence);
    if (frame.after === undefined) {
      subscription.live = true;
      this.#send({ t: 'live', ch: frame.ch, last: bounds.last });
      return;
    }
    this.#replay(subscription, frame.after).catch((error: unknown) => {
      // The store failed mid-replay: the subscription ends with an error the client can
      // retry on, and the node goes on (an unhandled rejection would end the process).
      this.#ctx.log.error({ err: error, storeCode: toStoreError(error).code, channel: subscription.channel }, 'replay failed');
      if (subscription.cancelled || this.connection.closing) return;
      this.#unsubscribe(subscription);
      this.#storeFailed(about, error, 'the replay could not be read; subscribe again');
    });
  }

  #replay(subscription: Subscription, after: number): Promise<void> {
    return replayThenLive(this.#ctx.store, subscription.channel, after, REPLAY_PAGE, {
      stopped: () => subscription.cancelled,
      deliver: (messages) => {
        for (const wire of messageFrames(messages)) this.connection.send(wire);
      },
      live: (last) => {
        subscription.live = true;
        this.#send({ t: 'live', ch: subscription.channel, last });
      },
      // Yield to everyone else between steps (a 100k replay must not hold the loop),
      // and wait while the client is behind: a replay of large messages must not
      // overflow its send buffer (which would drop it as too slow).
      drain: async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return this.connection.waitForRoom(REPLAY_PAGE.bytes);
      },
    });
  }

  /**
   * Counts the subscription in the channel's presence (telling the others when this uid
   * is new there) and, when asked, answers with the members and watches for changes.
   * The `members` frame goes before the replay, so every `presence` comes after it.
   */
  #arrive(subscription: Subscription, watch: boolean): void {
    const { presence } = this.#ctx;
    const elsewhere = presence.connections(subscription.channel, this.uid) > 0;
    presence.arrive(subscription.channel, this.uid);
    if (!watch) return;
    const { uids, count } = presence.members(subscription.channel, MAX_MEMBERS_LISTED);
    this.#send({ t: 'members', ch: subscription.channel, uids, count, elsewhere });
    subscription.watching = true;
    presence.watch(subscription.channel, subscription);
  }

  #unsubscribe(subscription: Subscription): void {
    subscription.cancelled = true;
    this.#subscriptions.delete(subscription.channel);
    this.#ctx.hub.leave(subscription);
    if (subscription.watching) this.#ctx.presence.unwatch(subscription.channel, subscription);
    this.#ctx.presence.depart(subscription.channel, this.uid);
  }

  #publish(frame: ReceivedPublish): void {
    const about = { ch: frame.ch, cid: frame.cid };
    if (!this.#authorize(frame.ch, frame.auth, about)) return;
    if (isGatewayChannel(frame.ch)) return this.#error('READ_ONLY', about, GATEWAY_CHANNEL_RULE);
    // A copy: the decoded bytes may be a view into a reused read buffer.
    const payload = Buffer.from(frame.p);
    this.#ctx.hub.publish(
      { channel: frame.ch, uid: this.uid, binary: frame.bin, payload, cid: frame.cid, retry: frame.retry },
      undefined, // the publisher's own subscription gets the message too: its cursor covers it
      (result) => {
        if (this.connection.closing) return;
        if (result instanceof Error) return this.#storeFailed(about, result);
        const { message } = result;
        this.connection.send(ackFrame({ ch: frame.ch, cid: frame.cid, seq: message.seq, id: message.id, ts: message.ts, dup: result.duplicate }));
      },
    );
  }

  #query(frame: ReceivedQuery): void {
    const about = { ch: frame.ch, qid: frame.qid };
    if (!this.#authorize(frame.ch, frame.auth, about)) return;
    if (frame.limit > MAX_QUERY_LIMIT || (frame.ids?.length ?? 0) > MAX_QUERY_IDS) return this.#error('LIMIT_TOO_LARGE', about);
    const ranged = frame.after !== undefined || frame.before !== undefined || frame.since !== undefined || frame.until !== undefined;
    if (frame.ids !== undefined && ranged) return this.#error('BAD_QUERY', about, 'ids cannot be combined with a range');
    const catchUp = this.#ctx.catchUp;
    if (catchUp === undefined) return this.#answerOrFail(frame, about);
    catchUp(frame.ch).then(
      () => {
        if (!this.connection.closing) this.#answerOrFail(frame, about);
      },
      (error: unknown) => this.#ctx.log.error({ err: error, channel: frame.ch }, 'query failed'),
    );
  }

  /**
   * Answers, or tells the client the store could not be read. The answer runs after a
   * promise: a throw there would be an unhandled rejection, which ends the process.
   */
  #answerOrFail(frame: ReceivedQuery, about: FrameAbout): void {
    try {
      this.#answer(frame, about);
    } catch (error) {
      const cause = toStoreError(error);
      this.#ctx.log.error({ err: cause, storeCode: cause.code, channel: frame.ch }, 'query failed');
      this.#storeFailed(about, cause);
    }
  }

  /** Reads and sends the page of a checked query. */
  #answer(frame: ReceivedQuery, about: FrameAbout): void {
    const store = this.#ctx.store;
    const first = store.bounds(frame.ch).first;
    if (frame.ids !== undefined) {
      // Cut at MAX_PAGE_BYTES like a range page; `last: false` says some found ones are
      // left out: ask again for the ids not returned.
      const found = store.readByIds(frame.ch, frame.ids);
      const msgs: WireMessage[] = [];
      let bytes = 0;
      for (const message of found) {
        if (msgs.length > 0 && bytes + message.payload.length > MAX_PAGE_BYTES) break;
        bytes += message.payload.length;
        msgs.push(wireMessage(message));
      }
      return this.#send({ t: 'page', qid: frame.qid, ch: frame.ch, msgs, first, last: msgs.length === found.length });
    }
    const { messages, last, next } = readPage(store, frame.ch, frame);
    this.#send({ t: 'page', qid: frame.qid, ch: frame.ch, msgs: messages.map(wireMessage), first, last, ...(next === undefined ? {} : { next }) });
  }

  #leaveAll(): void {
    for (const subscription of [...this.#subscriptions.values()]) this.#unsubscribe(subscription);
  }
}
