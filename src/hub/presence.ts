// Who is in each channel on this node, by uid: the clients of every protocol that are
// joined (Mles) or subscribed (native), counted per uid, so that one person with two
// tabs or devices arrives once and leaves once. Watchers (native subscriptions that
// asked for presence) are told when a uid arrives (its first connection) or leaves (its
// last). Peer links are not members: presence is what this node sees. No I/O.

export interface PresenceWatcher {
  /** `uid` arrived in the channel (here: true) or left it (here: false). Must not throw. */
  presence(uid: string, here: boolean): void;
}

export interface ChannelMembers {
  /** Distinct uids in the channel, sorted, at most `limit` of them. */
  readonly uids: readonly string[];
  /** Distinct uids in the channel in all. */
  readonly count: number;
}

export class ChannelPresence {
  /** Connections per uid, per channel. */
  readonly #channels = new Map<string, Map<string, number>>();
  readonly #watchers = new Map<string, Set<PresenceWatcher>>();
  #silent = false;

  /** A connection of `uid` came into the channel. */
  arrive(channel: string, uid: string): void {
    let uids = this.#channels.get(channel);
    if (uids === undefined) {
      uids = new Map();
      this.#channels.set(channel, uids);
    }
    const count = (uids.get(uid) ?? 0) + 1;
    uids.set(uid, count);
    if (count === 1) this.#tell(channel, uid, true);
  }

  /** A connection of `uid` left the channel; a no-op when none was there. */
  depart(channel: string, uid: string): void {
    const uids = this.#channels.get(channel);
    const count = uids?.get(uid);
    if (uids === undefined || count === undefined) return;
    if (count > 1) {
      uids.set(uid, count - 1);
      return;
    }
    uids.delete(uid);
    if (uids.size === 0) this.#channels.delete(channel);
    this.#tell(channel, uid, false);
  }

  /** How many connections of `uid` are in the channel. */
  connections(channel: string, uid: string): number {
    return this.#channels.get(channel)?.get(uid) ?? 0;
  }

  members(channel: string, limit: number): ChannelMembers {
    const uids = this.#channels.get(channel);
    if (uids === undefined) return { uids: [], count: 0 };
    return { uids: [...uids.keys()].sort().slice(0, limit), count: uids.size };
  }

  watch(channel: string, watcher: PresenceWatcher): void {
    let watchers = this.#watchers.get(channel);
    if (watchers === undefined) {
      watchers = new Set();
      this.#watchers.set(channel, watchers);
    }
    watchers.add(watcher);
  }

  unwatch(channel: string, watcher: PresenceWatcher): void {
    const watchers = this.#watchers.get(channel);
    if (watchers?.delete(watcher) && watchers.size === 0) this.#watchers.delete(channel);
  }

  /**
   * The node is stopping: every connection is about to close, which is not everyone
   * leaving. Watchers hear nothing more (they learn of the stop from their own close).
   */
  silence(): void {
    this.#silent = true;
  }

  #tell(channel: string, uid: string, here: boolean): void {
    if (this.#silent) return;
    const watchers = this.#watchers.get(channel);
    if (watchers === undefined) return;
    for (const watcher of [...watchers]) watcher.presence(uid, here);
  }
}
