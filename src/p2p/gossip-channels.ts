// Channels over gossipsub: for each channel this node carries, a topic it subscribes to
// and a hub member. What the hub stores (from clients here, or from WebSocket peers) goes
// out as sealed envelopes, one gossip message per run; what comes in is checked by the
// node's intake before gossipsub may pass it on, then stored through the hub like any
// replica. Gossip has no order: a run that arrives before the one it follows waits here
// (its seal already checked) for a while, and a gap that stays asks for a sync.

import type { Logger } from 'pino';
import { packEnvelopes, UNSEALED_BYTES, UNSEALED_MESSAGES, type Envelope } from '../envelope/envelope.ts';
import { replicaRequest, type ReplicaIntake, type VerifiedMessage } from '../envelope/intake.ts';
import type { Sealer } from '../envelope/seal.ts';
import type { DeliveryRun, Hub, Member } from '../hub/hub.ts';
import type { AppendResult, StoredMessage } from '../store/store.ts';
import { encodeGossip, TOPIC_PREFIX, topicOf, type GossipDecoder, type GossipMessage } from './gossip-codec.ts';
import type { Verdict } from './host/host.ts';

/** What of the host gossip needs. */
export interface GossipTransport {
  subscribe(topic: string, validate: (data: Uint8Array, fromPeerId: string) => Verdict): void;
  unsubscribe(topic: string): void;
  publish(topic: string, data: Uint8Array): Promise<void>;
}

export interface GossipChannelsOptions {
  readonly transport: GossipTransport;
  readonly hub: Hub;
  readonly intake: ReplicaIntake;
  readonly sealer: Sealer;
  readonly decoder: GossipDecoder;
  readonly log: Logger;
  /** A run came whose predecessors did not: ask this peer for the channel. */
  readonly onGap: (channel: string, peerId: string) => void;
  /** A relayed topic's first message named its channel (see relay). */
  readonly onLearned: (channel: string, peerId: string) => void;
  /** How long a run waits for the one before it. */
  readonly gapWaitMs?: number;
}

/** Topics relayed before their channel is known, at most (a peer could subscribe to endless made-up ones). */
const MAX_RELAYED = 10_000;
/** Runs waiting for their predecessors, per channel and origin, at most. */
const MAX_WAITING = 256;

interface Waiting {
  readonly message: GossipMessage;
  readonly from: string;
}

export interface GossipCounters {
  /** Gossip messages (runs) this node published. */
  published: number;
  /** Runs taken from gossip. */
  received: number;
  /** Runs that could not be published (too large, or the host refused). */
  failed: number;
}

export class GossipChannels {
  readonly #options: GossipChannelsOptions;
  readonly #members = new Map<string, ChannelMember>();
  readonly #waiting = new Map<string, Waiting[]>();
  readonly #gapTimers = new Map<string, NodeJS.Timeout>();
  /** The topic of each carried channel, to its channel. */
  readonly #topics = new Map<string, string>();
  /** Topics carried for peers before their channel's name is known. */
  readonly #relayed = new Set<string>();
  readonly counters: GossipCounters = { published: 0, received: 0, failed: 0 };

  constructor(options: GossipChannelsOptions) {
    this.#options = options;
  }

  /** Carries a channel: subscribes to its topic and to its messages here. */
  join(channel: string): void {
    if (this.#members.has(channel)) return;
    const member = new ChannelMember(channel, this);
    this.#members.set(channel, member);
    const topic = topicOf(channel);
    this.#relayed.delete(topic);
    this.#topics.set(topic, channel);
    this.#options.transport.subscribe(topic, (data, from) => this.#validate(channel, member, data, from));
    this.#options.hub.subscribe(member);
  }

  /**
   * Carries a topic a peer carries, whose channel this node does not know by name yet:
   * a node between two others must carry their channels, or gossip cannot cross it. The
   * first message names the channel (its hash must be the topic); from then on the
   * channel is carried like any other, and stored here.
   */
  relay(topic: string): void {
    if (!topic.startsWith(TOPIC_PREFIX) || this.#topics.has(topic) || this.#relayed.has(topic) || this.#relayed.size >= MAX_RELAYED) return;
    this.#relayed.add(topic);
    this.#options.transport.subscribe(topic, (data, from) => {
      const decoded = this.#options.decoder.decode(data);
      if (!decoded.ok || topicOf(decoded.message.channel) !== topic) {
        this.#options.intake.count('malformed');
        return 'reject';
      }
      const channel = decoded.message.channel;
      this.join(channel);
      this.#options.onLearned(channel, from);
      return this.#validate(channel, this.#members.get(channel)!, data, from);
    });
  }

  /** The carried channel whose topic this is. */
  channelOf(topic: string): string | undefined {
    return this.#topics.get(topic);
  }

  has(channel: string): boolean {
    return this.#members.has(channel);
  }

  channels(): string[] {
    return [...this.#members.keys()];
  }

  /** Runs waiting for the runs before them. */
  waiting(): number {
    let count = 0;
    for (const list of this.#waiting.values()) count += list.length;
    return count;
  }

  stop(): void {
    for (const [channel, member] of this.#members) {
      this.#options.hub.leave(member);
      this.#options.transport.unsubscribe(topicOf(channel));
    }
    this.#members.clear();
    for (const timer of this.#gapTimers.values()) clearTimeout(timer);
    this.#gapTimers.clear();
  }

  /** Publishes what the hub stored: sealed runs, one gossip message each. */
  publish(channel: string, envelopes: readonly Envelope[]): void {
    const topic = topicOf(channel);
    for (const envelope of envelopes) {
      let data: Uint8Array;
      try {
        data = encodeGossip(channel, envelope);
      } catch (error) {
        this.counters.failed++;
        this.#options.log.error({ err: error, channel }, 'p2p could not encode a run');
        continue;
      }
      if (envelope.ids !== undefined) this.#options.decoder.prime(data, { channel, envelope, ids: envelope.ids });
      this.counters.published++;
      this.#options.transport.publish(topic, data).catch((error: unknown) => {
        this.counters.failed++;
        this.#options.log.warn({ channel, origin: envelope.origin, err: (error as Error).message }, 'p2p could not publish a run; peers get it by sync');
      });
    }
  }

  #validate(channel: string, member: ChannelMember, data: Uint8Array, from: string): Verdict {
    const { intake, decoder, log } = this.#options;
    const decoded = decoder.decode(data);
    if (!decoded.ok || decoded.message.channel !== channel) {
      intake.count('malformed');
      log.debug({ peer: from, channel, error: decoded.ok ? 'channel does not match the topic' : decoded.error }, 'p2p gossip message refused');
      return 'reject';
    }
    const message = decoded.message;
    const { envelope } = message;
    const tail = intake.tail(channel, envelope.origin);
    if (envelope.origin !== intake.selfId && envelope.firstSeq > tail.seq + 1) {
      // Ahead of what is here: authentic or not decides whether gossip passes it on. This
      // holds for an origin nothing is held of too: its earlier runs may come next (gossip
      // has no order), or by the sync a gap asks for, which also brings what a peer's
      // retention left; taken now, they would be refused later as held, and lost here.
      const check = intake.checkSeal(envelope.origin, message.ids.at(-1)!, envelope.seal!);
      if (check !== 'ok') {
        intake.count('bad_seal');
        return 'reject';
      }
      this.#wait(channel, { message, from });
      return 'accept';
    }
    const result = intake.source().take(channel, envelope, message.ids);
    if (!result.ok) {
      log.info({ peer: from, channel, reason: result.reason, detail: result.detail }, 'p2p envelope refused');
      return 'reject';
    }
    if (result.nothingNew) {
      intake.count('replayed');
      return 'ignore';
    }
    this.counters.received++;
    member.store(result.messages);
    this.#release(channel, envelope.origin, result.messages.at(-1)!.originSeq);
    return 'accept';
  }

  #wait(channel: string, waiting: Waiting): void {
    const key = `${channel}\0${waiting.message.envelope.origin}`;
    let list = this.#waiting.get(key);
    if (list === undefined) this.#waiting.set(key, (list = []));
    if (list.length >= MAX_WAITING) list.shift();
    list.push(waiting);
    list.sort((a, b) => a.message.envelope.firstSeq - b.message.envelope.firstSeq);
    if (!this.#gapTimers.has(key)) {
      const timer = setTimeout(() => {
        this.#gapTimers.delete(key);
        const still = this.#waiting.get(key);
        this.#waiting.delete(key);
        // The runs between never came by gossip: a sync brings them and these too.
        if (still !== undefined && still.length > 0) this.#options.onGap(channel, still[0]!.from);
      }, this.#options.gapWaitMs ?? 1000);
      timer.unref();
      this.#gapTimers.set(key, timer);
    }
  }

  /** Takes the waiting runs that now follow what is here. */
  #release(channel: string, origin: string, upTo: number): void {
    const key = `${channel}\0${origin}`;
    const list = this.#waiting.get(key);
    if (list === undefined) return;
    let next = upTo;
    while (list.length > 0 && list[0]!.message.envelope.firstSeq <= next + 1) {
      const { message } = list.shift()!;
      const result = this.#options.intake.source().take(channel, message.envelope, message.ids);
      if (result.ok && result.messages.length > 0) {
        this.counters.received++;
        this.#members.get(channel)?.store(result.messages);
        next = result.messages.at(-1)!.originSeq;
      }
    }
    if (list.length === 0) {
      this.#waiting.delete(key);
      clearTimeout(this.#gapTimers.get(key));
      this.#gapTimers.delete(key);
    }
  }

  /**
   * Stores replicas verified elsewhere (a sync), and passes them on to gossip: the peers
   * beyond this node missed them too (a partition that healed here), and would otherwise
   * wait for their own next sync round. Peers that hold them already ignore them.
   */
  storeReplicas(channel: string, messages: readonly VerifiedMessage[]): void {
    if (this.#members.has(channel)) this.storeThrough(undefined, messages);
    // Not carried any more (the node is stopping): the intake took these as on their way
    // to the store, and must not wait for them.
    else if (messages.length > 0) this.#options.intake.reset();
  }

  /** Stores verified replicas through the hub; not back to `from`, the gossip member they came from. */
  storeThrough(from: ChannelMember | undefined, messages: readonly VerifiedMessage[]): void {
    const { hub } = this.#options;
    for (const m of messages) hub.publish(replicaRequest(m), from, this.#stored);
  }

  readonly #stored = (result: AppendResult | Error): void => {
    if (this.#options.intake.stored(result) !== 'hole' || result instanceof Error) return;
    const { channel, origin, originSeq } = result.message;
    this.#options.log.warn({ channel, origin, originSeq, after: result.hole?.after }, "p2p run skips its origin's sequence; not stored");
  };

  /** Packs what the hub stored on a channel and publishes it. */
  packAndPublish(channel: string, messages: readonly StoredMessage[], open: OpenTails): void {
    const all = open.prepend(messages);
    const envelopes = packEnvelopes(all, this.#options.intake.selfId, this.#options.sealer);
    const sealed: Envelope[] = [];
    for (const envelope of envelopes) {
      if (envelope.seal !== undefined) sealed.push(envelope);
      else open.keep(envelope, all);
    }
    this.publish(channel, sealed);
  }
}

/**
 * Replica runs the hub stored in parts (it commits at most a batch at a time): the part
 * without its seal waits for the rest, to go out as one sealed run.
 */
class OpenTails {
  #held: StoredMessage[] = [];

  prepend(messages: readonly StoredMessage[]): readonly StoredMessage[] {
    if (this.#held.length === 0) return messages;
    const all = [...this.#held, ...messages];
    this.#held = [];
    return all;
  }

  keep(envelope: Envelope, messages: readonly StoredMessage[]): void {
    const last = envelope.firstSeq + envelope.messages.length - 1;
    const part = messages.filter((m) => m.origin === envelope.origin && m.originSeq >= envelope.firstSeq && m.originSeq <= last);
    let bytes = 0;
    for (const m of this.#held) bytes += m.payload.length;
    if (this.#held.length + part.length > UNSEALED_MESSAGES || bytes > UNSEALED_BYTES) return; // never sealed: peers get it by sync
    this.#held.push(...part);
  }
}

/** The hub member of one channel carried over gossip. */
class ChannelMember implements Member {
  readonly channel: string;
  readonly #gossip: GossipChannels;
  readonly #open = new OpenTails();

  constructor(channel: string, gossip: GossipChannels) {
    this.channel = channel;
    this.#gossip = gossip;
  }

  deliver(delivery: { readonly message: StoredMessage }): void {
    this.deliverRun({ messages: [delivery.message] });
  }

  deliverRun(run: DeliveryRun): void {
    // Ids are taken now, even for messages held to be sealed later: a memory store lets
    // the chain of a message whose id nobody took start again once retention removes it
    // (memory-store.ts), and peers must get the chain as it is here.
    for (const message of run.messages) void message.id;
    this.#gossip.packAndPublish(this.channel, run.messages, this.#open);
  }

  store(messages: readonly VerifiedMessage[]): void {
    this.#gossip.storeThrough(this, messages);
  }
}
