// Each group's decoded MLS state: kept in memory between calls and saved in two parts.
//
// Why: at 100 members a state is ~480 KiB (mostly the secret and ratchet trees of the
// 8 past epochs it keeps), ~30-50 ms to decode and ~5-20 ms to encode and write. Loading
// and saving it for every message sent cost ~90 ms, where the MLS work is ~1 ms.
//
// - In memory: the state stays decoded after a load or a save. Every write of a group's
//   state gives its row a new random `state_token`; a load first reads that token (a tiny
//   query) and decodes again only when another connection (a second process on the same
//   directory) has written since. A token is random, not a counter, so a group deleted
//   and joined again can never match a stale copy.
// - On disk: a message changes one secret-tree node (the sender's ratchet), nothing else
//   (see ratchetChanges in mls.ts). Such a change is saved as that node alone, in
//   `ratchet_nodes`, over the last whole state; anything else (a commit, a proposal, a
//   join) writes the whole state and drops the nodes. A load lays the nodes over the
//   whole state, so what is loaded is always exactly what was last saved.
//
// Crash safety is the same as saving the whole state: the node of our own ratchet,
// advanced past the generation a message used, is written in the transaction that stores
// that message's payload, before the payload can be sent. A crash before that commit
// loses a ciphertext nobody saw; after it, a reload continues after that generation, so
// no key and nonce is ever used twice. Every write is guarded by the token it was built
// from, so two processes cannot both build from one state and both save (which could
// reuse a generation): the second gets StateConflict, rolls back and builds again.
// Forward secrecy at rest is unchanged in practice: the whole-state row may keep an older
// ratchet secret until the next whole save, but the same database already holds every
// message's plaintext, and SQLite keeps overwritten pages anyway (no secure_delete).

import type { ClientConfig } from 'ts-mls';
import { GroupError } from './errors.ts';
import type { GroupRecords } from './group-records.ts';
import type { LocalState } from './local-state.ts';
import { decodeState, encodeState, epochOf, ratchetChanges, withRatchetNodes, type MlsGroupState } from './mls.ts';

/** A state as loaded, with the token of the stored state it was built from. */
export interface LoadedState {
  readonly token: string;
  readonly state: MlsGroupState;
}

/** The group's stored state changed since it was loaded (another process wrote it). */
export class StateConflict extends Error {
  constructor(group: string) {
    super(`the state of group "${group}" changed while it was in use`);
  }
}

export class GroupStates {
  readonly #local: LocalState;
  readonly #records: GroupRecords;
  readonly #config: ClientConfig;
  readonly #memory = new Map<string, LoadedState>();

  constructor(local: LocalState, records: GroupRecords, config: ClientConfig) {
    this.#local = local;
    this.#records = records;
    this.#config = config;
  }

  /** The group's current state: from memory unless another writer changed it since. */
  load(name: string): LoadedState {
    const token = this.#records.stateToken(name);
    if (token === undefined) {
      this.#memory.delete(name);
      throw new GroupError('UNKNOWN_GROUP', `no group "${name}" here`, { group: name });
    }
    const known = this.#memory.get(name);
    if (known?.token === token) return known;
    const saved = this.#records.savedState(name)!;
    const loaded = { token: saved.token, state: withRatchetNodes(decodeState(saved.state, this.#config), saved.nodes) };
    this.#memory.set(name, loaded);
    return loaded;
  }

  /**
   * Saves `next`, built from `from`: only the changed ratchets when that is all that
   * changed, else the whole state. Joins the caller's transaction; memory follows only
   * once it commits. Throws StateConflict when the stored state is no longer `from`.
   */
  save(name: string, from: LoadedState, next: MlsGroupState): void {
    if (next === from.state) return;
    const nodes = ratchetChanges(from.state, next);
    this.#local.transaction(() => {
      const token =
        nodes === undefined
          ? this.#records.writeState(name, from.token, encodeState(next), Number(epochOf(next)))
          : this.#records.writeRatchetNodes(name, from.token, nodes);
      if (token === undefined) throw new StateConflict(name);
      this.#local.afterCommit(() => this.#memory.set(name, { token, state: next }));
    });
  }
}
