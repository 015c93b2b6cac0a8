// The directory of public channels on gossip: announces this node's public channels
// every minute (and soon after a peer joins the directory topic, so a new node does not
// wait a minute), and keeps what other nodes announce, each checked (see directory.ts).
// A channel it stops listing is withdrawn at once, and the withdrawal repeated with the
// announcements for as long as a listing of it could still be held somewhere (an hour),
// so a node that was away when it was first sent drops the channel too.

import type { Logger } from 'pino';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { Store } from '../store/store.ts';
import { ANNOUNCE_EVERY_MS, ANNOUNCEMENT_LIFETIME_MS, DIRECTORY_TOPIC, Directory, encodeAnnouncement, encodeWithdrawal, type DirectoryEntry, type PublicChannel } from './directory.ts';
import type { GossipTransport } from './gossip-channels.ts';

/** How far apart nodes' clocks may be for announcements (directory.ts takes times up to 10 minutes ahead). */
const MAX_CLOCK_SKEW_MS = 10 * 60_000;

export interface DirectoryGossipOptions {
  readonly transport: GossipTransport;
  readonly identity: NodeIdentity;
  readonly store: Store;
  readonly channels: readonly PublicChannel[];
  /** Public channels that come and go while the node runs (public Matrix rooms made here). */
  readonly moreChannels?: () => readonly PublicChannel[];
  readonly log: Logger;
  readonly now?: () => number;
}

export class DirectoryGossip {
  readonly directory = new Directory();
  readonly #options: DirectoryGossipOptions;
  readonly #timer: NodeJS.Timeout;
  #soon: NodeJS.Timeout | undefined;
  /** Channels withdrawn, and when: repeated until no listing of them can be held anywhere. */
  readonly #withdrawn = new Map<string, number>();

  constructor(options: DirectoryGossipOptions) {
    this.#options = options;
    options.transport.subscribe(DIRECTORY_TOPIC, (data, from) => {
      const checked = this.directory.take(data, this.#now());
      if (checked.ok) {
        if (checked.gone) options.log.info({ channel: checked.entry.channel, node: checked.entry.node }, 'p2p directory: a node no longer lists a channel');
        else if (checked.added) options.log.info({ channel: checked.entry.channel, node: checked.entry.node, about: checked.entry.about }, 'p2p directory lists a public channel');
        return 'accept';
      }
      options.log.info({ peer: from, error: checked.error }, 'p2p directory announcement refused');
      return 'reject';
    });
    this.#timer = setInterval(() => this.announce(), ANNOUNCE_EVERY_MS);
    this.#timer.unref();
    this.announceSoon();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Announces within a second (a peer joined the topic): at most once per second however many join. */
  announceSoon(): void {
    if (this.#soon !== undefined || (this.#channels().length === 0 && this.#withdrawn.size === 0)) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.announce();
    }, 1000);
    this.#soon.unref();
  }

  announce(): void {
    const { identity, store, transport, log } = this.#options;
    const now = this.#now();
    const channels = this.#channels();
    for (const channel of channels) this.#withdrawn.delete(channel.channel);
    for (const [channel, at] of this.#withdrawn) {
      // Not quite the hour: a node whose clock is ahead would refuse one near it as stale.
      if (at < now - ANNOUNCEMENT_LIFETIME_MS + MAX_CLOCK_SKEW_MS) this.#withdrawn.delete(channel);
      else this.#sendWithdrawal(channel, at);
    }
    for (const channel of channels) {
      const last = store.read(channel.channel, { limit: 1, descending: true })[0]?.ts ?? 0;
      const data = encodeAnnouncement(identity, channel, now, last);
      this.directory.add({ channel: channel.channel, about: channel.about, node: identity.nodeId, announced: now, lastActivity: last }, now);
      transport.publish(DIRECTORY_TOPIC, data).catch((error: unknown) => log.debug({ err: (error as Error).message }, 'p2p directory announcement not sent'));
    }
  }

  /** Tells the network at once that this node no longer lists `channel` (it must be out of the channels announced). */
  withdraw(channel: string): void {
    const now = this.#now();
    this.directory.add({ channel, about: '', node: this.#options.identity.nodeId, announced: now, lastActivity: 0 }, now, true);
    this.#withdrawn.set(channel, now);
    this.#sendWithdrawal(channel, now);
  }

  /** Sends a withdrawal with the time it was made: repeated, it is the same withdrawal, not a newer one. */
  #sendWithdrawal(channel: string, at: number): void {
    const { identity, transport, log } = this.#options;
    transport.publish(DIRECTORY_TOPIC, encodeWithdrawal(identity, channel, at)).catch((error: unknown) => log.debug({ err: (error as Error).message }, 'p2p directory withdrawal not sent'));
  }

  #channels(): readonly PublicChannel[] {
    const more = this.#options.moreChannels?.() ?? [];
    return more.length === 0 ? this.#options.channels : [...this.#options.channels, ...more];
  }

  list(): DirectoryEntry[] {
    return this.directory.list(this.#now());
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
  }
}
