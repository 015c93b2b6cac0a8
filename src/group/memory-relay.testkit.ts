// Test kit: an in-memory relay with the node's ordering and cid semantics, shared by
// several group clients in one process. It is also the group's ordering node: each
// submission is answered at once by an ordered record, as a node does for the groups it
// orders (src/ordering/). `hold` lets a test delay a channel's publishes to force
// interleavings; `inject` appends raw bytes as an attacker or a broken client would;
// `ordering = false` stands for an ordering node that cannot be reached.

import { generateKeyPairSync } from 'node:crypto';
import { nodeIdOf } from '../identity/node-identity.ts';
import { Sequencer, type OrderingKey } from '../ordering/sequencer.ts';
import type { Relay, RelayMessage } from './relay.ts';

interface Stored extends RelayMessage {
  readonly cid: string | undefined;
}

export function orderingKey(): OrderingKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

export class MemoryRelay {
  readonly #channels = new Map<string, Stored[]>();
  readonly #watchers = new Map<string, Set<() => void>>();
  readonly #sequencers = new Map<string, { sequencer: Sequencer; taken: number }>();
  /** The node key this relay orders groups with. */
  #key: OrderingKey = orderingKey();
  /** While false, submissions wait, as behind a partition; setting it true orders them. */
  #ordering = true;

  get key(): OrderingKey {
    return this.#key;
  }

  /**
   * From now on this relay is another node (a new key): the groups the old one ordered
   * are no longer its own until a handover names it.
   */
  becomeAnotherNode(): void {
    this.#key = orderingKey();
    this.#sequencers.clear();
    for (const channel of this.#channels.keys()) this.#order(channel);
  }

  get ordering(): boolean {
    return this.#ordering;
  }

  set ordering(on: boolean) {
    this.#ordering = on;
    if (on) for (const channel of this.#channels.keys()) this.#order(channel);
  }

  /** A Relay view for one uid. */
  as(uid: string): Relay {
    return {
      node: () => this.#key.nodeId,
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
    this.#order(channel);
    return { seq };
  }

  #order(channel: string): void {
    if (!this.#ordering || !channel.startsWith('mls/group/')) return;
    let track = this.#sequencers.get(channel);
    if (track === undefined) this.#sequencers.set(channel, (track = { sequencer: new Sequencer(this.#key, 1 << 24), taken: 0 }));
    const list = this.#channels.get(channel)!;
    while (track.taken < list.length) track.sequencer.learn(list[track.taken++]!.payload);
    for (const step of track.sequencer.flush()) if (step.kind === 'publish') this.#append(channel, 'parley-orderer', step.payload, undefined);
  }
}
