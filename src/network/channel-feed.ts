// What a peer link sends of one channel the peer asked for: the messages the peer lacks,
// judged by its origin vector.

import type { Delivery, Member } from '../hub/hub.ts';
import type { StoredMessage } from '../store/store.ts';

/**
 * A channel the peer asked for. It sends each message the peer lacks, judged by the
 * peer's origin vector, which it keeps up to date as it sends (and as the peer sends
 * us messages: those it has). Like a native subscription it replays from the store
 * first and ignores live deliveries until the replay has caught up, switching in the
 * same synchronous step as the last read.
 */
export class ChannelFeed implements Member {
  readonly peerLink = true;
  readonly channel: string;
  /** The number the peer gave this stream: its `msgs` frames carry it. */
  readonly number: number;
  readonly peerHas: Map<string, number>;
  live = false;
  cancelled = false;
  /** The local seq of the newest message considered: how far the peer is served. */
  position = 0;
  readonly #send: (stream: ChannelFeed, message: StoredMessage) => void;

  /** `send` queues a message for the peer, on the link. */
  constructor(channel: string, number: number, have: ReadonlyMap<string, number>, send: (stream: ChannelFeed, message: StoredMessage) => void) {
    this.channel = channel;
    this.number = number;
    this.peerHas = new Map(have);
    this.#send = send;
  }

  deliver(delivery: Delivery): void {
    if (this.live) this.offer(delivery.message);
  }

  offer(message: StoredMessage): void {
    this.position = message.seq;
    if (message.originSeq <= (this.peerHas.get(message.origin) ?? 0)) return;
    this.peerHas.set(message.origin, message.originSeq);
    // The id is taken now, not when the link gets round to packing the message: a memory
    // store lets the chain of a message whose id nobody took start again once retention
    // removes it (memory-store.ts), and the peer must get the chain as it is here.
    void message.id;
    this.#send(this, message);
  }

  /** The peer showed it has the origin's messages up to this one (it sent them to us). */
  peerHolds(origin: string, originSeq: number): void {
    if (originSeq > (this.peerHas.get(origin) ?? 0)) this.peerHas.set(origin, originSeq);
  }
}
