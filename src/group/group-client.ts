// GroupClient: end-to-end encrypted groups (MLS) for one installation, on top of the
// client SDK. Every user action is an intent row that is built for the current epoch,
// published, and settled when sync reads it back from the group's channel; a lost race
// rebuilds it for the next epoch. State lives in SQLite in the client's data directory.

import { randomBytes } from 'node:crypto';
import { Emitter } from '../client/events.ts';
import { channels, checkGroupName, checkUid } from './channels.ts';
import { PinnedAuthenticationService } from './credential.ts';
import { KeyPackageDirectory } from './directory.ts';
import { GroupError } from './errors.ts';
import type { GroupEvents } from './events.ts';
import { GroupRecords, type GroupRow, type GroupStatus, type IntentData, type IntentKind, type IntentRow, type IntentState, type Member, type SkippedEnvelope, type StoredMessage } from './group-records.ts';
import { GroupStates } from './group-states.ts';
import { createInstallationIdentity } from './identity.ts';
import { Inbox } from './inbox.ts';
import { intentError, IntentPublisher, MAX_ATTEMPTS, sendIntentData } from './intents.ts';
import { LocalState } from './local-state.ts';
import { clientConfig, createGroupState, createKeyPackage, encodeState, epochOf, loadSuite } from './mls.ts';
import { ParleyRelay, type Relay } from './relay.ts';
import type { GroupHooks, Services } from './services.ts';
import { GroupSync, membersOf, payloadHash } from './sync.ts';
import { encodeHandover } from './envelope.ts';
import { handoverSignedBytes, NO_PREVIOUS } from '../ordering/wire.ts';

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export interface GroupClientOptions {
  /** Your uid on the node. */
  readonly uid: string;
  /** The client's own state directory (identity, groups, messages). */
  readonly dataDir: string;
  /** The node, when no relay is given. */
  readonly url?: string | undefined;
  /** The node's MLES_KEY, if it needs one. */
  readonly key?: string | undefined;
  /** A relay to use instead of connecting to url (tests). */
  readonly relay?: Relay | undefined;
  readonly hooks?: GroupHooks | undefined;
  /**
   * How long add, remove, update and send wait for the group's ordering node to order
   * their commit before they give up waiting with PENDING (the commit stays submitted
   * and is applied when it is ordered). Default 10 s.
   */
  readonly orderWaitMs?: number | undefined;
}

/** An intent not settled yet, and why. */
export interface PendingIntent {
  readonly id: number;
  readonly kind: IntentKind;
  readonly data: IntentData;
  readonly state: IntentState;
  readonly attempts: number;
  /** Epoch its current attempt was built for (PUBLISHED ones). */
  readonly epoch: number | undefined;
  readonly since: number;
  readonly reason: string;
}

/** What `status` reports about a group. */
export interface GroupReport {
  readonly name: string;
  readonly status: GroupStatus;
  readonly epoch: number;
  readonly members: number;
  /** The node that orders the group's commits, and whether it is the node this client uses. */
  readonly orderer: string;
  readonly ordererIsLocal: boolean;
  /** Ordered records applied. */
  readonly ordered: number;
  /** What the ordering node did wrong, if it misbehaved: commits are stopped. */
  readonly orderProblem: string | undefined;
  /** Messages of an epoch not reached yet, waiting for the commit that starts it. */
  readonly held: number;
  readonly pending: readonly PendingIntent[];
}

export class GroupClient extends Emitter<GroupEvents> implements AsyncDisposable {
  readonly #s: Services;
  readonly #sync: GroupSync;
  readonly #intents: IntentPublisher;
  readonly #inbox: Inbox;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #watches: Array<() => void> = [];
  readonly #orderWaitMs: number;
  #initialised = false;
  #closed = false;

  private constructor(services: Omit<Services, 'emit'>, orderWaitMs: number) {
    super();
    this.#orderWaitMs = orderWaitMs;
    this.#s = { ...services, emit: (event, value) => this.emit(event, value) };
    this.#sync = new GroupSync(this.#s);
    this.#intents = new IntentPublisher(this.#s);
    this.#inbox = new Inbox(this.#s);
  }

  /** Opens (or creates) the installation's state; connects unless a relay is given. */
  static async open(options: GroupClientOptions): Promise<GroupClient> {
    checkUid(options.uid);
    const cs = await loadSuite();
    const local = new LocalState(options.dataDir);
    try {
      let identity = local.identity();
      if (identity === undefined) {
        identity = await createInstallationIdentity(cs, options.uid);
        local.saveIdentity(identity);
      } else if (identity.uid !== options.uid) {
        throw new GroupError('STATE', `${options.dataDir} belongs to uid "${identity.uid}", not "${options.uid}"`);
      }
      const config = clientConfig(new PinnedAuthenticationService(cs.signature, local));
      let relay = options.relay;
      if (relay === undefined) {
        if (options.url === undefined) throw new GroupError('STATE', 'a url or a relay is needed');
        relay = await ParleyRelay.connect(options.url, options.uid, options.key);
      }
      const directory = new KeyPackageDirectory(relay, local, cs);
      const records = new GroupRecords(local);
      const states = new GroupStates(local, records, config);
      return new GroupClient({ local, records, states, relay, cs, config, identity, directory, hooks: options.hooks ?? {} }, options.orderWaitMs ?? 10_000);
    } catch (error) {
      local.close();
      throw error;
    }
  }

  get uid(): string {
    return this.#s.identity.uid;
  }

  get installation(): string {
    return this.#s.identity.installation;
  }

  /** Publishes this installation's directory record and key packages (idempotent). */
  async init(): Promise<void> {
    this.#open();
    if (this.#initialised) return;
    await this.#exclusive('\0directory', () => this.#s.directory.publishOwn(this.#s.identity));
    this.#initialised = true;
  }

  async create(name: string): Promise<void> {
    checkGroupName(name);
    await this.init();
    await this.#exclusive(name, async () => {
      if (this.#s.records.group(name) !== undefined) throw new GroupError('GROUP_EXISTS', `group "${name}" already exists here`, { group: name });
      const own = await createKeyPackage(this.#s.cs, this.#s.identity.credential, this.#s.identity.signatureKey);
      const state = await createGroupState(this.#s.cs, new Uint8Array(randomBytes(16)), own, this.#s.config);
      // This client's node orders the group's commits (see docs/groups.md).
      const row = {
        name,
        channel: channels.group(name),
        groupId: state.groupContext.groupId,
        epoch: 0,
        cursor: 0,
        status: 'creating' as const,
        orderer: this.#s.relay.node(),
        orderN: 0,
        orderHash: undefined,
        orderProblem: undefined,
        joinEpoch: 0,
        // The creator may hand the ordering role to another node (docs/groups.md).
        admin: this.#s.identity.identityKey,
        pendingHandover: undefined,
      };
      this.#s.records.insertGroup(row, encodeState(state));
      await this.#sync.sync(name);
    });
  }

  /** Adds every installation of each uid; resolves once the commit is in the group. */
  async add(name: string, uids: readonly string[]): Promise<void> {
    for (const uid of uids) checkUid(uid);
    await this.#run(name, 'add', { uids: [...uids] });
  }

  /** Removes every installation of each uid; first catches up, so a member added meanwhile is known. */
  async remove(name: string, uids: readonly string[]): Promise<void> {
    for (const uid of uids) checkUid(uid);
    await this.sync(name);
    const present = new Set(this.members(name).map((m) => m.uid));
    const missing = uids.filter((u) => !present.has(u));
    if (missing.length > 0) {
      throw new GroupError('UNKNOWN_MEMBER', `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in group "${name}" (members: ${[...present].join(', ')})`, { group: name });
    }
    await this.#run(name, 'remove', { uids: [...uids] });
  }

  /**
   * Hands the ordering of the group's commits to another node, when the ordering node is
   * gone for good. Only the group's admin (its creator) can; the handover takes effect
   * after the last ordered record this client has applied (docs/groups.md).
   */
  async handover(name: string, nodeId: string): Promise<{ afterN: number }> {
    if (!/^[0-9a-f]{32}$/.test(nodeId)) throw new GroupError('BAD_NAME', `a node id is 32 hex digits (parley keys show prints it), not "${nodeId}"`);
    await this.sync(name);
    const row = this.#group(name);
    if (row.admin === undefined || !sameKey(row.admin, this.#s.identity.identityKey)) {
      throw new GroupError('NOT_ADMIN', `only the creator of "${name}" can hand its ordering to another node`, { group: name });
    }
    if (row.orderer === nodeId) throw new GroupError('STATE', `${nodeId} already orders "${name}"`, { group: name });
    if (row.orderN > 0 && row.orderHash === undefined) throw new GroupError('STATE', `the last ordered record of "${name}" is not known here yet: try again after the next change`, { group: name });
    const afterHash = row.orderHash ?? NO_PREVIOUS;
    const signed = handoverSignedBytes(row.groupId, row.orderN, afterHash, nodeId);
    const signature = await this.#s.cs.signature.sign(this.#s.identity.identityPrivateKey, signed);
    const payload = encodeHandover({ groupId: row.groupId, afterN: row.orderN, afterHash, orderer: nodeId, signature });
    await this.#s.relay.publish(row.channel, payload, `${this.#s.identity.installation}-handover-${row.orderN}-${nodeId}`);
    await this.sync(name);
    return { afterN: row.orderN };
  }

  /** A commit with a fresh path: new keys for this member, post-compromise security. */
  async updateKeys(name: string): Promise<void> {
    await this.#run(name, 'update', {});
  }

  /** Sends a message; resolves with it as stored once it is in the group's order. */
  async send(name: string, text: string): Promise<StoredMessage> {
    const intent = await this.#run(name, 'send', sendIntentData(text));
    const stored = this.#s.records.messages(name, intent.committedSeq! - 1)[0];
    if (stored === undefined) throw new GroupError('INTENT_FAILED', 'the message was not stored', { group: name });
    return stored;
  }

  /**
   * Asks the group to remove this installation. Resolves when the request is in the
   * channel; another member commits it (see `removed` with left = true).
   */
  async leave(name: string): Promise<void> {
    await this.#run(name, 'leave', {});
  }

  /** Joins groups from new Welcomes, then brings one group (or all) up to date. */
  async sync(name?: string): Promise<void> {
    await this.init();
    await this.#exclusive('\0inbox', () => this.#inbox.check());
    const names = name === undefined ? this.#s.records.groups().map((g) => g.name) : [name];
    for (const group of names) {
      if (this.#s.records.group(group) === undefined) throw new GroupError('UNKNOWN_GROUP', `no group "${group}" here (no Welcome for it yet)`, { group });
      await this.#exclusive(group, () => this.#cycle(group));
    }
  }

  /** Keeps a group (or, without a name, the inbox and every group) synced as news comes. */
  watch(name?: string): () => void {
    this.#open();
    let running: Promise<void> | undefined;
    let again = false;
    const kick = (): void => {
      if (running !== undefined) {
        again = true;
        return;
      }
      running = this.sync(name)
        .catch((error: unknown) => {
          if (!this.#closed) this.emit('error', error instanceof GroupError ? error : new GroupError('STATE', (error as Error).message, { cause: error }));
        })
        .finally(() => {
          running = undefined;
          if (again && !this.#closed) {
            again = false;
            kick();
          }
        });
    };
    const stops: Array<() => void> = [];
    const { uid, installation } = this.#s.identity;
    stops.push(this.#s.relay.watch(channels.inbox(uid, installation), Number(this.#s.local.getMeta('inbox-cursor') ?? '0'), kick));
    for (const group of this.#s.records.groups()) {
      if (name === undefined || group.name === name) stops.push(this.#s.relay.watch(group.channel, group.cursor, kick));
    }
    kick();
    const stop = (): void => stops.forEach((s) => s());
    this.#watches.push(stop);
    return stop;
  }

  // ---- reading local state ----

  groups(): Array<{ name: string; status: GroupStatus; epoch: number }> {
    return this.#s.records.groups().map((g) => ({ name: g.name, status: g.status, epoch: g.epoch }));
  }

  messages(name: string, after = 0): StoredMessage[] {
    this.#group(name);
    return this.#s.records.messages(name, after);
  }

  members(name: string): Member[] {
    const row = this.#group(name);
    if (row.status === 'removed' || row.status === 'left') return [];
    return membersOf(this.#s.states.load(name).state);
  }

  epoch(name: string): number {
    this.#group(name);
    return Number(epochOf(this.#s.states.load(name).state));
  }

  status(name: string): GroupStatus {
    return this.#group(name).status;
  }

  /** Where the group stands: its ordering node, what it did wrong if anything, and the intents still open and why. */
  report(name: string): GroupReport {
    const row = this.#group(name);
    const open = this.#s.records.openIntents(name);
    const commitOut = open.find((i) => i.state === 'PUBLISHED' && i.kind !== 'send');
    const local = row.orderer === this.#s.relay.node();
    const orderer = `the ordering node ${row.orderer}${local ? ' (this node)' : ''}`;
    const pending = open.map((i): PendingIntent => {
      let reason: string;
      if (row.orderProblem !== undefined && i.kind !== 'send') reason = `commits are stopped: ${row.orderProblem}`;
      else if (i.state === 'PUBLISHED' && i.kind === 'send') reason = 'sent; not yet read back from the node';
      else if (i.state === 'PUBLISHED') reason = `submitted for epoch ${i.publishedEpoch}; waits for ${orderer} to order it${local ? '' : ' (it may be unreachable from this node)'}`;
      else if (commitOut !== undefined && i.kind !== 'send') reason = `waits for intent ${commitOut.id} (${commitOut.kind}) to be ordered first`;
      else if (i.attempts > 0) reason = `lost the race for epoch ${i.publishedEpoch ?? '?'} to another commit; built again on the next sync`;
      else reason = 'not built yet; built on the next sync';
      return { id: i.id, kind: i.kind, data: i.data, state: i.state, attempts: i.attempts, epoch: i.publishedEpoch, since: i.publishedAt ?? i.createdAt, reason };
    });
    const active = row.status === 'active';
    return {
      name,
      status: row.status,
      epoch: row.epoch,
      members: active ? this.members(name).length : 0,
      orderer: row.orderer,
      ordererIsLocal: local,
      ordered: row.orderN,
      orderProblem: row.orderProblem,
      held: this.#s.records.heldCount(name),
      pending,
    };
  }

  skipped(name: string): SkippedEnvelope[] {
    return this.#s.records.skipped(name);
  }

  intent(id: number): IntentRow | undefined {
    return this.#s.records.intent(id);
  }

  // ---- lower level: for tests and tools that drive the steps themselves ----

  /** Records an intent without publishing it. */
  queue(name: string, kind: IntentKind, data: IntentData = {}): number {
    this.#group(name);
    return this.#s.records.addIntent(name, kind, kind === 'send' && data.msgId === undefined ? sendIntentData(data.text ?? '') : data);
  }

  /** Builds and publishes queued intents for the current local epoch, without syncing first. */
  async publishQueued(name: string): Promise<void> {
    await this.#exclusive(name, () => this.#intents.publishPending(name));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#watches.splice(0)) stop();
    await Promise.allSettled([...this.#locks.values()]);
    await this.#s.relay.close();
    this.#s.local.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internals ----

  #open(): void {
    if (this.#closed) throw new GroupError('CLOSED');
  }

  #group(name: string): GroupRow {
    const row = this.#s.records.group(name);
    if (row === undefined) throw new GroupError('UNKNOWN_GROUP', `no group "${name}" here`, { group: name });
    return row;
  }

  /** One sync-publish-sync round: everything that can move, moves. */
  async #cycle(name: string): Promise<void> {
    await this.#sync.sync(name);
    await this.#intents.resendUnlanded(name);
    await this.#intents.publishPending(name);
    await this.#sync.sync(name);
    const after = this.#s.records.group(name);
    if (after !== undefined && after.status === 'active') await this.#sendWelcomes(name);
  }

  async #sendWelcomes(name: string): Promise<void> {
    if (this.#s.records.pendingWelcomes(name).length === 0) return;
    const first = this.#s.records.pendingWelcomes(name)[0]!;
    this.#s.hooks.reached?.('committed-no-welcome', { group: name, intent: first.id });
    await this.#intents.sendWelcomes(name);
  }

  async #run(name: string, kind: IntentKind, data: IntentData): Promise<IntentRow> {
    await this.init();
    if (this.#s.records.group(name) === undefined) await this.#exclusive('\0inbox', () => this.#inbox.check());
    const row = this.#group(name);
    if (row.status !== 'active' && row.status !== 'creating') throw new GroupError('NOT_MEMBER', `not a member of "${name}" any more`, { group: name });
    const id = this.#s.records.addIntent(name, kind, data);
    const deadline = Date.now() + this.#orderWaitMs;
    for (let round = 0; round < MAX_ATTEMPTS * 4; round++) {
      await this.#exclusive(name, () => this.#cycle(name));
      const intent = this.#s.records.intent(id)!;
      if (intent.state === 'COMMITTED') return intent;
      if (intent.state === 'ERROR') throw intentError(intent);
      if (intent.kind === 'leave' && intent.state === 'PUBLISHED' && intent.payload !== undefined && this.#s.records.firstSeen(name, payloadHash(intent.payload)) !== undefined) return intent;
      if (intent.state === 'TO_PUBLISH' && intent.attempts > 0 && round === 0) continue; // lost a race: built again at once
      // Waiting for the ordering node (or for our own message to come back): news on the
      // channel, or the deadline.
      const left = deadline - Date.now();
      const current = this.#s.records.group(name);
      if (left <= 0 || current === undefined) {
        const why = this.report(name).pending.find((p) => p.id === id)?.reason ?? 'not settled';
        throw new GroupError('PENDING', `${kind} (intent ${id}) is not applied yet: ${why}. It stays queued and is applied once ordered; \`parley group status ${name}\` shows it`, { group: name });
      }
      await this.#news(current.channel, current.cursor, left);
    }
    throw new GroupError('INTENT_FAILED', `intent ${id} did not settle`, { group: name });
  }

  /** Resolves when the channel has something after `after`, or after `ms`. */
  #news(channel: string, after: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let stop: (() => void) | undefined;
      const done = (): void => {
        clearTimeout(timer);
        stop?.();
        resolve();
      };
      const timer = setTimeout(done, ms);
      stop = this.#s.relay.watch(channel, after, done);
      // A watch of the channel already running reports only what comes from now on.
      this.#s.relay.read(channel, after, 1).then((page) => {
        if (page.length > 0) done();
      }, done);
    });
  }

  /** Runs fn after every earlier operation on the same key has finished. */
  #exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.#open();
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.#locks.set(key, settled);
    void settled.then(() => {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    });
    return next;
  }
}

