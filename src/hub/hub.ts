// The hub owns channels and their members: it admits joins (one uid per channel at a
// time), replays history to joiners and fans each frame out to the other members in
// one order per channel. It knows nothing of sockets: members are anything that can
// take a frame, so the hub runs the same under tests, WebSockets or peer links.

import type { ChannelHistory, SizedFrame } from './history.ts';

export interface Member<F> {
  readonly uid: string;
  readonly channel: string;
  /** Queues a frame for this member. Must not throw and must not block. */
  deliver(frame: F): void;
}

export type JoinResult = { readonly ok: true } | { readonly ok: false; readonly code: 'ALREADY_JOINED' };

export class Hub<F extends SizedFrame> {
  readonly #channels = new Map<string, Map<string, Member<F>>>();
  readonly #history: ChannelHistory<F>;
  #members = 0;

  constructor(history: ChannelHistory<F>) {
    this.#history = history;
  }

  /**
   * Admits a member: replays the channel's history to it, then stores its header so
   * later joiners see it. The joiner's own header is not replayed to itself.
   */
  join(member: Member<F>, header: F): JoinResult {
    let members = this.#channels.get(member.channel);
    if (members?.has(member.uid)) return { ok: false, code: 'ALREADY_JOINED' };
    for (const frame of this.#history.recent(member.channel)) member.deliver(frame);
    if (members === undefined) {
      members = new Map();
      this.#channels.set(member.channel, members);
    }
    members.set(member.uid, member);
    this.#members++;
    this.#history.append(member.channel, header);
    return { ok: true };
  }

  /** Stores a frame and hands it to every other member of the sender's channel. */
  publish(sender: Member<F>, frame: F): number {
    const members = this.#channels.get(sender.channel);
    if (members?.get(sender.uid) !== sender) return 0;
    this.#history.append(sender.channel, frame);
    let delivered = 0;
    for (const member of members.values()) {
      if (member !== sender) {
        member.deliver(frame);
        delivered++;
      }
    }
    return delivered;
  }

  /** Removes a member; a no-op for one that never joined or already left. */
  leave(member: Member<F>): void {
    const members = this.#channels.get(member.channel);
    if (members?.get(member.uid) !== member) return;
    members.delete(member.uid);
    this.#members--;
    if (members.size === 0) this.#channels.delete(member.channel);
  }

  stats(): { members: number; activeChannels: number; history: ReturnType<ChannelHistory<F>['stats']> } {
    return { members: this.#members, activeChannels: this.#channels.size, history: this.#history.stats() };
  }
}
