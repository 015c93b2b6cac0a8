// The Store: every channel's messages, durably, in order. Sequence numbers are per
// channel, assigned once and never reused (even after retention removes messages);
// each message also keeps its origin node and that origin's sequence number, which
// peering builds on. The store knows no protocol: Mles join headers, for one, are kept
// by the Mles side (src/mles/join-headers.ts).
//
// The interface is synchronous: SQLite through node:sqlite is, and callers batch
// appends into one transaction per event-loop turn (the hub does).

export interface StoredMessage {
  readonly channel: string;
  readonly seq: number;
  /** SHA-256 over the message's identifying fields (see message-id.ts). */
  readonly id: Uint8Array;
  /** Milliseconds since the epoch, from the accepting node's clock. */
  readonly ts: number;
  readonly origin: string;
  readonly originSeq: number;
  readonly uid: string;
  /** Whether it arrived as a binary (true) or text WebSocket frame. */
  readonly binary: boolean;
  readonly payload: Uint8Array;
  /**
   * The id of the origin's previous message in the channel, which this one's id covers
   * (message-id.ts); absent for a message stored before ids were chained, which peers
   * cannot verify and are not sent.
   */
  readonly prev?: Uint8Array | undefined;
  /**
   * The origin's seal over this message's id (src/envelope/seal.ts), kept for a replica
   * the origin sealed: it vouches for the message and the chain before it. A node's own
   * messages carry none in the store; it seals them when it sends them.
   */
  readonly seal?: Uint8Array | undefined;
}

/** What a message copied from a peer keeps from its origin node. */
export interface OriginStamp {
  readonly origin: string;
  readonly originSeq: number;
  readonly ts: number;
  /** Checked against the other fields by whoever accepted it from the wire. */
  readonly id: Uint8Array;
  /** The origin's previous id in the channel, which `id` covers. */
  readonly prev: Uint8Array;
  /** The origin's seal, when this message ends a sealed run. */
  readonly seal?: Uint8Array | undefined;
}

export interface AppendRequest {
  readonly channel: string;
  readonly uid: string;
  readonly binary: boolean;
  readonly payload: Uint8Array;
  /** Client message id: a retry with the same (channel, uid, cid) gets the first result. */
  readonly cid?: string | undefined;
  /**
   * The publisher says this may repeat an earlier publish (it saw no ack). Recent client
   * ids are always checked; a retry is also looked for further back, which costs more.
   */
  readonly retry?: boolean | undefined;
  /**
   * Set for a message that another node accepted: it keeps that node's origin, origin
   * seq, time and id, and gets a local seq here. One this store already holds (its
   * origin seq is not above the channel's vector entry for the origin) is a duplicate;
   * one past the entry's next is refused as a hole (see `AppendResult.hole`).
   */
  readonly replica?: OriginStamp | undefined;
  /**
   * For an own message that a shared log stamped (src/jetstream/): its time, so every
   * node that applies the log gives it the same id. Unset, the store's clock stamps it.
   */
  readonly ts?: number | undefined;
}

export interface AppendResult {
  /** For a replica not stored: the replica as given, with seq 0 (its local seq is not looked up). */
  readonly message: StoredMessage;
  /** True when nothing new was stored: a retry of an earlier publish, a replica held already, or a hole. */
  readonly duplicate: boolean;
  /**
   * Set for a replica refused because it skips its origin's sequence: the store holds
   * that origin's messages up to `after`, and this one is beyond `after + 1`.
   */
  readonly hole?: { readonly after: number };
}

export interface ReadRange {
  /** Only messages with seq greater than this. */
  readonly after?: number | undefined;
  /** Only messages with seq less than this. */
  readonly before?: number | undefined;
  /** Only messages with ts at or after this (ms). */
  readonly since?: number | undefined;
  /** Only messages with ts before this (ms). */
  readonly until?: number | undefined;
  readonly limit: number;
  /** Newest first instead of oldest first (the limit then keeps the newest). */
  readonly descending?: boolean;
  /**
   * Stop once the payloads read add up to this many bytes: the message that reaches it
   * is the last one given (so there is always at least one, and a caller can tell that
   * the read stopped early). Large messages are then never read only to be left out.
   */
  readonly maxBytes?: number;
}

/**
 * Whether a read with this range gave everything it matches: it stopped neither at its
 * limit nor at its byte budget.
 */
export function readComplete(range: ReadRange, messages: readonly StoredMessage[]): boolean {
  if (messages.length >= range.limit) return false;
  if (range.maxBytes === undefined) return true;
  let bytes = 0;
  for (const message of messages) bytes += message.payload.length;
  return bytes < range.maxBytes;
}

/**
 * What a store holds of a channel, per origin: origin node id -> the highest origin
 * seq stored. A node stores each origin's messages in origin-seq order without holes
 * (peers send them that way), so the entry covers everything up to it. Entries never
 * go down, not even when retention removes the messages.
 */
export type OriginVector = ReadonlyMap<string, number>;

export interface ChannelBounds {
  /** Oldest seq still stored; last + 1 when nothing is stored. */
  readonly first: number;
  /** Newest seq ever assigned; 0 when none. */
  readonly last: number;
}


export interface RetentionLimits {
  /** Messages kept per channel; 0 = no count limit. */
  readonly count: number;
  /** Age in ms after which messages go; 0 = no age limit. */
  readonly ageMs: number;
  /** Payload bytes kept per channel; 0 = no byte limit. */
  readonly bytes: number;
}

export interface StoreStats {
  readonly channels: number;
  readonly messages: number;
  readonly bytes: number;
}

/** One channel that has messages stored, as `Store.channels` lists it. */
export interface ChannelSummary {
  readonly channel: string;
  /** Messages stored. */
  readonly count: number;
  /** Payload bytes stored. */
  readonly bytes: number;
  /** Newest seq ever assigned. */
  readonly last: number;
}

export interface Store {
  /** This store's node id: the origin of messages accepted here. */
  readonly nodeId: string;
  /**
   * Appends in one transaction; results in request order. The store may keep the
   * payload buffers it is given: callers hand them over and must not reuse them.
   */
  append(requests: readonly AppendRequest[]): AppendResult[];
  /**
   * Present on a store that commits before its commits are durable (group commit):
   * calls `done` once every append made so far is durable, or with the error. Until
   * then reads, bounds and channel lists do not show those appends. Without it, an
   * append is durable when it returns.
   */
  readonly sync?: ((done: (error?: Error) => void) => void) | undefined;
  /**
   * With `sync`: when the channel has appends not yet durable, makes every append so far
   * durable before it returns (blocking for one fsync), calling the callbacks waiting in
   * `sync` first, in order; otherwise does nothing.
   */
  readonly syncNow?: ((channel: string) => void) | undefined;
  read(channel: string, range: ReadRange): StoredMessage[];
  /** The messages of a channel with these ids (unknown ids are skipped), oldest first. */
  readByIds(channel: string, ids: readonly Uint8Array[]): StoredMessage[];
  bounds(channel: string): ChannelBounds;
  /**
   * The newest seq assigned, durable or not yet (with group commit, `bounds` stops at the
   * durable one): where something that happens now falls in the channel's order.
   */
  lastAssigned(channel: string): number;
  /** The channel's origin vector (a copy). */
  vector(channel: string): Map<string, number>;
  /**
   * The id of the newest message of `origin` in the channel (the one its vector entry
   * counts), even once retention removed it; undefined when none was stored, or when it
   * was stored before ids were chained and its id was not kept.
   */
  lastId(channel: string, origin: string): Uint8Array | undefined;
  /**
   * The seq of the oldest stored message that a holder of `have` lacks (its origin seq
   * is above `have`'s entry for its origin); undefined when it lacks nothing stored.
   */
  firstMissing(channel: string, have: OriginVector): number | undefined;
  /**
   * Removes messages past the limits, at most `budget` rows per call so traffic never
   * waits long; returns how many were removed (call again while it equals the budget).
   */
  enforceRetention(limits: RetentionLimits, now: number, budget: number): number;
  stats(): StoreStats;
  /**
   * The channels that have messages stored, by name (which is ASCII, so one order for
   * every store), from the first name after `after`; at most `limit` of them.
   */
  channels(after: string | undefined, limit: number): ChannelSummary[];
  close(): void;
}
