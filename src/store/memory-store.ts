// A Store in memory: the same contract as SqliteStore, for tests and `--memory`.
// Nothing survives a restart.

import { messageId, NO_PREV } from './message-id.ts';
import { firstMissing, replicaNotStored, replicaPlace } from './origin-vector.ts';
import { RecentIds } from './recent-ids.ts';
import type {
  AppendRequest,
  AppendResult,
  ChannelBounds,
  OriginVector,
  ReadRange,
  RetentionLimits,
  Store,
  StoredMessage,
  ChannelSummary,
  StoreStats,
} from './store.ts';

/**
 * A message whose id is computed when first asked for: a SHA-256 per message would be
 * most of the cost of relaying in memory mode, and Mles-only channels never need it.
 * The payload is kept as given: publishers hand over a buffer of their own.
 *
 * An id covers the previous id of its origin (message-id.ts), so a node's own message
 * points at its own previous one until its id is computed; the ids of a run of such
 * messages are then computed oldest first, in a loop (a recursion could overflow the
 * stack on a long run).
 *
 * A message retention removes lets go of the next own message (`retire`), so the
 * pointer never holds a removed message alive. Where its id was computed, the next one
 * chains onto it. Where it never was, the store either computes it then (a view that
 * other nodes must number and identify exactly alike: the JetStream view), or lets the
 * chain start again after it (prev = NO_PREV; `restartChains`): no peer and no native
 * client ever saw that message, since both see ids, and a hash per relayed message was
 * a third of the relay's CPU. A node holding the messages before it refuses the restart
 * as a hole, as it refuses every gap that retention leaves.
 */
class MemoryMessage implements StoredMessage {
  readonly channel: string;
  readonly seq: number;
  readonly ts: number;
  readonly origin: string;
  readonly originSeq: number;
  readonly uid: string;
  readonly binary: boolean;
  readonly payload: Uint8Array;
  readonly seal: Uint8Array | undefined;
  #id: Uint8Array | undefined;
  #prev: Uint8Array | undefined;
  /** The previous own message, while this one's prev is not known yet. */
  #before: MemoryMessage | undefined;
  /** The next own message, while it may point back here. */
  #after: MemoryMessage | undefined;

  constructor(
    channel: string,
    seq: number,
    ts: number,
    origin: string,
    originSeq: number,
    uid: string,
    binary: boolean,
    payload: Uint8Array,
    chain: { readonly id: Uint8Array; readonly prev: Uint8Array; readonly seal?: Uint8Array | undefined } | { readonly before: MemoryMessage | undefined },
  ) {
    this.channel = channel;
    this.seq = seq;
    this.ts = ts;
    this.origin = origin;
    this.originSeq = originSeq;
    this.uid = uid;
    this.binary = binary;
    this.payload = payload;
    if ('id' in chain) {
      this.#id = chain.id;
      this.#prev = chain.prev;
      this.seal = chain.seal;
    } else {
      this.#before = chain.before;
      if (chain.before !== undefined) chain.before.#after = this;
      if (chain.before === undefined) this.#prev = NO_PREV;
      this.seal = undefined;
    }
  }

  get prev(): Uint8Array {
    if (this.#prev === undefined) {
      // The run of own messages whose ids are not known yet, newest first.
      const run: MemoryMessage[] = [];
      for (let m: MemoryMessage | undefined = this; m !== undefined && m.#prev === undefined; m = m.#before) run.push(m);
      for (let i = run.length - 1; i >= 0; i--) {
        const m = run[i]!;
        m.#prev = m.#before!.#id ?? m.#before!.#computeId();
        m.#before = undefined;
      }
    }
    return this.#prev!;
  }

  /**
   * This message leaves the store: the next own message stops pointing at it. Its id is
   * computed first unless `restart` lets a chain nobody saw start again (see above).
   */
  retire(restart: boolean): void {
    const next = this.#after;
    this.#after = undefined;
    if (next === undefined || next.#before !== this) return;
    next.#prev = restart ? (this.#id ?? NO_PREV) : this.id;
    next.#before = undefined;
  }

  get id(): Uint8Array {
    return this.#id ?? this.#computeId();
  }

  #computeId(): Uint8Array {
    const { prev, origin, channel, originSeq, ts, uid, binary, payload } = this;
    this.#id = messageId({ prev, origin, channel, originSeq, ts, uid, binary, payload });
    return this.#id;
  }
}

interface MemoryChannel {
  messages: StoredMessage[]; // oldest first, contiguous seqs
  lastSeq: number;
  originSeq: number;
  bytes: number;
  vector: Map<string, number>;
  /** Each origin's newest id, for replicas (this node's own is `lastOwn`'s). */
  lastIds: Map<string, Uint8Array>;
  lastOwn: MemoryMessage | undefined;
}

/** Removes a channel's oldest message (see MemoryMessage.retire). */
function removeOldest(channel: MemoryChannel, restartChains: boolean): StoredMessage {
  const oldest = channel.messages.shift()!;
  if (oldest instanceof MemoryMessage) oldest.retire(restartChains);
  return oldest;
}

export class MemoryStore implements Store {
  readonly nodeId: string;
  readonly #now: () => number;
  readonly #channels = new Map<string, MemoryChannel>();

  readonly #retainCount: number;
  readonly #retainBytes: number;
  /** (channel, uid, cid) -> seq of recent publishes (a retry of an older one is new). */
  readonly #recent = new RecentIds(200_000);
  /** See MemoryMessage: chains nobody saw start again after retention. */
  readonly #restartChains: boolean;

  /**
   * `retainCount` and `retainBytes` (0 = none) are enforced as messages arrive: in
   * memory, waiting for the periodic retention would let a busy node grow by gigabytes.
   */
  /**
   * With `restartChains`, count and byte limits are applied to a channel when the next
   * batch comes for it, not within the batch that passed them: the hub hands a batch out
   * between the two, and whoever takes a message's id (a peer link, a native client) has
   * taken it by then, so only messages nobody saw let their chain start again.
   */
  constructor(options: { nodeId: string; now?: () => number; retainCount?: number; retainBytes?: number; restartChains?: boolean }) {
    this.nodeId = options.nodeId;
    this.#now = options.now ?? Date.now;
    this.#retainCount = options.retainCount ?? 0;
    this.#retainBytes = options.retainBytes ?? 0;
    this.#restartChains = options.restartChains ?? false;
  }

  /** Applies the count and byte limits to a channel; its newest message always stays. */
  #trim(channel: MemoryChannel): void {
    while (
      channel.messages.length > 1 &&
      ((this.#retainCount > 0 && channel.messages.length > this.#retainCount) || (this.#retainBytes > 0 && channel.bytes > this.#retainBytes))
    ) {
      channel.bytes -= removeOldest(channel, this.#restartChains).payload.length;
    }
  }

  #channel(name: string): MemoryChannel {
    let channel = this.#channels.get(name);
    if (channel === undefined) {
      channel = { messages: [], lastSeq: 0, originSeq: 0, bytes: 0, vector: new Map(), lastIds: new Map(), lastOwn: undefined };
      this.#channels.set(name, channel);
    }
    return channel;
  }

  #at(channel: MemoryChannel, seq: number): StoredMessage | undefined {
    const first = channel.messages[0];
    return first === undefined ? undefined : channel.messages[seq - first.seq];
  }

  append(requests: readonly AppendRequest[]): AppendResult[] {
    const now = this.#now();
    // With restartChains, what earlier batches left over the limits goes first (see the constructor).
    const trimmed = this.#restartChains ? new Set<MemoryChannel>() : undefined;
    return requests.map((request) => {
      const channel = this.#channel(request.channel);
      if (trimmed !== undefined && !trimmed.has(channel)) {
        this.#trim(channel);
        trimmed.add(channel);
      }
      const replica = request.replica;
      const place = replica === undefined ? 'own' : replicaPlace(channel.vector, replica, () => channel.messages.some((m) => m.origin === replica.origin));
      if (place === 'held' || place === 'hole') return replicaNotStored(request, replica!, place, channel.vector);
      const cid = replica === undefined ? request.cid : undefined;
      if (cid !== undefined) {
        const earlier = this.#recent.get(request.channel, request.uid, cid);
        const message = earlier === undefined ? undefined : this.#at(channel, earlier);
        if (message !== undefined) return { message, duplicate: true };
      }
      const message = new MemoryMessage(
        request.channel,
        channel.lastSeq + 1,
        replica?.ts ?? request.ts ?? now,
        replica?.origin ?? this.nodeId,
        replica?.originSeq ?? channel.originSeq + 1,
        request.uid,
        request.binary,
        request.payload,
        replica === undefined ? { before: channel.lastOwn } : { id: replica.id, prev: replica.prev, seal: replica.seal },
      );
      if (replica === undefined) channel.lastOwn = message;
      else channel.lastIds.set(replica.origin, replica.id);
      channel.messages.push(message);
      channel.lastSeq++;
      if (replica === undefined) channel.originSeq++;
      channel.vector.set(message.origin, message.originSeq);
      channel.bytes += message.payload.length;
      if (cid !== undefined) this.#recent.set(request.channel, request.uid, cid, message.seq);
      if (!this.#restartChains) this.#trim(channel);
      return { message, duplicate: false };
    });
  }

  /**
   * Starts an empty channel from a numbering state kept elsewhere (a JetStream checkpoint,
   * src/jetstream/checkpoint.ts): its next message gets seq `lastSeq + 1`, and each
   * origin's chain goes on from the given entry and id.
   */
  seed(name: string, state: { readonly lastSeq: number; readonly vector: ReadonlyMap<string, number>; readonly lastIds: ReadonlyMap<string, Uint8Array> }): void {
    const channel = this.#channel(name);
    if (channel.lastSeq !== 0 || channel.vector.size > 0) throw new Error(`channel ${name} already has messages; only an empty one is seeded`);
    channel.lastSeq = state.lastSeq;
    channel.vector = new Map(state.vector);
    channel.originSeq = state.vector.get(this.nodeId) ?? 0;
    for (const [origin, id] of state.lastIds) {
      if (origin !== this.nodeId) channel.lastIds.set(origin, id);
      // The own chain goes on from a stand-in for the message the state ends with; it is never stored or read.
      else channel.lastOwn = new MemoryMessage(name, state.lastSeq, 0, origin, channel.originSeq, '', false, new Uint8Array(0), { id, prev: NO_PREV });
    }
  }

  /**
   * Drops what the channel holds and starts it again from a numbering state (as `seed`):
   * for a view that missed messages which are no longer anywhere to be read, its next
   * message gets the seq every other view gives it; a cursor older than that resumes
   * from the first message kept, as after retention.
   */
  reseed(name: string, state: { readonly lastSeq: number; readonly vector: ReadonlyMap<string, number>; readonly lastIds: ReadonlyMap<string, Uint8Array> }): void {
    this.#channels.delete(name);
    this.seed(name, state);
  }

  lastAssigned(name: string): number {
    return this.#channels.get(name)?.lastSeq ?? 0;
  }

  read(name: string, range: ReadRange): StoredMessage[] {
    return withinBytes(this.#range(name, range), range.maxBytes);
  }

  #range(name: string, range: ReadRange): StoredMessage[] {
    const channel = this.#channels.get(name);
    if (channel === undefined) return [];
    if (range.since === undefined && range.until === undefined && !range.descending) {
      // Seqs are contiguous: the range is a slice, found by arithmetic, not a scan.
      const first = channel.messages[0]?.seq ?? channel.lastSeq + 1;
      const from = Math.max(0, (range.after ?? 0) + 1 - first);
      const to = range.before === undefined ? channel.messages.length : Math.max(from, range.before - first);
      return channel.messages.slice(from, Math.min(to, from + range.limit));
    }
    const matching = channel.messages.filter(
      (m) =>
        (range.after === undefined || m.seq > range.after) &&
        (range.before === undefined || m.seq < range.before) &&
        (range.since === undefined || m.ts >= range.since) &&
        (range.until === undefined || m.ts < range.until),
    );
    if (range.descending) return matching.reverse().slice(0, range.limit);
    return matching.slice(0, range.limit);
  }

  readByIds(name: string, ids: readonly Uint8Array[]): StoredMessage[] {
    // A scan: lookups by id are rare (tools, peering), and an index would cost a hash
    // per message on the relay path, which in memory mode is the whole cost.
    const wanted = new Set(ids.map((id) => Buffer.from(id).toString('hex')));
    return (this.#channels.get(name)?.messages ?? []).filter((m) => wanted.has(Buffer.from(m.id).toString('hex')));
  }

  bounds(name: string): ChannelBounds {
    const channel = this.#channels.get(name);
    if (channel === undefined) return { first: 1, last: 0 };
    return { first: channel.messages[0]?.seq ?? channel.lastSeq + 1, last: channel.lastSeq };
  }

  vector(name: string): Map<string, number> {
    return new Map(this.#channels.get(name)?.vector);
  }

  lastId(name: string, origin: string): Uint8Array | undefined {
    const channel = this.#channels.get(name);
    if (channel === undefined) return undefined;
    return origin === this.nodeId ? channel.lastOwn?.id : channel.lastIds.get(origin);
  }

  firstMissing(name: string, have: OriginVector): number | undefined {
    const channel = this.#channels.get(name);
    if (channel === undefined) return undefined;
    const messages = channel.messages;
    function* newestFirst(): Generator<[number, string, number]> {
      for (let i = messages.length - 1; i >= 0; i--) yield [messages[i]!.seq, messages[i]!.origin, messages[i]!.originSeq];
    }
    return firstMissing(channel.vector, have, newestFirst());
  }

  enforceRetention(limits: RetentionLimits, now: number, budget: number): number {
    let removed = 0;
    for (const channel of this.#channels.values()) {
      while (removed < budget) {
        const oldest = channel.messages[0];
        if (oldest === undefined) break;
        const tooMany = limits.count > 0 && channel.messages.length > limits.count;
        const tooOld = limits.ageMs > 0 && oldest.ts < now - limits.ageMs;
        const tooBig = limits.bytes > 0 && channel.bytes > limits.bytes;
        if (!tooMany && !tooOld && !tooBig) break;
        removeOldest(channel, this.#restartChains);
        channel.bytes -= oldest.payload.length;
        removed++;
      }
    }
    return removed;
  }

  stats(): StoreStats {
    let messages = 0;
    let bytes = 0;
    for (const channel of this.#channels.values()) {
      messages += channel.messages.length;
      bytes += channel.bytes;
    }
    return { channels: this.#channels.size, messages, bytes };
  }

  channels(after: string | undefined, limit: number): ChannelSummary[] {
    const names = [...this.#channels.keys()].filter((name) => after === undefined || name > after).sort();
    const summaries: ChannelSummary[] = [];
    for (const name of names) {
      if (summaries.length >= limit) break;
      const channel = this.#channels.get(name)!;
      if (channel.messages.length === 0) continue;
      summaries.push({ channel: name, count: channel.messages.length, bytes: channel.bytes, last: channel.lastSeq });
    }
    return summaries;
  }

  close(): void {}
}

/** The messages up to the one whose payload reaches `maxBytes` (see ReadRange.maxBytes). */
function withinBytes(messages: StoredMessage[], maxBytes: number | undefined): StoredMessage[] {
  if (maxBytes === undefined) return messages;
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    bytes += messages[i]!.payload.length;
    if (bytes >= maxBytes) return messages.slice(0, i + 1);
  }
  return messages;
}
