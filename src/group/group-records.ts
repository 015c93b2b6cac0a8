// Rows about groups in the local database: each group's MLS state and cursor, the intent
// rows (user actions that outlive epochs), the messages read and the envelopes skipped.
// Every intent transition is a guarded UPDATE ... WHERE state = <expected>, so a step
// replayed after a crash cannot move an intent twice.

import { randomUUID } from 'node:crypto';
import type { LocalState } from './local-state.ts';
import type { RatchetNode } from './mls.ts';

export type GroupStatus = 'creating' | 'active' | 'removed' | 'left';
export type IntentKind = 'send' | 'add' | 'remove' | 'update' | 'leave';
export type IntentState = 'TO_PUBLISH' | 'PUBLISHED' | 'COMMITTED' | 'ERROR';
/** Intents that publish a commit: at most one of them is PUBLISHED per group at a time. */
export const COMMIT_KINDS: readonly IntentKind[] = ['add', 'remove', 'update'];

export interface GroupRow {
  readonly name: string;
  readonly channel: string;
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly cursor: number;
  readonly status: GroupStatus;
  /** Node id of the node that orders the group's commits. */
  readonly orderer: string;
  /** Number of the last ordered record applied (0: none yet). */
  readonly orderN: number;
  /** Its hash; undefined for none, or for the record a Welcome starts after. */
  readonly orderHash: Uint8Array | undefined;
  /** What the ordering node did wrong, once seen: commits are no longer applied. */
  readonly orderProblem: string | undefined;
  /** The epoch this member joined at: messages of earlier epochs were never for it. */
  readonly joinEpoch: number;
  /** The identity key that may hand the ordering role to another node (the creator's). */
  readonly admin: Uint8Array | undefined;
  /** A handover read before the record it follows: applied once that record is. */
  readonly pendingHandover: Uint8Array | undefined;
}

/** A group's MLS state as stored: the whole state, and the ratchets changed since. */
export interface SavedState {
  readonly token: string;
  readonly state: Uint8Array;
  readonly nodes: readonly RatchetNode[];
}

export interface Member {
  readonly uid: string;
  readonly installation: string;
}

export interface IntentRow {
  readonly id: number;
  readonly group: string;
  readonly kind: IntentKind;
  readonly data: IntentData;
  readonly state: IntentState;
  readonly attempts: number;
  readonly cid: string | undefined;
  readonly payload: Uint8Array | undefined;
  readonly publishedEpoch: number | undefined;
  readonly pendingState: Uint8Array | undefined;
  readonly welcome: Uint8Array | undefined;
  readonly welcomeTo: readonly Member[];
  readonly welcomeState: 'none' | 'pending' | 'sent';
  readonly committedSeq: number | undefined;
  /** Number of the ordered record that applied the commit. */
  readonly committedOrder: number | undefined;
  readonly error: string | undefined;
  readonly createdAt: number;
  readonly publishedAt: number | undefined;
}

export interface IntentData {
  readonly text?: string;
  readonly msgId?: string;
  readonly sentAt?: number;
  readonly uids?: readonly string[];
}

export interface StoredMessage {
  readonly group: string;
  readonly seq: number;
  readonly epoch: number;
  /** Verified through MLS: the leaf that signed the message, not the relay's word. */
  readonly sender: Member;
  readonly msgId: string;
  readonly text: string;
  readonly sentAt: number;
}

export interface SkippedEnvelope {
  readonly group: string;
  readonly seq: number;
  readonly problem: string;
  readonly detail: string;
}

export interface Publication {
  readonly cid: string;
  readonly payload: Uint8Array;
  readonly hash: Uint8Array;
  readonly epoch: number;
  readonly pendingState?: Uint8Array | undefined;
  readonly welcome?: Uint8Array | undefined;
  readonly welcomeTo?: readonly Member[] | undefined;
}

function blob(value: unknown): Uint8Array | undefined {
  return value === null || value === undefined ? undefined : new Uint8Array(value as Uint8Array);
}

function toGroup(row: Record<string, unknown>): GroupRow {
  return {
    name: String(row.name),
    channel: String(row.channel),
    groupId: blob(row.group_id)!,
    epoch: Number(row.epoch),
    cursor: Number(row.cursor),
    status: row.status as GroupStatus,
    orderer: String(row.orderer),
    orderN: Number(row.order_n),
    orderHash: blob(row.order_hash),
    orderProblem: row.order_problem === null ? undefined : String(row.order_problem),
    joinEpoch: Number(row.join_epoch),
    admin: blob(row.admin),
    pendingHandover: blob(row.pending_handover),
  };
}

const GROUP_COLUMNS = 'name, channel, group_id, epoch, cursor, status, orderer, order_n, order_hash, order_problem, join_epoch, admin, pending_handover';

function toIntent(row: Record<string, unknown>): IntentRow {
  return {
    id: Number(row.id),
    group: String(row.group_name),
    kind: row.kind as IntentKind,
    data: JSON.parse(String(row.data)) as IntentData,
    state: row.state as IntentState,
    attempts: Number(row.attempts),
    cid: row.cid === null ? undefined : String(row.cid),
    payload: blob(row.payload),
    publishedEpoch: row.published_epoch === null ? undefined : Number(row.published_epoch),
    pendingState: blob(row.pending_state),
    welcome: blob(row.welcome),
    welcomeTo: row.welcome_to === null ? [] : (JSON.parse(String(row.welcome_to)) as Member[]),
    welcomeState: row.welcome_state as IntentRow['welcomeState'],
    committedSeq: row.committed_seq === null ? undefined : Number(row.committed_seq),
    committedOrder: row.committed_order === null || row.committed_order === undefined ? undefined : Number(row.committed_order),
    error: row.error === null ? undefined : String(row.error),
    createdAt: Number(row.created_at),
    publishedAt: row.published_at === null || row.published_at === undefined ? undefined : Number(row.published_at),
  };
}

export class GroupRecords {
  readonly #local: LocalState;

  constructor(local: LocalState) {
    this.#local = local;
  }

  // The state blob is left out of group rows: it is large, and read only through
  // savedState when the copy in memory is out of date (group-states.ts).
  group(name: string): GroupRow | undefined {
    const row = this.#local.prepare(`SELECT ${GROUP_COLUMNS} FROM groups WHERE name = ?`).get(name) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toGroup(row);
  }

  groups(): GroupRow[] {
    return (this.#local.prepare(`SELECT ${GROUP_COLUMNS} FROM groups ORDER BY name`).all() as Array<Record<string, unknown>>).map(toGroup);
  }

  insertGroup(row: GroupRow, state: Uint8Array): void {
    this.#local.prepare('DELETE FROM ratchet_nodes WHERE group_name = ?').run(row.name);
    this.#local.prepare('DELETE FROM order_log WHERE group_name = ?').run(row.name);
    this.#local.prepare('DELETE FROM held WHERE group_name = ?').run(row.name);
    this.#local
      .prepare(
        `INSERT INTO groups (name, channel, group_id, state, epoch, cursor, status, state_token, orderer, order_n, order_hash, order_problem, join_epoch, admin, pending_handover)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        row.name,
        row.channel,
        row.groupId,
        state,
        row.epoch,
        row.cursor,
        row.status,
        randomUUID(),
        row.orderer,
        row.orderN,
        row.orderHash ?? null,
        row.orderProblem ?? null,
        row.joinEpoch,
        row.admin ?? null,
        row.pendingHandover ?? null,
      );
  }

  deleteGroup(name: string): void {
    this.#local.prepare('DELETE FROM groups WHERE name = ?').run(name);
    this.#local.prepare('DELETE FROM ratchet_nodes WHERE group_name = ?').run(name);
    this.#local.prepare('DELETE FROM order_log WHERE group_name = ?').run(name);
    this.#local.prepare('DELETE FROM held WHERE group_name = ?').run(name);
  }

  /** The last ordered record applied: its number and hash, logged to tell replays from conflicts. */
  setOrder(name: string, n: number, hash: Uint8Array): void {
    this.#local.prepare('UPDATE groups SET order_n = ?, order_hash = ? WHERE name = ? AND order_n < ?').run(n, hash, name, n);
    this.#local.prepare('INSERT OR IGNORE INTO order_log (group_name, n, hash) VALUES (?, ?, ?)').run(name, n, hash);
  }

  /** A handover took effect (or waits, as `pending`). */
  setOrderer(name: string, orderer: string, pending: Uint8Array | undefined): void {
    this.#local.prepare('UPDATE groups SET orderer = ?, pending_handover = ? WHERE name = ?').run(orderer, pending ?? null, name);
  }

  orderHash(name: string, n: number): Uint8Array | undefined {
    const row = this.#local.prepare('SELECT hash FROM order_log WHERE group_name = ? AND n = ?').get(name, n) as { hash: Uint8Array } | undefined;
    return blob(row?.hash);
  }

  setOrderProblem(name: string, problem: string): void {
    this.#local.prepare('UPDATE groups SET order_problem = ? WHERE name = ? AND order_problem IS NULL').run(problem, name);
  }

  hold(name: string, seq: number, epoch: number, payload: Uint8Array): void {
    this.#local.prepare('INSERT OR IGNORE INTO held (group_name, seq, epoch, payload) VALUES (?, ?, ?, ?)').run(name, seq, epoch, payload);
  }

  /** Held messages of epochs up to `epoch`, in channel order. */
  heldUpTo(name: string, epoch: number): Array<{ seq: number; payload: Uint8Array }> {
    const rows = this.#local.prepare('SELECT seq, payload FROM held WHERE group_name = ? AND epoch <= ? ORDER BY seq').all(name, epoch) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ seq: Number(r.seq), payload: blob(r.payload)! }));
  }

  unhold(name: string, seq: number): void {
    this.#local.prepare('DELETE FROM held WHERE group_name = ? AND seq = ?').run(name, seq);
  }

  heldCount(name: string): number {
    return Number((this.#local.prepare('SELECT count(*) AS n FROM held WHERE group_name = ?').get(name) as { n: number }).n);
  }

  /** The token that changes with every write of the group's state. */
  stateToken(name: string): string | undefined {
    const row = this.#local.prepare('SELECT state_token FROM groups WHERE name = ?').get(name) as { state_token: string } | undefined;
    return row?.state_token;
  }

  savedState(name: string): SavedState | undefined {
    const row = this.#local.prepare('SELECT state, state_token FROM groups WHERE name = ?').get(name) as { state: Uint8Array; state_token: string } | undefined;
    if (row === undefined) return undefined;
    const nodes = (this.#local.prepare('SELECT epoch, node, value FROM ratchet_nodes WHERE group_name = ? ORDER BY epoch, node').all(name) as Array<Record<string, unknown>>).map(
      (n) => ({ epoch: BigInt(Number(n.epoch)), node: Number(n.node), bytes: blob(n.value)! }),
    );
    return { token: row.state_token, state: blob(row.state)!, nodes };
  }

  /**
   * Replaces the whole state (and drops the ratchets saved since) if it is still the one
   * with `token`; returns the new token, or undefined when another writer came first.
   */
  writeState(name: string, token: string, state: Uint8Array, epoch: number): string | undefined {
    const next = randomUUID();
    const result = this.#local.prepare('UPDATE groups SET state = ?, epoch = ?, state_token = ? WHERE name = ? AND state_token = ?').run(state, epoch, next, name, token);
    if (result.changes !== 1) return undefined;
    this.#local.prepare('DELETE FROM ratchet_nodes WHERE group_name = ?').run(name);
    return next;
  }

  /** Saves changed ratchets over the stored state, if it is still the one with `token`. */
  writeRatchetNodes(name: string, token: string, nodes: readonly RatchetNode[]): string | undefined {
    const next = randomUUID();
    const result = this.#local.prepare('UPDATE groups SET state_token = ? WHERE name = ? AND state_token = ?').run(next, name, token);
    if (result.changes !== 1) return undefined;
    const upsert = this.#local.prepare('INSERT INTO ratchet_nodes (group_name, epoch, node, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value');
    for (const n of nodes) upsert.run(name, n.epoch, n.node, n.bytes);
    return next;
  }

  setCursor(name: string, cursor: number): void {
    this.#local.prepare('UPDATE groups SET cursor = ? WHERE name = ? AND cursor < ?').run(cursor, name, cursor);
  }

  setStatus(name: string, status: GroupStatus): void {
    this.#local.prepare('UPDATE groups SET status = ? WHERE name = ?').run(status, name);
  }

  addIntent(group: string, kind: IntentKind, data: IntentData): number {
    const result = this.#local
      .prepare("INSERT INTO intents (group_name, kind, data, state, created_at) VALUES (?, ?, ?, 'TO_PUBLISH', ?)")
      .run(group, kind, JSON.stringify(data), Date.now());
    return Number(result.lastInsertRowid);
  }

  intent(id: number): IntentRow | undefined {
    const row = this.#local.prepare('SELECT * FROM intents WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toIntent(row);
  }

  /** Intents not settled yet (TO_PUBLISH or PUBLISHED), oldest first. */
  openIntents(group: string): IntentRow[] {
    return (
      this.#local.prepare("SELECT * FROM intents WHERE group_name = ? AND state IN ('TO_PUBLISH', 'PUBLISHED') ORDER BY id").all(group) as Array<Record<string, unknown>>
    ).map(toIntent);
  }

  intents(group: string, state: IntentState): IntentRow[] {
    return (this.#local.prepare('SELECT * FROM intents WHERE group_name = ? AND state = ? ORDER BY id').all(group, state) as Array<Record<string, unknown>>).map(toIntent);
  }

  intentByHash(group: string, hash: Uint8Array): IntentRow | undefined {
    const row = this.#local.prepare('SELECT * FROM intents WHERE group_name = ? AND payload_hash = ?').get(group, hash) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toIntent(row);
  }

  /** TO_PUBLISH -> PUBLISHED with what was built for this epoch. */
  markPublished(id: number, publication: Publication): boolean {
    const result = this.#local
      .prepare(
        `UPDATE intents SET state = 'PUBLISHED', attempts = attempts + 1, cid = ?, payload = ?, payload_hash = ?, published_epoch = ?,
           pending_state = ?, welcome = ?, welcome_to = ?, published_at = ? WHERE id = ? AND state = 'TO_PUBLISH'`,
      )
      .run(
        publication.cid,
        publication.payload,
        publication.hash,
        publication.epoch,
        publication.pendingState ?? null,
        publication.welcome ?? null,
        publication.welcomeTo === undefined ? null : JSON.stringify(publication.welcomeTo),
        Date.now(),
        id,
      );
    return result.changes === 1;
  }

  /** PUBLISHED -> TO_PUBLISH: the epoch it was built for is over; build it again. */
  markStale(id: number): boolean {
    const result = this.#local
      .prepare(
        `UPDATE intents SET state = 'TO_PUBLISH', payload = NULL, payload_hash = NULL, pending_state = NULL, welcome = NULL, welcome_to = NULL
           WHERE id = ? AND state = 'PUBLISHED'`,
      )
      .run(id);
    return result.changes === 1;
  }

  /** PUBLISHED (or TO_PUBLISH for a no-op) -> COMMITTED. */
  markCommitted(id: number, seq: number | undefined, from: IntentState = 'PUBLISHED', order?: number): boolean {
    const result = this.#local
      .prepare(
        `UPDATE intents SET state = 'COMMITTED', committed_seq = ?, committed_order = ?, pending_state = NULL,
           welcome_state = CASE WHEN welcome IS NULL THEN 'none' ELSE 'pending' END WHERE id = ? AND state = ?`,
      )
      .run(seq ?? null, order ?? null, id, from);
    return result.changes === 1;
  }

  markError(id: number, error: string): boolean {
    const result = this.#local
      .prepare("UPDATE intents SET state = 'ERROR', error = ?, pending_state = NULL WHERE id = ? AND state IN ('TO_PUBLISH', 'PUBLISHED')")
      .run(error, id);
    return result.changes === 1;
  }

  pendingWelcomes(group: string): IntentRow[] {
    return (
      this.#local.prepare("SELECT * FROM intents WHERE group_name = ? AND welcome_state = 'pending' ORDER BY id").all(group) as Array<Record<string, unknown>>
    ).map(toIntent);
  }

  markWelcomesSent(id: number): void {
    this.#local.prepare("UPDATE intents SET welcome_state = 'sent', welcome = NULL WHERE id = ? AND welcome_state = 'pending'").run(id);
  }

  /** Stores a message; false when (sender, msgId) was already stored: a re-send. */
  addMessage(message: StoredMessage): boolean {
    const result = this.#local
      .prepare(
        'INSERT OR IGNORE INTO messages (group_name, seq, epoch, sender_uid, sender_installation, msg_id, text, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(message.group, message.seq, message.epoch, message.sender.uid, message.sender.installation, message.msgId, message.text, message.sentAt);
    return result.changes === 1;
  }

  messages(group: string, after = 0): StoredMessage[] {
    const rows = this.#local.prepare('SELECT * FROM messages WHERE group_name = ? AND seq > ? ORDER BY seq').all(group, after) as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      group,
      seq: Number(row.seq),
      epoch: Number(row.epoch),
      sender: { uid: String(row.sender_uid), installation: String(row.sender_installation) },
      msgId: String(row.msg_id),
      text: String(row.text),
      sentAt: Number(row.sent_at),
    }));
  }

  addSkipped(entry: SkippedEnvelope): void {
    this.#local.prepare('INSERT OR IGNORE INTO skipped (group_name, seq, problem, detail) VALUES (?, ?, ?, ?)').run(entry.group, entry.seq, entry.problem, entry.detail);
  }

  skipped(group: string): SkippedEnvelope[] {
    const rows = this.#local.prepare('SELECT * FROM skipped WHERE group_name = ? ORDER BY seq').all(group) as Array<Record<string, unknown>>;
    return rows.map((row) => ({ group, seq: Number(row.seq), problem: String(row.problem), detail: String(row.detail) }));
  }

  /** The seq an envelope with this hash was first applied at, if any. */
  firstSeen(group: string, hash: Uint8Array): number | undefined {
    const row = this.#local.prepare('SELECT seq FROM seen WHERE group_name = ? AND hash = ?').get(group, hash) as { seq: number } | undefined;
    return row === undefined ? undefined : Number(row.seq);
  }

  markSeen(group: string, hash: Uint8Array, seq: number): void {
    this.#local.prepare('INSERT OR IGNORE INTO seen (group_name, hash, seq) VALUES (?, ?, ?)').run(group, hash, seq);
  }
}
