// The Mles side of the channels: who is joined where (one uid per channel at a time),
// the history a joiner is replayed (messages and earlier join headers, newest within
// the --limit and --history-bytes budgets), the join headers stored for later joiners,
// and the Mles frame of each delivery, built once for all Mles members. The hub knows
// none of this: Mles members are ordinary members to it.

import { EncodeOnce } from '../hub/encode-once.ts';
import type { Delivery, Hub, Member } from '../hub/hub.ts';
import type { Store } from '../store/store.ts';
import type { ChannelPresence } from '../hub/presence.ts';
import { mergeMlesHistory } from './history.ts';
import type { JoinHeaderRecord, JoinHeaders } from './join-headers.ts';
import { encodeFrame, OP_BINARY, OP_TEXT } from '../websocket/frame.ts';

/** An Mles connection: one uid in one channel, and it takes replayed join headers. */
export interface MlesMember extends Member {
  readonly uid: string;
  deliverHeader(frame: Uint8Array): void;
}

export type JoinResult = { readonly ok: true } | { readonly ok: false; readonly code: 'ALREADY_JOINED' };

export interface MlesChannelsOptions {
  readonly hub: Hub;
  readonly store: Store;
  /** Where join headers are kept for later joiners. */
  readonly headers: JoinHeaders;
  /** Frames a joiner gets replayed (Mles `--limit`). */
  readonly historyLimit: number;
  /** Bytes a joiner gets replayed at most; older entries are left out. */
  readonly historyBytes: number;
  /** Runs a function at the end of this event-loop turn. */
  readonly schedule?: (run: () => void) => void;
  /** A batch of join headers the store refused (disk full, I/O error). */
  readonly onStoreError?: (error: unknown) => void;
  /** Who is in each channel, for native clients that watch: Mles members are counted too. */
  readonly presence?: ChannelPresence;
}

export class MlesChannels {
  readonly #options: MlesChannelsOptions;
  readonly #schedule: (run: () => void) => void;
  readonly #uids = new Map<string, Map<string, MlesMember>>();
  #pendingHeaders: JoinHeaderRecord[] = [];
  readonly #frames = new EncodeOnce<Delivery, Buffer>(({ message }) => encodeFrame(message.binary ? OP_BINARY : OP_TEXT, message.payload));

  constructor(options: MlesChannelsOptions) {
    this.#options = options;
    this.#schedule = options.schedule ?? setImmediate;
  }

  /**
   * Admits a member: replays the channel's history, then stores its header so later
   * joiners see it. The joiner's own header is not replayed to itself.
   */
  join(member: MlesMember, header: Uint8Array): JoinResult {
    let uids = this.#uids.get(member.channel);
    if (uids?.has(member.uid)) return { ok: false, code: 'ALREADY_JOINED' };
    const { store, historyLimit, historyBytes } = this.#options;
    // What was committed before this join is in its history, even if not synced yet.
    this.#options.hub.settleNow(member.channel);
    const history = this.#history(member.channel);
    let budget = historyBytes;
    let start = history.length;
    while (start > 0) {
      const entry = history[start - 1]!;
      budget -= entry.kind === 'header' ? entry.frame.length : entry.message.payload.length;
      if (budget < 0) break;
      start--;
    }
    for (let i = start; i < history.length; i++) {
      const entry = history[i]!;
      if (entry.kind === 'header') member.deliverHeader(entry.frame);
      else member.deliver({ message: entry.message });
    }
    if (uids === undefined) {
      uids = new Map();
      this.#uids.set(member.channel, uids);
    }
    uids.set(member.uid, member);
    this.#options.hub.subscribe(member);
    this.#options.presence?.arrive(member.channel, member.uid);
    // Stored at the end of the turn (one transaction for all joins of a turn), placed
    // after the last message committed now, durable or not yet: what this member gets
    // live comes after it, and one sent before the join stays before it in later replays.
    const record = { channel: member.channel, position: store.lastAssigned(member.channel), frame: header };
    if (this.#options.headers.appendAtJoin === true) this.#append([record]);
    else {
      if (this.#pendingHeaders.length === 0) this.#schedule(() => this.flush());
      this.#pendingHeaders.push(record);
    }
    return { ok: true };
  }

  /**
   * The last `--limit` entries of the replay. Messages older than the newest
   * `--history-bytes` of payloads are not read (join() cuts the merged history to its
   * byte budget; this only spares reading what would be cut).
   */
  #history(channel: string) {
    const { store, headers, historyLimit, historyBytes } = this.#options;
    if (historyLimit <= 0) return [];
    const messages = store.read(channel, { limit: historyLimit, descending: true, maxBytes: historyBytes }).reverse();
    return mergeMlesHistory(messages, headers.latest(channel, historyLimit), historyLimit);
  }

  /** Removes a member; a no-op for one that is not joined (a refused duplicate, say). */
  leave(member: MlesMember): void {
    this.#options.hub.leave(member);
    const uids = this.#uids.get(member.channel);
    if (uids?.get(member.uid) !== member) return;
    uids.delete(member.uid);
    if (uids.size === 0) this.#uids.delete(member.channel);
    this.#options.presence?.depart(member.channel, member.uid);
  }

  /** The WebSocket frame of a delivery, built by the first Mles member it reaches. */
  frameOf(delivery: Delivery): Buffer {
    return this.#frames.get(delivery);
  }

  /** Stores the join headers of this turn (also at shutdown, before the store closes). */
  flush(): void {
    const headers = this.#pendingHeaders;
    this.#pendingHeaders = [];
    if (headers.length > 0) this.#append(headers);
  }

  #append(headers: readonly JoinHeaderRecord[]): void {
    try {
      this.#options.headers.append(headers);
    } catch (error) {
      this.#options.onStoreError?.(error);
    }
  }
}
