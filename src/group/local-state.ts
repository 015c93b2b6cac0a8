// The client's local database (node:sqlite, one file in the client's state directory):
// schema, transactions, this installation's identity, pinned identity keys of others,
// our key packages and small settings. Group rows, intents and messages are in
// group-records.ts over the same connection.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { IdentityPins } from './credential.ts';
import { GroupError } from './errors.ts';
import type { InstallationIdentity } from './identity.ts';

const SCHEMA_VERSION = '3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  uid TEXT NOT NULL,
  installation TEXT NOT NULL,
  identity_key BLOB NOT NULL,
  identity_private BLOB NOT NULL,
  signature_public BLOB NOT NULL,
  signature_private BLOB NOT NULL,
  credential BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pins (
  uid TEXT NOT NULL, installation TEXT NOT NULL, identity_key BLOB NOT NULL,
  PRIMARY KEY (uid, installation)
) STRICT;
CREATE TABLE IF NOT EXISTS key_packages (
  ref BLOB PRIMARY KEY,
  public BLOB NOT NULL,
  private BLOB NOT NULL,
  state TEXT NOT NULL,              -- new | published | used | retired
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS groups (
  name TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  group_id BLOB NOT NULL,
  state BLOB NOT NULL,              -- encoded MLS group state
  epoch INTEGER NOT NULL,
  cursor INTEGER NOT NULL,          -- last channel seq applied
  status TEXT NOT NULL,             -- creating | active | removed | left
  state_token TEXT NOT NULL DEFAULT '',  -- new random value on every write of the state
  orderer TEXT NOT NULL DEFAULT '',      -- node id of the node that orders its commits
  order_n INTEGER NOT NULL DEFAULT 0,    -- number of the last ordered record applied
  order_hash BLOB,                       -- its hash (unknown for the one a Welcome starts at)
  order_problem TEXT,                    -- misbehaviour of the ordering node seen: commits stop
  join_epoch INTEGER NOT NULL DEFAULT 0, -- messages of earlier epochs are not for us
  admin BLOB,                            -- identity key that may hand the ordering role over
  pending_handover BLOB                  -- a handover after a record not applied yet
) STRICT;
-- The hash of every ordered record applied, to tell a replay from a conflicting record.
CREATE TABLE IF NOT EXISTS order_log (
  group_name TEXT NOT NULL, n INTEGER NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (group_name, n)
) STRICT;
-- Application messages of an epoch this member has not reached yet: read once it does.
CREATE TABLE IF NOT EXISTS held (
  group_name TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, payload BLOB NOT NULL,
  PRIMARY KEY (group_name, seq)
) STRICT;
-- Secret-tree nodes changed by messages since the whole state was last written (see
-- group-states.ts); deleted whenever it is written again.
CREATE TABLE IF NOT EXISTS ratchet_nodes (
  group_name TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  node INTEGER NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (group_name, epoch, node)
) STRICT;
CREATE TABLE IF NOT EXISTS intents (
  id INTEGER PRIMARY KEY,
  group_name TEXT NOT NULL,
  kind TEXT NOT NULL,               -- send | add | remove | update | leave
  data TEXT NOT NULL,               -- JSON: what the user asked for
  state TEXT NOT NULL,              -- TO_PUBLISH | PUBLISHED | COMMITTED | ERROR
  attempts INTEGER NOT NULL DEFAULT 0,
  cid TEXT,
  payload BLOB,
  payload_hash BLOB,
  published_epoch INTEGER,
  pending_state BLOB,               -- the group state if our commit wins
  welcome BLOB,
  welcome_to TEXT,                  -- JSON [{uid, installation}]
  welcome_state TEXT NOT NULL DEFAULT 'none',  -- none | pending | sent
  committed_seq INTEGER,
  committed_order INTEGER,          -- number of the ordered record that applied a commit
  error TEXT,
  created_at INTEGER NOT NULL,
  published_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS intents_open ON intents (group_name, state);
CREATE INDEX IF NOT EXISTS intents_by_hash ON intents (payload_hash);
CREATE TABLE IF NOT EXISTS messages (
  group_name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  sender_uid TEXT NOT NULL,
  sender_installation TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  text TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (group_name, seq),
  UNIQUE (group_name, sender_uid, sender_installation, msg_id)
) STRICT;
CREATE TABLE IF NOT EXISTS skipped (
  group_name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  problem TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (group_name, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS seen (
  group_name TEXT NOT NULL, hash BLOB NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (group_name, hash)
) STRICT;
`;

export interface StoredKeyPackage {
  readonly ref: Uint8Array;
  readonly publicBytes: Uint8Array;
  readonly privateBytes: Uint8Array;
  readonly state: 'new' | 'published' | 'used' | 'retired';
}

function blob(value: unknown): Uint8Array {
  return new Uint8Array(value as Uint8Array);
}

export class LocalState implements IdentityPins {
  readonly db: DatabaseSync;
  #depth = 0;
  #afterCommit: Array<() => void> = [];
  readonly #statements = new Map<string, StatementSync>();

  constructor(dataDir: string) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.db = new DatabaseSync(join(dataDir, 'groups.sqlite'));
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
      this.db.exec(SCHEMA);
    } catch (error) {
      throw new GroupError('STATE', `cannot open the group state in ${dataDir}: ${(error as Error).message}`, { cause: error });
    }
    const version = this.getMeta('schema');
    if (version === undefined) this.setMeta('schema', SCHEMA_VERSION);
    else if (version === '1') {
      this.#migrateFrom1();
      this.#migrateFrom2();
    } else if (version === '2') this.#migrateFrom2();
    else if (version !== SCHEMA_VERSION) throw new GroupError('STATE', `group state schema ${version} is not supported`);
  }

  /** Schema 1 had no state token (ratchet_nodes is created by SCHEMA). */
  #migrateFrom1(): void {
    this.transaction(() => {
      this.db.exec("ALTER TABLE groups ADD COLUMN state_token TEXT NOT NULL DEFAULT ''");
      this.setMeta('schema', '2');
    });
  }

  /** Schema 2 had no ordering node (order_log and held are created by SCHEMA). */
  #migrateFrom2(): void {
    this.transaction(() => {
      for (const column of [
        "orderer TEXT NOT NULL DEFAULT ''",
        'order_n INTEGER NOT NULL DEFAULT 0',
        'order_hash BLOB',
        'order_problem TEXT',
        'join_epoch INTEGER NOT NULL DEFAULT 0',
        'admin BLOB',
        'pending_handover BLOB',
      ])
        this.db.exec(`ALTER TABLE groups ADD COLUMN ${column}`);
      this.db.exec('ALTER TABLE intents ADD COLUMN committed_order INTEGER');
      this.db.exec('ALTER TABLE intents ADD COLUMN published_at INTEGER');
      this.setMeta('schema', SCHEMA_VERSION);
    });
  }

  /** Runs fn in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    this.#depth++;
    let committed = false;
    try {
      const result = fn();
      this.db.exec('COMMIT');
      committed = true;
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    } finally {
      this.#depth--;
      const after = this.#afterCommit;
      this.#afterCommit = [];
      if (committed) for (const fn of after) fn();
    }
  }

  /**
   * Runs fn once the current transaction has committed (now, outside one); never when it
   * rolls back. For memory that must only reflect what is in the database.
   */
  afterCommit(fn: () => void): void {
    if (this.#depth > 0) this.#afterCommit.push(fn);
    else fn();
  }

  /** A prepared statement, compiled once per connection (a send runs dozens). */
  prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  getMeta(key: string): string | undefined {
    const row = this.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  identity(): InstallationIdentity | undefined {
    const row = this.prepare('SELECT * FROM identity WHERE id = 1').get() as Record<string, unknown> | undefined;
    if (row === undefined) return undefined;
    return {
      uid: String(row.uid),
      installation: String(row.installation),
      identityKey: blob(row.identity_key),
      identityPrivateKey: blob(row.identity_private),
      signatureKey: { publicKey: blob(row.signature_public), signKey: blob(row.signature_private) },
      credential: { credentialType: 'basic', identity: blob(row.credential) },
    };
  }

  saveIdentity(identity: InstallationIdentity): void {
    if (identity.credential.credentialType !== 'basic') throw new TypeError('basic credentials only');
    this.db
      .prepare(
        'INSERT INTO identity (id, uid, installation, identity_key, identity_private, signature_public, signature_private, credential) VALUES (1, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        identity.uid,
        identity.installation,
        identity.identityKey,
        identity.identityPrivateKey,
        identity.signatureKey.publicKey,
        identity.signatureKey.signKey,
        identity.credential.identity,
      );
    this.pin(identity.uid, identity.installation, identity.identityKey);
  }

  pinned(uid: string, installation: string): Uint8Array | undefined {
    const row = this.prepare('SELECT identity_key FROM pins WHERE uid = ? AND installation = ?').get(uid, installation) as { identity_key: Uint8Array } | undefined;
    return row === undefined ? undefined : blob(row.identity_key);
  }

  pin(uid: string, installation: string, identityKey: Uint8Array): void {
    this.prepare('INSERT OR IGNORE INTO pins (uid, installation, identity_key) VALUES (?, ?, ?)').run(uid, installation, identityKey);
  }

  addKeyPackage(ref: Uint8Array, publicBytes: Uint8Array, privateBytes: Uint8Array): void {
    this.prepare("INSERT INTO key_packages (ref, public, private, state, created_at) VALUES (?, ?, ?, 'new', ?)").run(ref, publicBytes, privateBytes, Date.now());
  }

  keyPackages(state?: StoredKeyPackage['state']): StoredKeyPackage[] {
    const rows = (
      state === undefined
        ? this.prepare('SELECT * FROM key_packages ORDER BY created_at, rowid').all()
        : this.prepare('SELECT * FROM key_packages WHERE state = ? ORDER BY created_at, rowid').all(state)
    ) as Array<Record<string, unknown>>;
    return rows.map((row) => ({ ref: blob(row.ref), publicBytes: blob(row.public), privateBytes: blob(row.private), state: row.state as StoredKeyPackage['state'] }));
  }

  keyPackage(ref: Uint8Array): StoredKeyPackage | undefined {
    const row = this.prepare('SELECT * FROM key_packages WHERE ref = ?').get(ref) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : { ref: blob(row.ref), publicBytes: blob(row.public), privateBytes: blob(row.private), state: row.state as StoredKeyPackage['state'] };
  }

  setKeyPackageState(ref: Uint8Array, state: StoredKeyPackage['state']): void {
    this.prepare('UPDATE key_packages SET state = ? WHERE ref = ?').run(state, ref);
  }
}
