// This installation's inbox: Welcomes other members published for it. Each one that
// names one of our key packages makes a new local group, starting after the commit that
// added us; the used key package is retired and replaced. The inbox cursor is saved with
// the joined group, so a Welcome is applied once.

import { channels } from './channels.ts';
import { decodeGroupEnvelope, decodeWelcomeDelivery } from './envelope.ts';
import { epochOf, encodeState, groupIdOf, joinFromWelcome, welcomeRecipients } from './mls.ts';
import { readAll } from './relay.ts';
import type { Genesis } from '../ordering/wire.ts';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
import type { Services } from './services.ts';

const INBOX_CURSOR = 'inbox-cursor';

export class Inbox {
  readonly #s: Services;

  constructor(services: Services) {
    this.#s = services;
  }

  /** Joins every group a new Welcome invites us to; returns their names. */
  async check(): Promise<string[]> {
    const { local, records, identity } = this.#s;
    const joined: string[] = [];
    const channel = channels.inbox(identity.uid, identity.installation);
    const after = Number(local.getMeta(INBOX_CURSOR) ?? '0');
    for await (const page of readAll(this.#s.relay, channel, after)) {
      for (const message of page) {
        const name = await this.#accept(message.payload);
        local.transaction(() => {
          if (name !== undefined) joined.push(name);
          local.setMeta(INBOX_CURSOR, String(message.seq));
        });
      }
    }
    if (joined.length > 0) await this.#s.directory.publishOwn(identity);
    return joined;
  }

  async #accept(payload: Uint8Array): Promise<string | undefined> {
    const { local, records } = this.#s;
    const delivery = decodeWelcomeDelivery(payload);
    if (delivery === undefined) return undefined;
    const refs = welcomeRecipients(delivery.welcome) ?? [];
    const own = refs.map((ref) => local.keyPackage(ref)).find((kp) => kp !== undefined);
    if (own === undefined) return undefined;
    const existing = records.group(delivery.group);
    if (existing !== undefined && existing.status === 'active' && existing.orderN >= delivery.order) return undefined;
    let state;
    try {
      state = await joinFromWelcome(this.#s.cs, delivery.welcome, { publicBytes: own.publicBytes, privateBytes: own.privateBytes, ref: own.ref }, this.#s.config);
    } catch {
      return undefined; // a Welcome MLS refuses (bad credentials, bad tree): ignore it
    }
    const epoch = Number(epochOf(state));
    // The seq is the adder's node's: on another node, the group is read from its start
    // (what came before the join is passed over by ordered number and epoch).
    const genesis = await this.#genesisOf(delivery.group);
    if (genesis === undefined || !sameBytes(genesis.groupId, groupIdOf(state))) return undefined;
    // After a handover, the group is read from its start, so that this member checks the
    // handover itself rather than take the adder's word for the ordering node.
    const cursor = delivery.node === this.#s.relay.node() && delivery.orderer === genesis.orderer ? delivery.commitSeq : 0;
    local.transaction(() => {
      // Re-added after a removal or leave: the new membership replaces the old state.
      if (existing !== undefined) records.deleteGroup(delivery.group);
      records.insertGroup(
        {
          name: delivery.group,
          channel: channels.group(delivery.group),
          groupId: groupIdOf(state),
          epoch,
          cursor,
          status: 'active',
          orderer: genesis.orderer,
          orderN: delivery.order,
          orderHash: undefined,
          orderProblem: undefined,
          joinEpoch: epoch,
          admin: genesis.admin,
          pendingHandover: undefined,
        },
        encodeState(state),
      );
      this.#s.directory.markUsed(own.ref);
    });
    this.#s.emit('joined', { group: delivery.group, epoch, after: cursor });
    return delivery.group;
  }

  /** The group's genesis: its channel's first record. */
  async #genesisOf(group: string): Promise<Genesis | undefined> {
    const first = (await this.#s.relay.read(channels.group(group), 0, 1))[0];
    const envelope = first === undefined ? undefined : decodeGroupEnvelope(first.payload);
    return typeof envelope === 'object' && envelope.kind === 'genesis' ? envelope.genesis : undefined;
  }
}
