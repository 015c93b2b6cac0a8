// Which channels to ask each peer for. A node asks a peer for a channel when someone
// "behind" it (seen from that peer) uses the channel: a client here, or a node that
// asked us through another link. Each ask carries paths to the interested nodes, and
// paths that pass through the asking node or the asked one are dropped (a path
// vector, as in BGP). Without them, two nodes in a ring keep each other's interest
// alive after the last client has gone; with them, interest always traces back to a
// real user and disappears with it. Pure: links are ids, nothing is sent from here.

import { MAX_PATH_LENGTH, MAX_WANT, type InterestPath } from './protocol.ts';

export interface AskChange {
  readonly link: number;
  readonly channel: string;
  /** Paths to advertise; empty means stop asking. */
  readonly want: readonly InterestPath[];
  /** True when the link was not asked for the channel before: send what we have. */
  readonly first: boolean;
}

interface LinkState {
  readonly node: string;
  /** What the peer asked us for: channel -> paths (each starting with the peer). */
  readonly asked: Map<string, readonly InterestPath[]>;
  /** What we last asked the peer for, as a comparable key. */
  readonly sent: Map<string, string>;
}

export class InterestTable {
  readonly #self: string;
  readonly #used = new Set<string>();
  readonly #links = new Map<number, LinkState>();

  constructor(self: string) {
    this.#self = self;
  }

  /** A channel became used or unused by clients here. */
  setUsed(channel: string, used: boolean): AskChange[] {
    if (used) this.#used.add(channel);
    else this.#used.delete(channel);
    return this.#reconsider([channel]);
  }

  addLink(link: number, node: string): AskChange[] {
    this.#links.set(link, { node, asked: new Map(), sent: new Map() });
    return this.#reconsider(this.#channels(), [link]);
  }

  removeLink(link: number): AskChange[] {
    const state = this.#links.get(link);
    if (state === undefined) return [];
    this.#links.delete(link);
    return this.#reconsider([...state.asked.keys()]);
  }

  /** The peer on `link` asked for a channel (empty `want`: it stopped asking). */
  asked(link: number, channel: string, want: readonly InterestPath[]): AskChange[] {
    const state = this.#links.get(link);
    if (state === undefined) return [];
    if (want.length === 0) state.asked.delete(channel);
    else state.asked.set(channel, want);
    return this.#reconsider([channel]);
  }

  /** Whether the peer on `link` asked for the channel: whether to send it there. */
  isAsked(link: number, channel: string): boolean {
    return this.#links.get(link)?.asked.has(channel) ?? false;
  }

  /** What to ask the peer on `link` for `channel`: the shortest loop-free path to each interested node. */
  want(link: number, channel: string): InterestPath[] {
    const target = this.#links.get(link);
    if (target === undefined) return [];
    const best = new Map<string, InterestPath>();
    if (this.#used.has(channel)) best.set(this.#self, [this.#self]);
    for (const [id, state] of this.#links) {
      if (id === link || state.node === target.node) continue;
      for (const path of state.asked.get(channel) ?? []) {
        const interested = path[path.length - 1]!;
        if (interested === this.#self || path.includes(this.#self) || path.includes(target.node)) continue;
        // Past the longest path a peer accepts, interest is not passed on (a line of more
        // than MAX_PATH_LENGTH nodes needs users closer to each end).
        if (path.length + 1 > MAX_PATH_LENGTH) continue;
        const known = best.get(interested);
        if (known === undefined || known.length > path.length + 1) best.set(interested, [this.#self, ...path]);
      }
    }
    // The nearest MAX_WANT of them: one is enough to make the peer send the channel.
    return [...best.values()].sort((a, b) => a.length - b.length || (a.join() < b.join() ? -1 : 1)).slice(0, MAX_WANT);
  }

  #channels(): string[] {
    const all = new Set(this.#used);
    for (const state of this.#links.values()) for (const channel of state.asked.keys()) all.add(channel);
    return [...all];
  }

  #reconsider(channels: readonly string[], links: readonly number[] = [...this.#links.keys()]): AskChange[] {
    const changes: AskChange[] = [];
    for (const link of links) {
      const state = this.#links.get(link)!;
      for (const channel of channels) {
        const want = this.want(link, channel);
        const key = JSON.stringify(want);
        const before = state.sent.get(channel);
        if (want.length === 0) {
          if (before === undefined) continue;
          state.sent.delete(channel);
        } else {
          if (before === key) continue;
          state.sent.set(channel, key);
        }
        changes.push({ link, channel, want, first: before === undefined });
      }
    }
    return changes;
  }
}
