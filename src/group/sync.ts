// Reads a group's channel after its cursor, in channel order, and applies each envelope:
// our own publishes are recognised by payload hash and settle their intents; others'
// commits, proposals and messages go through MLS and the policy. Whatever cannot be
// applied is recorded in `skipped` and passed over, so sync never stops on bad input.
// Each page is saved in one transaction: group state, cursor, messages, intent
// transitions and skipped records together; events are emitted after it commits.

import { createHash } from 'node:crypto';
import { channels } from './channels.ts';
import { identityOf } from './credential.ts';
import { decodeApplication, decodeGroupEnvelope, encodeGenesis } from './envelope.ts';
import { GroupError } from './errors.ts';
import type { GroupEvents } from './events.ts';
import { COMMIT_KINDS, type GroupRow, type IntentRow, type Member } from './group-records.ts';
import { StateConflict } from './group-states.ts';
import {
  adoptPendingCommit,
  canRead,
  decodeState,
  envelopeInfo,
  epochOf,
  isActive,
  leaves,
  ownLeaf,
  processIncoming,
  type Credential,
  type MlsGroupState,
} from './mls.ts';
import { groupPolicy } from './policy.ts';
import { readAll, type RelayMessage } from './relay.ts';
import type { Services } from './services.ts';

export function payloadHash(payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(payload).digest());
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function memberOf(credential: Credential): Member {
  const id = identityOf(credential);
  return id === undefined ? { uid: '?', installation: '?' } : { uid: id.uid, installation: id.installation };
}

export function membersOf(state: MlsGroupState): Member[] {
  return leaves(state).map((l) => memberOf(l.credential));
}

type Emission = { [K in keyof GroupEvents]: { event: K; value: GroupEvents[K] } }[keyof GroupEvents];

/** One page's worth of changes, applied in one transaction. */
class Batch {
  readonly writes: Array<() => void> = [];
  readonly emissions: Emission[] = [];
  readonly hashes = new Set<string>();
  /** Our PUBLISHED intents by payload hash, kept current while the page is applied. */
  readonly published: Map<string, IntentRow>;
  queueUpdate = false;

  constructor(published: IntentRow[]) {
    this.published = new Map(published.filter((i) => i.payload !== undefined).map((i) => [hex(payloadHash(i.payload!)), i]));
  }

  emit<K extends keyof GroupEvents>(event: K, value: GroupEvents[K]): void {
    this.emissions.push({ event, value } as Emission);
  }
}

export class GroupSync {
  readonly #s: Services;

  constructor(services: Services) {
    this.#s = services;
  }

  /** Applies everything the channel has after the group's cursor. */
  async sync(name: string): Promise<void> {
    let row = this.#s.records.group(name);
    if (row === undefined) throw new GroupError('UNKNOWN_GROUP', `no group "${name}" here`, { group: name });
    if (row.status === 'creating') row = await this.#claimChannel(row);
    if (row.status !== 'active') return;
    // Another process writing the same group's state makes a page's save fail (nothing
    // of it is stored); reading again from the stored cursor then picks up its work.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#applyFrom(name, row.channel, row.cursor);
        return;
      } catch (error) {
        if (!(error instanceof StateConflict) || attempt >= 5) throw error;
        const fresh = this.#s.records.group(name);
        if (fresh?.status !== 'active') return;
        row = fresh;
      }
    }
  }

  async #applyFrom(name: string, channel: string, cursor: number): Promise<void> {
    for await (const page of readAll(this.#s.relay, channel, cursor)) {
      const current = this.#s.records.group(name);
      if (current?.status !== 'active') return;
      const fresh = page.filter((m) => m.seq > current.cursor);
      if (fresh.length > 0) await this.#applyPage(current, fresh);
    }
  }

  /** A new group owns its channel once its genesis record is the channel's first message. */
  async #claimChannel(row: GroupRow): Promise<GroupRow> {
    let first = (await this.#s.relay.read(row.channel, 0, 1))[0];
    if (first === undefined) {
      await this.#s.relay.publish(row.channel, encodeGenesis(row.groupId), `${this.#s.identity.installation}-genesis-${hex(row.groupId)}`);
      first = (await this.#s.relay.read(row.channel, 0, 1))[0];
    }
    const envelope = first === undefined ? undefined : decodeGroupEnvelope(first.payload);
    if (envelope?.kind !== 'genesis' || !sameBytes(envelope.groupId, row.groupId)) {
      this.#s.records.deleteGroup(row.name);
      throw new GroupError('GROUP_EXISTS', `the channel of group "${row.name}" belongs to another group`, { group: row.name });
    }
    this.#s.records.setStatus(row.name, 'active');
    return { ...row, status: 'active' };
  }

  async #applyPage(row: GroupRow, page: RelayMessage[]): Promise<void> {
    const { records } = this.#s;
    const batch = new Batch(records.intents(row.name, 'PUBLISHED'));
    const from = this.#s.states.load(row.name);
    let state = from.state;
    let cursor = row.cursor;
    let status = row.status;
    for (const message of page) {
      cursor = message.seq;
      if (status !== 'active') break;
      state = await this.#applyOne(row, state, message, batch);
      if (!isActive(state)) status = [...batch.published.values()].some((i) => i.kind === 'leave') ? 'left' : 'removed';
    }
    const group = row.name;
    this.#s.local.transaction(() => {
      for (const write of batch.writes) write();
      // Only what changed: nothing for a page of our own messages, the ratchets moved
      // for others' messages, the whole state for a commit (see group-states.ts).
      this.#s.states.save(group, from, state);
      records.setCursor(group, cursor);
      if (status !== 'active') {
        records.setStatus(group, status);
        for (const intent of [...records.intents(group, 'TO_PUBLISH'), ...records.intents(group, 'PUBLISHED')]) {
          if (intent.kind === 'leave' && status === 'left') records.markCommitted(intent.id, cursor, intent.state);
          else records.markError(intent.id, 'NOT_MEMBER: no longer a member of the group');
        }
      }
      if (batch.queueUpdate && status === 'active' && !this.#hasOpenCommit(group)) records.addIntent(group, 'update', {});
    });
    for (const { event, value } of batch.emissions) this.#s.emit(event, value as never);
  }

  #hasOpenCommit(group: string): boolean {
    const open = [...this.#s.records.intents(group, 'TO_PUBLISH'), ...this.#s.records.intents(group, 'PUBLISHED')];
    return open.some((i) => COMMIT_KINDS.includes(i.kind));
  }

  async #applyOne(row: GroupRow, state: MlsGroupState, message: RelayMessage, batch: Batch): Promise<MlsGroupState> {
    const group = row.name;
    const { records } = this.#s;
    const skip = (problem: string, detail: string): MlsGroupState => {
      batch.writes.push(() => records.addSkipped({ group, seq: message.seq, problem, detail }));
      batch.emit('skipped', { group, seq: message.seq, problem, detail });
      return state;
    };
    const hash = payloadHash(message.payload);
    const key = hex(hash);
    const firstSeen = batch.hashes.has(key) ? -1 : records.firstSeen(group, hash);
    if (firstSeen !== undefined) return skip('duplicate', `same bytes as seq ${firstSeen === -1 ? 'earlier in this page' : firstSeen}`);
    batch.hashes.add(key);
    batch.writes.push(() => records.markSeen(group, hash, message.seq));

    const envelope = decodeGroupEnvelope(message.payload);
    if (envelope === undefined) return skip('garbage', 'not a group envelope');
    if (envelope.kind === 'genesis') return sameBytes(envelope.groupId, row.groupId) ? state : skip('garbage', 'a second genesis record');

    const ours = batch.published.get(key);
    if (ours !== undefined) return this.#applyOwn(row, state, message, ours, batch, skip);

    const incoming = await processIncoming(this.#s.cs, state, envelope.bytes, groupPolicy);
    switch (incoming.kind) {
      case 'skipped':
        return skip(incoming.problem, incoming.detail);
      case 'application': {
        const content = decodeApplication(incoming.data);
        if (content === undefined) return skip('garbage', 'unreadable application content');
        const sender = memberOf(incoming.sender);
        const epoch = Number(envelopeInfo(envelope.bytes)?.epoch ?? epochOf(state));
        // Past-epoch keys let a message written before a commit be read after it, but
        // not one from a member that commit removed: it is no longer in the group.
        const stillMember = membersOf(incoming.state).some((m) => m.uid === sender.uid && m.installation === sender.installation);
        if (!stillMember) return skip('not-member', `${sender.uid}/${sender.installation} left the group before this message`);
        const stored = { group, seq: message.seq, epoch, sender, msgId: content.id, text: content.text, sentAt: content.sentAt };
        batch.writes.push(() => {
          if (records.addMessage(stored)) return;
          records.addSkipped({ group, seq: message.seq, problem: 'duplicate', detail: `message ${content.id} again` });
        });
        batch.emit('message', stored);
        return incoming.state;
      }
      case 'proposal': {
        // A member asked to leave. The lowest remaining leaf commits it, so one member
        // does rather than all; any other commit carries pending proposals as well.
        const leaving = new Set(incoming.removes);
        const remaining = leaves(incoming.state).map((l) => l.leaf).filter((l) => !leaving.has(l));
        if (remaining[0] === ownLeaf(incoming.state)) batch.queueUpdate = true;
        return incoming.state;
      }
      case 'commit': {
        const oldEpoch = Number(epochOf(state));
        // Our commit or leave request built for this epoch lost: build it again.
        for (const intent of [...batch.published.values()]) {
          if (intent.publishedEpoch !== oldEpoch || intent.kind === 'send') continue;
          if (intent.kind === 'leave' && !isActive(incoming.state)) continue;
          batch.published.delete(hex(payloadHash(intent.payload!)));
          batch.writes.push(() => records.markStale(intent.id));
          batch.emit('intent', { group, id: intent.id, kind: intent.kind, state: 'TO_PUBLISH' });
        }
        this.#membership(group, message.seq, state, incoming.state, memberOf(incoming.sender), batch);
        return incoming.state;
      }
    }
  }

  #applyOwn(
    row: GroupRow,
    state: MlsGroupState,
    message: RelayMessage,
    intent: IntentRow,
    batch: Batch,
    skip: (problem: string, detail: string) => MlsGroupState,
  ): MlsGroupState {
    const group = row.name;
    const { records } = this.#s;
    const epoch = epochOf(state);
    const published = BigInt(intent.publishedEpoch ?? -1);
    const settle = (): void => {
      batch.published.delete(hex(payloadHash(intent.payload!)));
    };
    if (intent.kind === 'send') {
      settle();
      if (!canRead(state, published)) {
        // Nobody can read it any more: the intent builds it again for the current epoch.
        batch.writes.push(() => records.markStale(intent.id));
        batch.emit('intent', { group, id: intent.id, kind: intent.kind, state: 'TO_PUBLISH' });
        return skip('too-old', `own message of epoch ${published}, now ${epoch}: re-sent`);
      }
      const { uid, installation } = this.#s.identity;
      const stored = { group, seq: message.seq, epoch: Number(published), sender: { uid, installation }, msgId: intent.data.msgId!, text: intent.data.text!, sentAt: intent.data.sentAt! };
      batch.writes.push(() => {
        records.markCommitted(intent.id, message.seq);
        records.addMessage(stored);
      });
      batch.emit('message', stored);
      batch.emit('intent', { group, id: intent.id, kind: intent.kind, state: 'COMMITTED' });
      return state;
    }
    if (intent.kind === 'leave') {
      if (published === epoch) return state; // landed; waits for a member to commit it
      settle();
      batch.writes.push(() => records.markStale(intent.id));
      return skip('stale-commit', `own leave request of epoch ${published}`);
    }
    settle();
    if (published !== epoch || intent.pendingState === undefined) {
      batch.writes.push(() => records.markStale(intent.id));
      return skip('stale-commit', `own commit of epoch ${published}, now ${epoch}`);
    }
    const next = adoptPendingCommit(decodeState(intent.pendingState, this.#s.config), state);
    batch.writes.push(() => records.markCommitted(intent.id, message.seq));
    batch.emit('intent', { group, id: intent.id, kind: intent.kind, state: 'COMMITTED' });
    const { uid, installation } = this.#s.identity;
    this.#membership(group, message.seq, state, next, { uid, installation }, batch);
    return next;
  }

  #membership(group: string, seq: number, before: MlsGroupState, after: MlsGroupState, by: Member, batch: Batch): void {
    const key = (m: Member): string => `${m.uid}\0${m.installation}`;
    const was = new Map(membersOf(before).map((m) => [key(m), m]));
    const now = new Map(membersOf(after).map((m) => [key(m), m]));
    const added = [...now.keys()].filter((k) => !was.has(k)).map((k) => now.get(k)!);
    const removed = [...was.keys()].filter((k) => !now.has(k)).map((k) => was.get(k)!);
    if (!isActive(after)) {
      const left = [...batch.published.values()].some((i) => i.kind === 'leave');
      batch.emit('removed', { group, seq, left });
      return;
    }
    batch.emit('membership', { group, seq, epoch: Number(epochOf(after)), by, added, removed });
  }

  /** Channel of a group, for callers that only know its name. */
  static channelOf(name: string): string {
    return channels.group(name);
  }
}
