// The node's side of encrypted groups: it orders the commits of every group whose
// genesis names this node. It reads each group channel as this node stores it and
// answers each new submission with a signed ordered record, published in the same
// channel like every other message (so peering and gossip carry it to every node). To receive
// the submissions members publish on other nodes, it uses the channel itself, as a
// client would: peers are then asked for it.

import type { Logger } from 'pino';
import type { Hub, Member } from '../hub/hub.ts';
import type { AppendResult, Store } from '../store/store.ts';
import { Sequencer, type OrderingKey } from './sequencer.ts';

export const GROUP_CHANNEL_PREFIX = 'mls/group/';
const PAGE = 500;
/** The uid ordered records are published under: a hint for readers, never trusted. */
export const ORDERER_UID = 'parley-orderer';

export interface GroupOrdererOptions {
  readonly hub: Hub;
  readonly store: Store;
  readonly key: OrderingKey;
  readonly maxPayload: number;
  readonly log: Logger;
}

interface Track {
  readonly sequencer: Sequencer;
  cursor: number;
  interest: Member | undefined;
}

export class GroupOrderer {
  readonly #o: GroupOrdererOptions;
  readonly #tracks = new Map<string, Track>();
  #closed = false;

  constructor(options: GroupOrdererOptions) {
    this.#o = options;
  }

  /** Picks up every group channel already stored (after a restart). */
  start(): void {
    let after = GROUP_CHANNEL_PREFIX;
    for (;;) {
      const page = this.#o.store.channels(after, PAGE);
      for (const summary of page) {
        if (!summary.channel.startsWith(GROUP_CHANNEL_PREFIX)) return;
        this.#catchUp(summary.channel);
      }
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.channel;
    }
  }

  /** For the hub: a batch was stored. */
  readonly onStored = (results: readonly AppendResult[]): void => {
    if (this.#closed) return;
    let last: string | undefined;
    for (const result of results) {
      const channel = result.message.channel;
      if (result.duplicate || channel === last || !channel.startsWith(GROUP_CHANNEL_PREFIX)) continue;
      last = channel;
      this.#catchUp(channel);
    }
  };

  /** The groups this node orders, with how many handshake messages each has numbered. */
  ordered(): Array<{ channel: string; numbered: number }> {
    return [...this.#tracks].filter(([, t]) => t.sequencer.role === 'mine').map(([channel, t]) => ({ channel, numbered: t.sequencer.numbered }));
  }

  close(): void {
    this.#closed = true;
    for (const track of this.#tracks.values()) if (track.interest !== undefined) this.#o.hub.leave(track.interest);
  }

  #catchUp(channel: string): void {
    let track = this.#tracks.get(channel);
    if (track === undefined) {
      // First sight (or a restart): learn the whole channel before numbering anything.
      track = { sequencer: new Sequencer(this.#o.key, this.#o.maxPayload), cursor: 0, interest: undefined };
      this.#tracks.set(channel, track);
    }
    for (;;) {
      const page = this.#o.store.read(channel, { after: track.cursor, limit: PAGE });
      for (const message of page) {
        track.cursor = message.seq;
        track.sequencer.learn(message.payload);
        if (!track.sequencer.isGroup) return;
      }
      if (page.length < PAGE) break;
    }
    for (const step of track.sequencer.flush()) {
      if (step.kind === 'publish') {
        this.#o.hub.publish({ channel, uid: ORDERER_UID, binary: true, payload: step.payload }, undefined, (result) => {
          if (result instanceof Error) this.#o.log.error({ err: result, channel, n: step.n }, 'an ordered group record was not stored; the group waits until it is ordered again after a restart');
        });
      } else {
        this.#o.log.warn({ channel, reason: step.reason }, 'group submission not ordered');
      }
    }
    if (track.sequencer.role === 'mine' && track.interest === undefined) {
      // Used here, the channel is asked of every peer: submissions made elsewhere come in.
      track.interest = { channel, deliver: () => {} };
      this.#o.hub.subscribe(track.interest);
      this.#o.log.info({ channel }, 'ordering the commits of a group');
    } else if (track.sequencer.role === 'other' && track.interest !== undefined) {
      // The role was handed to another node.
      this.#o.hub.leave(track.interest);
      track.interest = undefined;
      this.#o.log.info({ channel }, 'no longer ordering the commits of a group: handed over');
    }
  }
}
