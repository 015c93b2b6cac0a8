// Mles join headers in the node's SQLite database, in a table of their own that this
// keeper makes and migrates (the message store does not know it). It opens its own
// connection to the database file: WAL lets both write, one at a time.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteGuard } from '../store/sqlite-transaction.ts';
import type { RetentionLimits } from '../store/store.ts';
import { MAX_HEADER_BYTES } from './header.ts';
import type { JoinHeader } from './history.ts';
import { headerExpired, type JoinHeaderRecord, type JoinHeaders, type JoinHeadersOptions } from './join-headers.ts';

const TABLE = `
CREATE TABLE IF NOT EXISTS mles_headers (
  n INTEGER PRIMARY KEY,            -- insertion order
  channel TEXT NOT NULL,
  position INTEGER NOT NULL,        -- the channel's last seq when the header was stored
  frame BLOB NOT NULL,
  ts INTEGER NOT NULL DEFAULT 0     -- when it was stored (ms), for --retain-age
) STRICT;
CREATE INDEX IF NOT EXISTS mles_headers_by_channel ON mles_headers (channel, n);
`;

export class SqliteJoinHeaders implements JoinHeaders {
  readonly #db: DatabaseSync;
  readonly #guard: SqliteGuard;
  readonly #perChannel: number;
  readonly #now: () => number;
  readonly #firstSeq: (channel: string) => number;
  readonly #sql: Record<'insert' | 'trim' | 'latest' | 'channels' | 'oldest' | 'remove', StatementSync>;

  constructor(options: JoinHeadersOptions & { readonly path: string; readonly synchronous?: 'FULL' | 'NORMAL' }) {
    this.#db = new DatabaseSync(options.path);
    this.#guard = new SqliteGuard(this.#db, options.path);
    this.#perChannel = options.perChannel ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#firstSeq = options.firstSeq;
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous ?? 'FULL'}; PRAGMA busy_timeout = 5000;`);
    this.#db.exec(TABLE);
    this.#migrate();
    this.#db.exec('CREATE INDEX IF NOT EXISTS mles_headers_by_ts ON mles_headers (ts);');
    const p = (sql: string) => this.#db.prepare(sql);
    this.#sql = {
      insert: p('INSERT INTO mles_headers (channel, position, frame, ts) VALUES (?, ?, ?, ?)'),
      trim: p('DELETE FROM mles_headers WHERE channel = ? AND n <= (SELECT n FROM mles_headers WHERE channel = ? ORDER BY n DESC LIMIT 1 OFFSET ?)'),
      latest: p('SELECT position, frame FROM mles_headers WHERE channel = ? ORDER BY n DESC LIMIT ?'),
      channels: p('SELECT DISTINCT channel FROM mles_headers'),
      oldest: p('SELECT n, position, ts FROM mles_headers WHERE channel = ? ORDER BY n LIMIT ?'),
      remove: p('DELETE FROM mles_headers WHERE n = ?'),
    };
  }

  /**
   * Headers stored before they could age had no time: they count from now. Headers over
   * MAX_HEADER_BYTES were stored before that bound existed (a megabyte one cost every
   * later join that much to read): they go.
   */
  #migrate(): void {
    const columns = this.#db.prepare('PRAGMA table_info(mles_headers)').all() as Array<{ name: string }>;
    const addTime = columns.some((c) => c.name === 'ts') ? '' : 'ALTER TABLE mles_headers ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;';
    this.#guard.transaction(() =>
      this.#db.exec(`${addTime}
        UPDATE mles_headers SET ts = ${Math.trunc(this.#now())} WHERE ts = 0;
        DELETE FROM mles_headers WHERE length(frame) > ${MAX_HEADER_BYTES};`),
    );
  }

  append(headers: readonly JoinHeaderRecord[]): void {
    if (headers.length === 0) return;
    this.#guard.transaction(() => {
      const now = this.#now();
      for (const { channel, position, frame } of headers) this.#sql.insert.run(channel, position, frame, now);
      for (const channel of new Set(headers.map((h) => h.channel))) this.#sql.trim.run(channel, channel, this.#perChannel);
    });
  }

  latest(channel: string, limit: number): JoinHeader[] {
    if (limit <= 0) return [];
    return this.#guard.reading(() => (this.#sql.latest.all(channel, limit) as unknown as JoinHeader[]).reverse());
  }

  enforceRetention(limits: RetentionLimits, now: number, budget: number): number {
    const victims = this.#guard.reading(() => {
      const found: number[] = [];
      for (const { channel } of this.#sql.channels.all() as Array<{ channel: string }>) {
        const first = this.#firstSeq(channel);
        // Oldest first, in position and in time: what goes is a prefix.
        for (const header of this.#sql.oldest.all(channel, budget - found.length) as Array<{ n: number; position: number; ts: number }>) {
          if (!headerExpired(header, first, limits, now)) break;
          found.push(header.n);
        }
        if (found.length >= budget) break;
      }
      return found;
    });
    if (victims.length === 0) return 0;
    return this.#guard.transaction(() => {
      for (const n of victims) this.#sql.remove.run(n);
      return victims.length;
    });
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
