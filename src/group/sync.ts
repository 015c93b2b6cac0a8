// Reads a group's channel after its cursor, in channel order, and applies each envelope:
// our own publishes are recognised by payload hash and settle their intents; others'
// commits, proposals and messages go through MLS and the policy. Whatever cannot be
// applied is recorded in `skipped` and passed over, so sync never stops on bad input.
// Each page is saved in one transaction: group state, cursor, messages, intent
// transitions and skipped records together; events are emitted after it commits.

import { createHash } from 'node:crypto';
import { channels } from './channels.ts';
import { identityOf } from './credential.ts';
import { decodeApplication, decodeGroupEnvelope, encodeGenesis, encodeGroupMls } from './envelope.ts';
import { orderedHash, submissionContent, verifyHandover, verifyOrdered, type Handover, type OrderedRecord } from '../ordering/wire.ts';
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

type Skip = (problem: string, detail: string) => MlsGroupState;

type Emission = { [K in keyof GroupEvents]: { event: K; value: GroupEvents[K] } }[keyof GroupEvents];

/** One page's worth of changes, applied in one transaction. */
class Batch {
  readonly writes: Array<() => void> = [];
  readonly emissions: Emission[] = [];
  readonly hashes = new Set<string>();
  /** Our PUBLISHED intents by payload hash, kept current while the page is applied. */
  readonly published: Map<string, IntentRow>;
  queueUpdate = false;
  /** The ordered records applied so far: the last one's number and hash, and a problem once seen. */
  order: { n: number; hash: Uint8Array | undefined; problem: string | undefined; orderer: string; pendingHandover: Uint8Array | undefined; handedOver: boolean };
  /** Hashes of the ordered records applied in this page, by number. */
  readonly orderLog = new Map<number, Uint8Array>();
  /** Held messages (future epochs) of this page, and held ones read now. */
  readonly held: Array<{ seq: number; epoch: number; payload: Uint8Array }> = [];
  readonly unheld = new Set<number>();

  constructor(published: IntentRow[], row: GroupRow) {
    this.published = new Map(published.filter((i) => i.payload !== undefined).map((i) => [hex(payloadHash(i.payload!)), i]));
    this.order = { n: row.orderN, hash: row.orderHash, problem: row.orderProblem, orderer: row.orderer, pendingHandover: row.pendingHandover, handedOver: false };
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
      const genesis = encodeGenesis({ groupId: row.groupId, orderer: row.orderer, admin: row.admin ?? this.#s.identity.identityKey });
      await this.#s.relay.publish(row.channel, genesis, `${this.#s.identity.installation}-genesis-${hex(row.groupId)}`);
      first = (await this.#s.relay.read(row.channel, 0, 1))[0];
    }
    const envelope = first === undefined ? undefined : decodeGroupEnvelope(first.payload);
    if (typeof envelope !== 'object' || envelope.kind !== 'genesis' || !sameBytes(envelope.genesis.groupId, row.groupId)) {
      this.#s.records.deleteGroup(row.name);
      throw new GroupError('GROUP_EXISTS', `the channel of group "${row.name}" belongs to another group`, { group: row.name });
    }
    this.#s.records.setStatus(row.name, 'active');
    return { ...row, status: 'active' };
  }

  async #applyPage(row: GroupRow, page: RelayMessage[]): Promise<void> {
    const { records } = this.#s;
    const batch = new Batch(records.intents(row.name, 'PUBLISHED'), row);
    const from = this.#s.states.load(row.name);
    let state = from.state;
    let cursor = row.cursor;
    let status = row.status;
    for (const message of page) {
      cursor = message.seq;
      if (status !== 'active') break;
      const epoch = epochOf(state);
      state = await this.#applyOne(row, state, message, batch);
      if (!isActive(state)) status = [...batch.published.values()].some((i) => i.kind === 'leave') ? 'left' : 'removed';
      else if (epochOf(state) !== epoch) state = await this.#readHeld(row, state, batch);
    }
    const group = row.name;
    this.#s.local.transaction(() => {
      for (const write of batch.writes) write();
      // Only what changed: nothing for a page of our own messages, the ratchets moved
      // for others' messages, the whole state for a commit (see group-states.ts).
      this.#s.states.save(group, from, state);
      records.setCursor(group, cursor);
      for (const [n, hash] of batch.orderLog) records.setOrder(group, n, hash);
      if (batch.order.problem !== undefined) records.setOrderProblem(group, batch.order.problem);
      if (batch.order.handedOver) records.setOrderer(group, batch.order.orderer, batch.order.pendingHandover);
      for (const h of batch.held) if (!batch.unheld.has(h.seq)) records.hold(group, h.seq, h.epoch, h.payload);
      for (const seq of batch.unheld) records.unhold(group, seq);
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
    if (typeof envelope === 'string') return skip('garbage', envelope);
    switch (envelope.kind) {
      case 'genesis':
        return sameBytes(envelope.genesis.groupId, row.groupId) ? state : skip('garbage', 'a second genesis record');
      case 'submission':
        // Applied only once the ordering node has ordered it (an ordered record).
        return state;
      case 'ordered':
        return this.#applyOrdered(row, state, message, envelope.record, batch, skip);
      case 'handover':
        return this.#applyHandover(row, state, message.seq, envelope.handover, message.payload, batch, skip);
      case 'mls':
        return this.#applyMessage(row, state, message.seq, envelope.bytes, key, batch, skip);
    }
  }

  /**
   * The admin handed the ordering role to another node, after record afterN. It takes
   * effect right after that record: before it, it waits; if this member already applied
   * a later record of the old node, following it would fork, so that is reported instead.
   */
  #applyHandover(row: GroupRow, state: MlsGroupState, seq: number, handover: Handover, payload: Uint8Array, batch: Batch, skip: Skip): MlsGroupState {
    const order = batch.order;
    if (!sameBytes(handover.groupId, row.groupId)) return skip('wrong-group', 'a handover of another group');
    if (row.admin === undefined || !verifyHandover(handover, row.admin)) return skip('forged-handover', "not signed by the group's admin");
    if (handover.orderer === order.orderer) return state;
    if (handover.afterN > order.n) {
      order.pendingHandover = payload;
      order.handedOver = true;
      return state;
    }
    const known = handover.afterN === order.n ? order.hash : (batch.orderLog.get(handover.afterN) ?? this.#s.records.orderHash(row.name, handover.afterN));
    if (known !== undefined && !sameBytes(known, handover.afterHash)) {
      return this.#misbehaving(row.name, seq, state, batch, 'order-conflict', `the handover to ${handover.orderer} follows another record ${handover.afterN} than this member applied`);
    }
    if (handover.afterN < order.n && known !== undefined) {
      return this.#misbehaving(row.name, seq, state, batch, 'order-conflict', `the handover to ${handover.orderer} goes back to record ${handover.afterN}; this member applied up to ${order.n}`);
    }
    order.orderer = handover.orderer;
    order.pendingHandover = undefined;
    order.handedOver = true;
    if (handover.afterN === order.n) order.hash = handover.afterHash;
    return state;
  }

  /** An application message, in whatever order this node has it. */
  async #applyMessage(row: GroupRow, state: MlsGroupState, seq: number, bytes: Uint8Array, key: string, batch: Batch, skip: Skip): Promise<MlsGroupState> {
    const group = row.name;
    const { records } = this.#s;
    const info = envelopeInfo(bytes);
    // A commit or proposal counts only in the ordering node's order; outside it, it
    // could make members disagree, so it is never applied.
    if (info !== undefined && info.contentType !== 'application') return skip('unordered', `a ${info.contentType} outside an ordered record`);
    // Messages from before this member joined were never meant for it.
    if (info !== undefined && info.epoch < BigInt(row.joinEpoch)) return state;
    const ours = batch.published.get(key);
    if (ours !== undefined) return this.#applyOwn(row, state, { seq }, ours, batch, skip);
    const incoming = await processIncoming(this.#s.cs, state, bytes, groupPolicy);
    if (incoming.kind === 'skipped') {
      if (incoming.problem === 'future-epoch' && info !== undefined) {
        // Sent after a commit this member has not applied yet (its ordered record can
        // reach this node after the message): read once the member reaches that epoch.
        batch.held.push({ seq, epoch: Number(info.epoch), payload: bytes });
        return state;
      }
      return skip(incoming.problem, incoming.detail);
    }
    if (incoming.kind !== 'application') return skip('unordered', `a ${incoming.kind} outside an ordered record`);
    const content = decodeApplication(incoming.data);
    if (content === undefined) return skip('garbage', 'unreadable application content');
    const sender = memberOf(incoming.sender);
    const epoch = Number(info?.epoch ?? epochOf(state));
    // Past-epoch keys let a message written before a commit be read after it, but
    // not one from a member that commit removed: it is no longer in the group.
    const stillMember = membersOf(incoming.state).some((m) => m.uid === sender.uid && m.installation === sender.installation);
    if (!stillMember) return skip('not-member', `${sender.uid}/${sender.installation} left the group before this message`);
    const stored = { group, seq, epoch, sender, msgId: content.id, text: content.text, sentAt: content.sentAt };
    batch.writes.push(() => {
      if (records.addMessage(stored)) return;
      records.addSkipped({ group, seq, problem: 'duplicate', detail: `message ${content.id} again` });
    });
    batch.emit('message', stored);
    return incoming.state;
  }

  /** Messages held for the epoch the member has now reached. */
  async #readHeld(row: GroupRow, state: MlsGroupState, batch: Batch): Promise<MlsGroupState> {
    const epoch = Number(epochOf(state));
    const stored = this.#s.records.heldUpTo(row.name, epoch);
    const fresh = batch.held.filter((h) => h.epoch <= epoch);
    const due = [...stored, ...fresh].filter((h) => !batch.unheld.has(h.seq)).sort((a, b) => a.seq - b.seq);
    for (const h of due) {
      batch.unheld.add(h.seq);
      const skip = (problem: string, detail: string): MlsGroupState => {
        batch.writes.push(() => this.#s.records.addSkipped({ group: row.name, seq: h.seq, problem, detail }));
        batch.emit('skipped', { group: row.name, seq: h.seq, problem, detail });
        return state;
      };
      state = await this.#applyMessage(row, state, h.seq, h.payload, hex(payloadHash(encodeGroupMls(h.payload))), batch, skip);
    }
    return state;
  }

  /**
   * A record of the ordering node: the next handshake message in the group's one order.
   * Its number must follow the last one applied and its prev must be that one's hash;
   * anything else is the ordering node (or a node between) misbehaving, and is said so.
   */
  async #applyOrdered(row: GroupRow, state: MlsGroupState, message: RelayMessage, record: OrderedRecord, batch: Batch, skip: Skip): Promise<MlsGroupState> {
    const group = row.name;
    const order = batch.order;
    if (!sameBytes(record.groupId, row.groupId)) return skip('wrong-group', 'an ordered record of another group');
    if (!verifyOrdered(record, order.orderer)) return skip('forged-order', `not signed by the group's ordering node ${order.orderer}`);
    const hash = orderedHash(record);
    if (record.n <= order.n) {
      const known = batch.orderLog.get(record.n) ?? this.#s.records.orderHash(group, record.n);
      if (known !== undefined && !sameBytes(known, hash)) return this.#misbehaving(group, message.seq, state, batch, 'order-conflict', `the ordering node signed two different records numbered ${record.n}`);
      // Without a logged hash, the record is from before this member joined.
      return known === undefined ? state : skip('replayed-order', `ordered record ${record.n} again`);
    }
    if (order.problem !== undefined) return skip('order-stalled', `commits stopped: ${order.problem}`);
    if (record.n > order.n + 1) return this.#misbehaving(group, message.seq, state, batch, 'order-gap', `ordered record ${record.n} came before record ${order.n + 1}, which is missing`);
    if (order.hash !== undefined && !sameBytes(record.prev, order.hash)) {
      return this.#misbehaving(group, message.seq, state, batch, 'order-conflict', `ordered record ${record.n} does not follow record ${order.n} as this member applied it`);
    }
    order.n = record.n;
    order.hash = hash;
    batch.orderLog.set(record.n, hash);
    this.#handoverDue(row, state, message.seq, batch);

    const bytes = submissionContent(record.submission)!;
    const ours = batch.published.get(hex(payloadHash(record.submission)));
    if (ours !== undefined) return this.#applyOwn(row, state, { seq: message.seq, order: record.n }, ours, batch, skip);
    const incoming = await processIncoming(this.#s.cs, state, bytes, groupPolicy);
    switch (incoming.kind) {
      case 'skipped':
        return skip(incoming.problem, `ordered record ${record.n}: ${incoming.detail}`);
      case 'application':
        return skip('garbage', `ordered record ${record.n} holds an application message`);
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
          batch.writes.push(() => this.#s.records.markStale(intent.id));
          batch.emit('intent', { group, id: intent.id, kind: intent.kind, state: 'TO_PUBLISH' });
        }
        this.#membership(group, message.seq, state, incoming.state, memberOf(incoming.sender), batch);
        return incoming.state;
      }
    }
  }

  /** A handover that waited for the record just applied takes effect now. */
  #handoverDue(row: GroupRow, state: MlsGroupState, seq: number, batch: Batch): void {
    const pending = batch.order.pendingHandover;
    if (pending === undefined) return;
    const envelope = decodeGroupEnvelope(pending);
    if (typeof envelope !== 'object' || envelope.kind !== 'handover' || envelope.handover.afterN !== batch.order.n) return;
    this.#applyHandover(row, state, seq, envelope.handover, pending, batch, () => state);
  }

  /** The ordering node misbehaved: say so, and apply no more commits (members would disagree). */
  #misbehaving(group: string, seq: number, state: MlsGroupState, batch: Batch, problem: string, detail: string): MlsGroupState {
    if (batch.order.problem === undefined) {
      batch.order.problem = `${problem}: ${detail}`;
      batch.emit('misbehaviour', { group, seq, problem, detail });
    }
    batch.writes.push(() => this.#s.records.addSkipped({ group, seq, problem, detail }));
    batch.emit('skipped', { group, seq, problem, detail });
    return state;
  }

  #applyOwn(row: GroupRow, state: MlsGroupState, message: { seq: number; order?: number }, intent: IntentRow, batch: Batch, skip: Skip): MlsGroupState {
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
    batch.writes.push(() => records.markCommitted(intent.id, message.seq, 'PUBLISHED', message.order));
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
