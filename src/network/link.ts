// One link to another node, over one WebSocket that carries every channel the two
// share. It runs the mutual handshake, then answers the peer's asks with channel
// streams (what the peer lacks from the store, then live), in envelopes sealed by each
// message's origin, and hands the peer's messages to the hub as replicas once the
// node's intake has checked their chain and seal (src/envelope/).
//
// Links run on the `ws` package, not on src/websocket/: a node dials its peers as often
// as it accepts them, and `ws` has a client; src/websocket/ is a server written for the
// client fan-out path. (About 470 lines: the handshake, pacing and streams of one link
// share its state; the next step splits the send pacing into a module of its own.)

import type WebSocket from 'ws';
import type { Logger } from 'pino';
import type { Hub } from '../hub/hub.ts';
import { replayThenLive, type ReplayPage } from '../hub/replay.ts';
import type { AppendResult, Store, StoredMessage } from '../store/store.ts';
import { packEnvelopes } from '../envelope/envelope.ts';
import { replicaRequest, type IntakeSource, type ReplicaIntake, type Rejection, type VerifiedMessage } from '../envelope/intake.ts';
import type { Sealer } from '../envelope/seal.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { checkProof, checkSignature, makeHello, makeProof, makeSignature, openSession, type OwnHello, type Session, type TrustPolicy } from './handshake.ts';
import { ChannelFeed } from './channel-feed.ts';
import { TokenBucket } from '../timing/token-bucket.ts';
import {
  decodePeerFrame,
  encodePeerFrame,
  MAX_BATCH,
  MAX_FRAME_PAYLOAD,
  PEER_CLOSES,
  type MsgsFrame,
  type InterestPath,
  type PeerCloseCode,
  type PeerFrame,
  type SubFrame,
} from './protocol.ts';

export interface LinkContext {
  readonly identity: NodeIdentity;
  readonly policy: TrustPolicy;
  readonly hub: Hub;
  readonly store: Store;
  /** Checks what peers send before it is stored; shared by all links and transports. */
  readonly intake: ReplicaIntake;
  /** Seals this node's own messages as they are sent. */
  readonly sealer: Sealer;
  readonly log: Logger;
  /** Largest message payload accepted. */
  readonly maxPayload: number;
  /** Messages per second a peer may send on average (twice that in a burst); 0 = no limit. */
  readonly rateLimit: number;
  readonly handshakeTimeoutMs: number;
  /** Bytes waiting to be sent to the peer beyond which it is dropped as too slow. */
  readonly maxSendBuffer: number;
  readonly ready: (link: PeerLink) => void;
  readonly asked: (link: PeerLink, channel: string, want: readonly InterestPath[]) => void;
  /** The peer's stream of a channel we asked for has caught up (its `live`). */
  readonly caughtUp: (link: PeerLink, channel: string) => void;
  /** Resolves once this node's other links asked for the channel have caught up, or a while has passed. */
  readonly upstreamCaughtUp: (link: PeerLink, channel: string) => Promise<void>;
  readonly closed: (link: PeerLink) => void;
  /** An incoming link ended before its handshake did, for this reason (a close code's name, or `closed`). */
  readonly handshakeFailed: (link: PeerLink, reason: string) => void;
}

/** The close code for each reason the intake refuses an envelope. */
const CLOSE_FOR: Record<Rejection, PeerCloseCode> = {
  malformed: 'BAD_FRAME',
  forged: 'FORGED',
  bad_seal: 'FORGED',
  out_of_order: 'OUT_OF_ORDER',
  unsealed: 'UNSEALED',
  replayed: 'FORGED',
};

/** What a replay reads and sends per step: 1000 messages or about 4 MiB of payloads. */
const REPLAY_PAGE: ReplayPage = { rows: 1000, bytes: 4 * 1024 * 1024 };
/** Messages a paced link waits to be allowed before it sends again. */
const PACED_CHUNK = 256;

/** What a node refused by its peer's handshake logs: what is likely missing on this side. */
const REFUSED_PROOF = "the peer refused this node's handshake: is PEER_KEY set to the same value on both nodes?";
const REFUSED_UNTRUSTED = "the peer does not trust this node: is this node's id ('parley keys show') in the peer's --trust?";

let nextLinkId = 1;

export interface LinkCounters {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export class PeerLink {
  readonly id = nextLinkId++;
  readonly direction: 'in' | 'out';
  /** The node that dialed this link. */
  get dialer(): string | undefined {
    return this.direction === 'out' ? this.#ctx.identity.nodeId : this.node;
  }

  /** The dialed URL, or the remote address of an accepted link. */
  readonly label: string;
  /** The peer's node id, once its hello was read. */
  node: string | undefined;
  ready = false;
  /** The close code, sent or received, once the link has closed. */
  closeCode: number | undefined;
  /** Why this node closed the link, when it did. */
  closedFor: PeerCloseCode | undefined;
  readonly counters: LinkCounters = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  readonly #ws: WebSocket;
  readonly #ctx: LinkContext;
  readonly #own: OwnHello;
  /** The handshake, once the peer's hello was read. */
  #session: Session | undefined;
  /** The dialer's, once the dialed side's signature checked out: it has sent its proof. */
  #proved = false;
  #closed = false;
  readonly #streams = new Map<string, ChannelFeed>();
  /** Channels we asked the peer for, and the number of the stream that answers. */
  readonly #asking = new Map<string, number>();
  #nextStream = 1;
  /** Channels whose current stream from the peer has caught up. */
  readonly #caughtUp = new Set<string>();
  /** Messages to send, per stream (a replaced stream's leftovers keep their number). */
  #pending = new Map<ChannelFeed, StoredMessage[]>();
  /** What the peer sent of runs whose seal has not come yet. */
  readonly #source: IntakeSource;
  #flushQueued = false;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** What this peer may send us (--peer-rate, twice that in a burst). */
  readonly #received: TokenBucket;
  /** What we send, paced under the rate the peer's hello allows (set by that hello). */
  #sending = new TokenBucket(0, 0);
  /** Payload bytes held back by pacing. */
  #pendingBytes = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  alive = true;

  constructor(ws: WebSocket, direction: 'in' | 'out', label: string, ctx: LinkContext) {
    this.#ws = ws;
    this.direction = direction;
    this.label = label;
    this.#ctx = ctx;
    this.#received = new TokenBucket(ctx.rateLimit * 2, ctx.rateLimit);
    this.#own = makeHello(ctx.identity, ctx.rateLimit);
    this.#source = ctx.intake.source();
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    ws.on('error', (error) => ctx.log.info({ peer: this.label, err: error.message }, 'peer link error'));
    this.#handshakeTimer = setTimeout(() => this.close('HANDSHAKE_TIMEOUT'), ctx.handshakeTimeoutMs);
    const start = () => this.#send(this.#own.frame);
    if (ws.readyState === ws.OPEN) start();
    else ws.once('open', start);
  }

  /** Asks the peer for a channel (or stops asking, with no paths). */
  ask(channel: string, want: readonly InterestPath[], first: boolean): void {
    if (!this.ready) return;
    if (want.length === 0) {
      this.#asking.delete(channel);
      this.#caughtUp.delete(channel);
      this.#source.drop(channel);
      this.#send({ t: 'unsub', ch: channel });
      return;
    }
    let frame: SubFrame = { t: 'sub', ch: channel, want };
    if (first || !this.#asking.has(channel)) {
      const s = this.#nextStream++;
      this.#asking.set(channel, s);
      this.#caughtUp.delete(channel);
      this.#source.drop(channel);
      frame = { ...frame, have: this.#ctx.store.vector(channel), s };
    }
    this.#send(frame);
  }

  /** Whether we ask the peer for the channel, and whether its stream has caught up. */
  askState(channel: string): 'not-asked' | 'catching-up' | 'caught-up' {
    if (!this.#asking.has(channel)) return 'not-asked';
    return this.#caughtUp.has(channel) ? 'caught-up' : 'catching-up';
  }

  /** Messages the peer has not been sent yet, summed over the channels it asked for. */
  lag(): number {
    let lag = 0;
    for (const stream of this.#streams.values()) lag += Math.max(0, this.#ctx.store.bounds(stream.channel).last - stream.position);
    return lag;
  }

  /** Sends a keepalive ping; false when the last one went unanswered. */
  ping(): boolean {
    if (!this.alive) return false;
    this.alive = false;
    this.#ws.ping();
    return true;
  }

  close(code: PeerCloseCode, detail?: string): void {
    if (this.#closed) return;
    const { close, reason } = PEER_CLOSES[code];
    this.closeCode = close;
    this.closedFor = code;
    const level = code === 'SHUTDOWN' || code === 'REMOVED' || code === 'DUPLICATE' ? 'info' : 'warn';
    this.#ctx.log[level]({ peer: this.label, node: this.node, code, detail }, `peer link closed: ${reason}`);
    if (this.direction === 'in' && !this.ready && code !== 'SHUTDOWN') this.#ctx.handshakeFailed(this, code.toLowerCase());
    this.#teardown();
    this.#ws.close(close, reason);
    // A peer that does not answer the close in time is cut off.
    setTimeout(() => this.#ws.terminate(), 2000).unref();
  }

  terminate(): void {
    this.#ws.terminate();
  }

  queue(stream: ChannelFeed, message: StoredMessage): void {
    let batch = this.#pending.get(stream);
    if (batch === undefined) {
      batch = [];
      this.#pending.set(stream, batch);
    }
    batch.push(message);
    this.#pendingBytes += message.payload.length;
    if (this.#pendingBytes > this.#ctx.maxSendBuffer) {
      this.close('TOO_SLOW', `over ${this.#ctx.maxSendBuffer} bytes wait for the peer's rate of ${this.#session?.theirs.rate} messages a second`);
      return;
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      // After the hub's whole fan-out (it is synchronous): one frame per channel.
      queueMicrotask(() => this.flush());
    }
  }

  /**
   * Sends the queued messages the pace allows; resolves once those have been handed to
   * the socket. What the pace holds back goes when it allows (a timer flushes again).
   */
  flush(): Promise<void> {
    this.#flushQueued = false;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.size === 0 || this.#closed) return Promise.resolve();
    let last: Promise<void> = Promise.resolve();
    for (const [stream, messages] of this.#pending) {
      const allowed = this.#sending.takeUpTo(messages.length);
      // Frames of at most MAX_BATCH messages and about MAX_FRAME_PAYLOAD bytes (one
      // large message may go over it alone): the peer refuses frames past its limit.
      let from = 0;
      while (from < allowed) {
        let to = from;
        let bytes = 0;
        while (to < allowed && to - from < MAX_BATCH && (to === from || bytes + messages[to]!.payload.length <= MAX_FRAME_PAYLOAD)) {
          bytes += messages[to++]!.payload.length;
        }
        const e = packEnvelopes(messages.slice(from, to), this.#ctx.identity.nodeId, this.#ctx.sealer);
        this.counters.messagesOut += to - from;
        if (e.length > 0) last = this.#send({ t: 'msgs', ch: stream.channel, s: stream.number, e });
        from = to;
      }
      for (let i = 0; i < allowed; i++) this.#pendingBytes -= messages[i]!.payload.length;
      if (allowed === messages.length) this.#pending.delete(stream);
      else messages.splice(0, allowed);
    }
    if (this.#ws.bufferedAmount > this.#ctx.maxSendBuffer) this.close('TOO_SLOW', `${this.#ws.bufferedAmount} bytes unsent`);
    else if (this.#pending.size > 0) this.#flushTimer = setTimeout(() => void this.flush(), Math.max(1, this.#sending.msUntil(PACED_CHUNK)));
    return last;
  }

  /** Flushes until nothing is queued (pacing permitting), then resolves once it is sent. */
  async #drain(): Promise<void> {
    for (;;) {
      const sent = this.flush();
      if (this.#pending.size === 0 || this.#closed) return sent;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, this.#sending.msUntil(PACED_CHUNK))));
    }
  }

  #send(frame: PeerFrame): Promise<void> {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return Promise.resolve();
    const data = encodePeerFrame(frame);
    this.counters.bytesOut += data.length;
    return new Promise((resolve) => this.#ws.send(data, () => resolve()));
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    this.counters.bytesIn += data.length;
    if (!isBinary) return this.close('BAD_FRAME', 'peer frames are binary CBOR');
    const decoded = decodePeerFrame(data, this.#ctx.maxPayload);
    if (!decoded.ok) return this.close('BAD_FRAME', decoded.error);
    const frame = decoded.frame;
    if (!this.ready) return this.#onHandshake(frame);
    switch (frame.t) {
      case 'hello':
      case 'proof':
        return this.close('BAD_FRAME', `${frame.t} after the handshake`);
      case 'sub':
        return this.#onSub(frame);
      case 'unsub': {
        this.#stopStream(frame.ch);
        this.#ctx.asked(this, frame.ch, []);
        return;
      }
      case 'msgs':
        return this.#onMsgs(frame);
      case 'live':
        if (this.#asking.get(frame.ch) !== frame.s) return; // an earlier stream's
        // What came before the marker is still in the hub's batch: commit it now, so
        // that a query woken by the marker reads it.
        this.#ctx.hub.flush();
        this.#caughtUp.add(frame.ch);
        this.#ctx.caughtUp(this, frame.ch);
        return;
    }
  }

  /**
   * The handshake, in the order that keeps the PEER_KEY from anyone who has not proven
   * it (see handshake.ts): hellos both ways; the dialed side's signature; the dialer's
   * proof; the dialed side's proof.
   */
  #onHandshake(frame: PeerFrame): void {
    const session = this.#session;
    if (session === undefined) {
      if (frame.t !== 'hello') return this.close('BAD_FRAME', `expected hello, got ${frame.t}`);
      const opened = openSession(this.#own, frame, this.direction === 'out' ? 'dialer' : 'dialed', this.#ctx.policy);
      if (!opened.ok) return this.close(opened.code, opened.detail);
      this.#session = opened.session;
      this.node = frame.node;
      // Under what the peer takes: a bucket of one second at 90% of its rate, where the
      // peer allows two seconds' worth at its full rate.
      const rate = frame.rate ?? 0;
      this.#sending = new TokenBucket(rate, rate * 0.9);
      if (this.direction === 'in') void this.#send(makeSignature(this.#ctx.identity, opened.session));
      return;
    }
    if (frame.t !== 'proof') return this.close('BAD_FRAME', `expected proof, got ${frame.t}`);
    if (this.direction === 'out' && !this.#proved) {
      const check = checkSignature(frame, session);
      if (!check.ok) return this.close(check.code, check.detail);
      this.#proved = true;
      void this.#send(makeProof(this.#ctx.identity, session));
      return;
    }
    const check = checkProof(frame, session);
    if (!check.ok) return this.close(check.code, check.detail);
    if (this.direction === 'in') void this.#send(makeProof(this.#ctx.identity, session));
    clearTimeout(this.#handshakeTimer);
    this.ready = true;
    this.#ctx.log.info({ peer: this.label, node: this.node, direction: this.direction }, 'peer link up');
    this.#ctx.ready(this);
  }

  #onSub(frame: SubFrame): void {
    if (frame.want.some((path) => path[0] !== this.node)) return this.close('BAD_FRAME', 'each want path must start with the sender');
    if (frame.want.length === 0) return this.close('BAD_FRAME', 'a sub must want something; send unsub instead');
    if (frame.have === undefined && !this.#streams.has(frame.ch)) return this.close('BAD_FRAME', 'the first sub of a channel must carry have');
    // Asked on first: this node's own asks to its other peers go out before the stream
    // starts, so the stream's `live` can wait for them.
    this.#ctx.asked(this, frame.ch, frame.want);
    if (frame.have !== undefined) {
      this.#stopStream(frame.ch);
      this.#startStream(frame.ch, frame.s!, frame.have);
    }
  }

  #startStream(channel: string, number: number, have: ReadonlyMap<string, number>): void {
    const stream = new ChannelFeed(channel, number, have, (from, message) => this.queue(from, message));
    this.#streams.set(channel, stream);
    this.#ctx.hub.subscribe(stream);
    // A store that fails mid-replay ends the link (the next one starts over from the
    // vectors); it must not become an unhandled rejection that takes the node down.
    this.#replay(stream).catch((error: unknown) => this.close('STORE_FAILED', error instanceof Error ? error.message : String(error)));
  }

  async #replay(stream: ChannelFeed): Promise<void> {
    const store = this.#ctx.store;
    const first = store.firstMissing(stream.channel, stream.peerHas);
    stream.position = first === undefined ? store.bounds(stream.channel).last : first - 1;
    await replayThenLive(store, stream.channel, stream.position, REPLAY_PAGE, {
      stopped: () => stream.cancelled || this.#closed,
      deliver: (messages) => {
        for (const message of messages) stream.offer(message);
      },
      live: () => (stream.live = true),
      // Wait until this step is on its way (at the peer's pace): a long replay must not
      // pile up in memory.
      drain: async () => {
        await this.#drain();
        return true;
      },
    });
    if (stream.live) await this.#announceLive(stream);
  }

  /**
   * Tells the peer its stream has caught up, once the replay has gone out and this
   * node's other peers have caught it up too: then a query at the peer sees the
   * channel as it is across the network, not only what this node happened to have.
   */
  async #announceLive(stream: ChannelFeed): Promise<void> {
    await this.#drain();
    await this.#ctx.upstreamCaughtUp(this, stream.channel);
    await this.#drain();
    if (this.#streams.get(stream.channel) !== stream || this.#closed) return;
    await this.#send({ t: 'live', ch: stream.channel, s: stream.number });
  }

  #stopStream(channel: string): void {
    const stream = this.#streams.get(channel);
    if (stream === undefined) return;
    stream.cancelled = true;
    this.#streams.delete(channel);
    this.#ctx.hub.leave(stream);
  }

  #onMsgs(frame: MsgsFrame): void {
    // A channel given up, or asked for again, can still have messages of the earlier
    // stream on the way: they are not needed, and taking them could leave a hole.
    if (this.#asking.get(frame.ch) !== frame.s) return;
    let count = 0;
    for (const e of frame.e) count += e.messages.length;
    if (!this.#received.tryTake(count)) return this.close('FLOOD', `over ${this.#ctx.rateLimit} messages/s`);
    this.counters.messagesIn += count;
    // Every envelope of the frame is checked before any message is stored.
    const taken: VerifiedMessage[] = [];
    for (const envelope of frame.e) {
      const result = this.#source.take(frame.ch, envelope);
      if (!result.ok) {
        // What the frame's earlier envelopes put in flight will not be stored.
        this.#ctx.intake.reset();
        return this.close(CLOSE_FOR[result.reason], result.detail);
      }
      taken.push(...result.messages);
    }
    const back = this.#streams.get(frame.ch);
    // The peer holds these whether or not they are new here: never send them back.
    for (const envelope of frame.e) back?.peerHolds(envelope.origin, envelope.firstSeq + envelope.messages.length - 1);
    for (const m of taken) this.#ctx.hub.publish(replicaRequest(m), back, this.#onStored);
  }

  /**
   * What the store made of a message the peer sent. Only the store can tell a hole in
   * an origin's sequence (other links' messages of the same turn are ahead of it in the
   * batch), so the link is refused here, after the commit; the message was not stored.
   */
  readonly #onStored = (result: AppendResult | Error): void => {
    const outcome = this.#ctx.intake.stored(result);
    // A batch the store refused is lost here, but the peer counts it as sent: start
    // over, and the vectors exchanged on the next link say again what is missing.
    if (result instanceof Error) return this.close('STORE_FAILED', result.message);
    if (outcome !== 'hole') return;
    const { channel, origin, originSeq } = result.message;
    this.close('OUT_OF_ORDER', `message ${origin}/${originSeq} in ${channel} skips that origin's sequence: this node holds it up to ${result.hole!.after}`);
  };

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#flushTimer);
    for (const channel of [...this.#streams.keys()]) this.#stopStream(channel);
    this.#ctx.closed(this);
  }

  #onClose(code: number, reason: string): void {
    this.closeCode ??= code;
    const refusal = code === PEER_CLOSES.BAD_PROOF.close ? REFUSED_PROOF : code === PEER_CLOSES.UNTRUSTED.close ? REFUSED_UNTRUSTED : undefined;
    if (!this.#closed && refusal !== undefined) {
      // The peer refused this node: retrying will not help until an operator fixes
      // the configuration, so say what is likely missing, and loudly.
      this.#ctx.log.warn({ peer: this.label, node: this.node, direction: this.direction, code, reason }, refusal);
      if (this.direction === 'in' && !this.ready) this.#ctx.handshakeFailed(this, 'closed');
    } else if (!this.#closed && this.ready) this.#ctx.log.info({ peer: this.label, node: this.node, code, reason }, 'peer link closed by the peer');
    else if (!this.#closed && this.direction === 'in') {
      // Anyone may connect and say hello: one who leaves before proving anything is a
      // prober or a misconfigured peer, and either is worth seeing. (An outgoing link
      // that never came up was already reported by its error: refused, unreachable.)
      const awaiting = this.#session === undefined ? 'hello' : 'proof';
      this.#ctx.log.warn({ peer: this.label, node: this.node, code, reason, awaiting }, 'peer handshake ended before a proof');
      this.#ctx.handshakeFailed(this, 'closed');
    }
    this.#teardown();
  }
}
