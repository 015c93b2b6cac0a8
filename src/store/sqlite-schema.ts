// The SQLite store's tables, and the migrations from every earlier schema: one place
// that says what the store keeps on disk. Opening a store runs migrateToCurrent once.
// (The same database file also holds the Mles join headers, in a table that the Mles
// side makes and migrates itself: src/mles/sqlite-join-headers.ts.)

import type { DatabaseSync } from 'node:sqlite';

export const SCHEMA_VERSION = 4;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS channels (
  channel TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL,        -- newest seq assigned (never decreases)
  origin_seq INTEGER NOT NULL,      -- newest origin seq this node assigned here
  count INTEGER NOT NULL,           -- messages stored
  bytes INTEGER NOT NULL,           -- payload bytes stored
  largest INTEGER NOT NULL DEFAULT 0 -- largest payload ever stored (retention does not lower it)
) STRICT;
CREATE TABLE IF NOT EXISTS messages (
  channel TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id BLOB NOT NULL,
  ts INTEGER NOT NULL,
  origin TEXT NOT NULL,
  origin_seq INTEGER NOT NULL,
  uid TEXT NOT NULL,
  binary INTEGER NOT NULL,
  cid TEXT,                         -- the publisher's client message id, if it gave one
  payload BLOB NOT NULL,
  chain BLOB                        -- prev id (32 bytes), then the origin's seal if it sealed here; NULL before schema 3
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_seq ON messages (channel, seq);
CREATE INDEX IF NOT EXISTS messages_by_ts ON messages (ts);
CREATE TABLE IF NOT EXISTS origins (  -- each channel's origin vector (see OriginVector)
  channel TEXT NOT NULL,
  origin TEXT NOT NULL,
  highest INTEGER NOT NULL,
  last_id BLOB,                     -- id of the message \`highest\` counts (NULL if unknown)
  PRIMARY KEY (channel, origin)
) STRICT, WITHOUT ROWID;
`;

/** Schema 1 had no origins table: every vector entry is the newest origin seq stored. */
const MIGRATE_1_TO_2 = `
INSERT INTO origins (channel, origin, highest)
  SELECT channel, origin, max(origin_seq) FROM messages GROUP BY channel, origin
  ON CONFLICT (channel, origin) DO UPDATE SET highest = max(highest, excluded.highest);
UPDATE meta SET value = '2' WHERE key = 'schema';
`;

/**
 * Schema 2 had no hash chain: old messages keep a NULL chain (peers are not sent them),
 * and each vector entry learns the id of its newest message where it is still stored,
 * so the origin's next message can chain onto it.
 */
const MIGRATE_2_TO_3 = `
UPDATE origins SET last_id = (
  SELECT id FROM messages m WHERE m.channel = origins.channel AND m.origin = origins.origin AND m.origin_seq = origins.highest
);
UPDATE meta SET value = '3' WHERE key = 'schema';
`;

/**
 * Schema 3 did not keep each channel's largest payload: a read of a channel found it with
 * a scan of the whole channel, which made the first catch-up after a restart slow.
 */
const MIGRATE_3_TO_4 = `
UPDATE channels SET largest = coalesce((SELECT max(length(payload)) FROM messages m WHERE m.channel = channels.channel), 0);
UPDATE meta SET value = '4' WHERE key = 'schema';
`;

/** The columns schemas 3 and 4 added, to tables an older schema made (a table made just now has them). */
function addColumns(db: DatabaseSync): void {
  const has = (table: string, column: string) =>
    (db.prepare(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = ?`).get(column) as unknown) !== undefined;
  if (!has('messages', 'chain')) db.exec('ALTER TABLE messages ADD COLUMN chain BLOB');
  if (!has('origins', 'last_id')) db.exec('ALTER TABLE origins ADD COLUMN last_id BLOB');
  if (!has('channels', 'largest')) db.exec('ALTER TABLE channels ADD COLUMN largest INTEGER NOT NULL DEFAULT 0');
}

/** Makes the tables of a new store, or brings an older one up to SCHEMA_VERSION. */
export function migrateToCurrent(db: DatabaseSync, path: string): void {
  db.exec(SCHEMA);
  const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
  if (version === undefined) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
  } else if (Number(version.value) === 1) {
    db.exec('BEGIN');
    addColumns(db);
    db.exec(`${MIGRATE_1_TO_2} ${MIGRATE_2_TO_3} ${MIGRATE_3_TO_4} COMMIT;`);
  } else if (Number(version.value) === 2) {
    db.exec('BEGIN');
    addColumns(db);
    db.exec(`${MIGRATE_2_TO_3} ${MIGRATE_3_TO_4} COMMIT;`);
  } else if (Number(version.value) === 3) {
    db.exec('BEGIN');
    addColumns(db);
    db.exec(`${MIGRATE_3_TO_4} COMMIT;`);
  } else if (Number(version.value) !== SCHEMA_VERSION) {
    throw new Error(`store ${path} has schema ${version.value}; this parley reads ${SCHEMA_VERSION}`);
  }
}
