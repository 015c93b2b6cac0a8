// The SQLite store's tables, and the migrations from every earlier schema: one place
// that says what is on disk. Opening a store runs migrateToCurrent once.

import type { DatabaseSync } from 'node:sqlite';

export const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS channels (
  channel TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL,        -- newest seq assigned (never decreases)
  origin_seq INTEGER NOT NULL,      -- newest origin seq this node assigned here
  count INTEGER NOT NULL,           -- messages stored
  bytes INTEGER NOT NULL            -- payload bytes stored
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
  payload BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_seq ON messages (channel, seq);
CREATE INDEX IF NOT EXISTS messages_by_ts ON messages (ts);
CREATE TABLE IF NOT EXISTS mles_headers (
  n INTEGER PRIMARY KEY,            -- insertion order
  channel TEXT NOT NULL,
  position INTEGER NOT NULL,        -- the channel's last seq when the header was stored
  frame BLOB NOT NULL,
  ts INTEGER NOT NULL DEFAULT 0     -- when it was stored (ms), for --retain-age
) STRICT;
CREATE INDEX IF NOT EXISTS mles_headers_by_channel ON mles_headers (channel, n);
CREATE TABLE IF NOT EXISTS origins (  -- each channel's origin vector (see OriginVector)
  channel TEXT NOT NULL,
  origin TEXT NOT NULL,
  highest INTEGER NOT NULL,
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
 * Mles joins refuse headers over 8 KiB (MAX_HEADER_BYTES in src/mles/header.ts); before
 * that bound any frame size was taken, and a megabyte header cost every later join that
 * much to read. The upgrade drops such headers. (The number is repeated here, not
 * imported: the store sits below the protocols.)
 */
const LARGEST_VALID_HEADER = 8192;

/**
 * Schema 2 kept Mles join headers for good: now they age out with --retain-age, so they
 * need a time. Those already stored count from the upgrade, and those over 8 KiB go. (A
 * store older still may have had the table made by SCHEMA just now, with the column.)
 */
const migrate2To3 = (now: number, hasTs: boolean) => `
${hasTs ? '' : 'ALTER TABLE mles_headers ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;'}
UPDATE mles_headers SET ts = ${Math.trunc(now)} WHERE ts = 0;
DELETE FROM mles_headers WHERE length(frame) > ${LARGEST_VALID_HEADER};
UPDATE meta SET value = '3' WHERE key = 'schema';
`;

/** Made after any migration: the column it covers is new in schema 3. */
const SCHEMA_INDEXES = 'CREATE INDEX IF NOT EXISTS mles_headers_by_ts ON mles_headers (ts);';

/** Makes the tables of a new store, or brings an older one up to SCHEMA_VERSION. */
export function migrateToCurrent(db: DatabaseSync, path: string, now: number): void {
  db.exec(SCHEMA);
  const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
  if (version === undefined) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
  } else if (Number(version.value) === 1 || Number(version.value) === 2) {
    const columns = db.prepare('PRAGMA table_info(mles_headers)').all() as Array<{ name: string }>;
    const toThree = migrate2To3(now, columns.some((c) => c.name === 'ts'));
    const steps = Number(version.value) === 1 ? MIGRATE_1_TO_2 + toThree : toThree;
    db.exec(`BEGIN; ${steps} COMMIT;`);
  } else if (Number(version.value) !== SCHEMA_VERSION) {
    throw new Error(`store ${path} has schema ${version.value}; this parley reads ${SCHEMA_VERSION}`);
  }
  db.exec(SCHEMA_INDEXES);
}
