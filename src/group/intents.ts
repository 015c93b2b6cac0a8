// Turns intents into publishes. An intent says what the user wants (send this text, add
// these uids); each attempt builds the concrete MLS payload for the group's current
// epoch, stores it with its hash and the pending state in one transaction, and only then
// sends it. Sync later settles it by hash. After a crash a stored payload is sent again
// with the same cid, which the node answers with the original seq.

import { randomUUID } from 'node:crypto';
import { ParleyError } from '../client/index.ts';
import { channels } from './channels.ts';
import { identityOf } from './credential.ts';
import type { InstallationOffer } from './directory.ts';
import { encodeApplication, encodeGroupMls, encodeSubmission, encodeWelcomeDelivery } from './envelope.ts';
import { GroupError, type GroupErrorCode } from './errors.ts';
import { COMMIT_KINDS, type IntentData, type IntentKind, type IntentRow, type Member, type Publication } from './group-records.ts';
import { StateConflict } from './group-states.ts';
import { buildCommit, encodeState, encryptApplication, epochOf, leaves, proposeSelfRemoval, type MlsGroupState } from './mls.ts';
import type { Services } from './services.ts';
import { payloadHash } from './sync.ts';

/** Attempts before an intent gives up (each lost race is one). */
export const MAX_ATTEMPTS = 10;

interface Built {
  readonly bytes: Uint8Array;
  /** The group state to keep now (application messages and proposals use up keys). */
  readonly stateNow?: MlsGroupState;
  readonly pendingState?: MlsGroupState;
  readonly welcome?: Uint8Array | undefined;
  readonly welcomeTo?: readonly Member[];
}

export function sendIntentData(text: string): IntentData {
  return { text, msgId: randomUUID(), sentAt: Date.now() };
}

export function intentError(intent: IntentRow): GroupError {
  const [code, ...rest] = (intent.error ?? 'INTENT_FAILED').split(': ');
  return new GroupError(code as GroupErrorCode, rest.join(': ') || undefined, { group: intent.group });
}

export class IntentPublisher {
  readonly #s: Services;

  constructor(services: Services) {
    this.#s = services;
  }

  /** Builds and publishes every TO_PUBLISH intent of the group, one commit at a time. */
  async publishPending(name: string): Promise<void> {
    const { records } = this.#s;
    for (const intent of records.intents(name, 'TO_PUBLISH')) {
      const row = records.group(name);
      if (row?.status !== 'active') return;
      const commitOut = records.intents(name, 'PUBLISHED').some((i) => COMMIT_KINDS.includes(i.kind));
      if (COMMIT_KINDS.includes(intent.kind) && commitOut) continue;
      if (intent.attempts >= MAX_ATTEMPTS) {
        this.#fail(intent, 'INTENT_FAILED', `gave up after ${intent.attempts} attempts`);
        continue;
      }
      const from = this.#s.states.load(name);
      let built: Built | undefined;
      try {
        built = await this.#build(from.state, intent);
      } catch (error) {
        // The relay failing is transient: the intent stays and is tried again. Anything
        // else (no key packages, a key package MLS refuses) will not get better.
        if (error instanceof ParleyError) throw error;
        if (error instanceof GroupError) this.#fail(intent, error.code, error.message);
        else this.#fail(intent, 'INTENT_FAILED', (error as Error).message);
        continue;
      }
      if (built === undefined) {
        // Nothing left to do (e.g. everyone named is already in the group).
        if (records.markCommitted(intent.id, undefined, 'TO_PUBLISH')) this.#s.emit('intent', { group: name, id: intent.id, kind: intent.kind, state: 'COMMITTED' });
        continue;
      }
      // Commits and proposals go to the group's ordering node; messages are read as they come.
      const payload = intent.kind === 'send' ? encodeGroupMls(built.bytes) : encodeSubmission(built.bytes);
      const publication: Publication = {
        cid: `${this.#s.identity.installation}-i${intent.id}-${intent.attempts + 1}`,
        payload,
        hash: payloadHash(payload),
        epoch: Number(epochOf(from.state)),
        pendingState: built.pendingState === undefined ? undefined : encodeState(built.pendingState),
        welcome: built.welcome,
        welcomeTo: built.welcomeTo,
      };
      // The state a message or proposal leaves behind (its ratchet moved on) is saved with
      // the payload, before the payload can be sent: see group-states.ts.
      let stored: boolean;
      try {
        stored = this.#s.local.transaction(() => {
          if (!records.markPublished(intent.id, publication)) return false;
          if (built.stateNow !== undefined) this.#s.states.save(name, from, built.stateNow);
          return true;
        });
      } catch (error) {
        // Another process wrote the state meanwhile: nothing was stored; build again.
        if (error instanceof StateConflict) continue;
        throw error;
      }
      if (!stored) continue;
      this.#s.emit('intent', { group: name, id: intent.id, kind: intent.kind, state: 'PUBLISHED' });
      this.#s.hooks.reached?.('stored-not-sent', { group: name, intent: intent.id });
      await this.#s.relay.publish(row.channel, payload, publication.cid);
      this.#s.hooks.reached?.('sent-not-read', { group: name, intent: intent.id });
    }
  }

  /**
   * Sends again every PUBLISHED payload the channel has not shown yet: after a crash
   * between storing and sending. Call after a sync, so what already landed is settled.
   */
  async resendUnlanded(name: string): Promise<void> {
    const { records } = this.#s;
    const row = records.group(name);
    if (row?.status !== 'active') return;
    for (const intent of records.intents(name, 'PUBLISHED')) {
      if (intent.payload === undefined || intent.cid === undefined) continue;
      if (records.firstSeen(name, payloadHash(intent.payload)) !== undefined) continue;
      await this.#s.relay.publish(row.channel, intent.payload, intent.cid, true);
    }
  }

  /** Delivers the Welcomes of commits that won; never those of commits that lost. */
  async sendWelcomes(name: string): Promise<void> {
    const { records } = this.#s;
    for (const intent of records.pendingWelcomes(name)) {
      if (intent.welcome === undefined || intent.committedSeq === undefined || intent.committedOrder === undefined) continue;
      const orderer = records.group(name)?.orderer ?? '';
      const delivery = encodeWelcomeDelivery({ group: name, node: this.#s.relay.node(), commitSeq: intent.committedSeq, order: intent.committedOrder, orderer, welcome: intent.welcome });
      for (const member of intent.welcomeTo) {
        // `retry`: a crash after some of these went out sends them again on the next run.
        await this.#s.relay.publish(channels.inbox(member.uid, member.installation), delivery, `${this.#s.identity.installation}-w${intent.id}-${name}`, true);
      }
      records.markWelcomesSent(intent.id);
    }
  }

  #fail(intent: IntentRow, code: GroupErrorCode, message: string): void {
    const error = `${code}: ${message}`;
    if (this.#s.records.markError(intent.id, error)) this.#s.emit('intent', { group: intent.group, id: intent.id, kind: intent.kind, state: 'ERROR', error });
  }

  async #build(state: MlsGroupState, intent: IntentRow): Promise<Built | undefined> {
    const { cs } = this.#s;
    const kind: IntentKind = intent.kind;
    switch (kind) {
      case 'send': {
        const { text, msgId, sentAt } = intent.data;
        const result = await encryptApplication(cs, state, encodeApplication({ id: msgId!, text: text!, sentAt: sentAt! }));
        return { bytes: result.message, stateNow: result.state };
      }
      case 'leave': {
        const result = await proposeSelfRemoval(cs, state);
        return { bytes: result.message, stateNow: result.state };
      }
      case 'update': {
        const result = await buildCommit(cs, state, {});
        return { bytes: result.commit, pendingState: result.state };
      }
      case 'remove': {
        const uids = new Set(intent.data.uids ?? []);
        const doomed = leaves(state).filter((l) => uids.has(identityOf(l.credential)?.uid ?? ''));
        if (doomed.length === 0) return undefined;
        const result = await buildCommit(cs, state, { remove: doomed.map((l) => l.leaf) });
        return { bytes: result.commit, pendingState: result.state };
      }
      case 'add': {
        const present = new Set(leaves(state).map((l) => identityOf(l.credential)?.installation));
        const offers: InstallationOffer[] = [];
        for (const uid of intent.data.uids ?? []) offers.push(...(await this.#s.directory.lookup(uid)));
        const fresh = offers.filter((o) => !present.has(o.installation) && o.installation !== this.#s.identity.installation);
        if (fresh.length === 0) return undefined;
        const result = await buildCommit(cs, state, { add: fresh.map((o) => o.keyPackage) });
        return {
          bytes: result.commit,
          pendingState: result.state,
          welcome: result.welcome,
          welcomeTo: fresh.map((o) => ({ uid: o.uid, installation: o.installation })),
        };
      }
    }
  }
}
