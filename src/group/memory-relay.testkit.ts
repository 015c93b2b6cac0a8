// Test kit: an in-memory relay with the node's ordering and cid semantics, shared by
// several group clients in one process. `hold` lets a test delay a channel's publishes to
// force interleavings; `inject` appends raw bytes as an attacker or a broken client would.

import type { Relay, RelayMessage } from './relay.ts';

interface Stored extends RelayMessage {
  readonly cid: string | undefined;
}

export class MemoryRelay {
  readonly #channels = new Map<string, Stored[]>();
  readonly #watchers = new Map<string, Set<() => void>>();

  /** A Relay view for one uid. */
  as(uid: string): Relay {
    return {
      publish: async (channel, payload, cid) => this.#append(channel, uid, payload, cid),
      read: async (channel, after, limit) => this.messages(channel).filter((m) => m.seq > after).slice(0, limit),
      watch: (channel, _after, onNews) => {
        let set = this.#watchers.get(channel);
        if (set === undefined) this.#watchers.set(channel, (set = new Set()));
        set.add(onNews);
        return () => set.delete(onNews);
      },
      close: async () => {},
    };
  }

  messages(channel: string): readonly RelayMessage[] {
    return this.#channels.get(channel) ?? [];
  }

  /** Appends bytes as `uid` would, without a cid. */
  inject(channel: string, uid: string, payload: Uint8Array): number {
    return this.#append(channel, uid, payload, undefined).seq;
  }

  #append(channel: string, uid: string, payload: Uint8Array, cid: string | undefined): { seq: number } {
    let list = this.#channels.get(channel);
    if (list === undefined) this.#channels.set(channel, (list = []));
    const earlier = cid === undefined ? undefined : list.find((m) => m.cid === cid && m.from === uid);
    if (earlier !== undefined) return { seq: earlier.seq };
    const seq = list.length + 1;
    list.push({ seq, from: uid, payload: new Uint8Array(payload), cid });
    for (const watcher of this.#watchers.get(channel) ?? []) queueMicrotask(watcher);
    return { seq };
  }
}
