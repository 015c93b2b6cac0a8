// The durable Store: SQLite through node:sqlite, in WAL mode. Appends arrive in
// batches (one transaction per event-loop turn), so commit cost is shared; channel
// counters live in memory once loaded and are written back in the same transaction.
//
// Layout, chosen by measurement: messages live in a rowid table, so a batch appends
// to the end of it whatever channels it touches; only the small (channel, seq) index
// takes scattered writes. A unique index on the random message ids, or on random
// client message ids, cost 2-3x in ingest with 1000 busy channels, so neither is
// indexed: recent client ids are kept in memory (reloaded from the newest rows at
// start), and lookups by id, which are rare, scan the channel.
//
// The tables are in sqlite-schema.ts, the row decoding in sqlite-rows.ts. What is left
// (about 470 lines) is one class on purpose: appends, reads and retention share the
// cached counters, vectors and client ids, and the rule that a transaction changes the
// cache only once it has committed; split apart, that rule would have to be kept in
// several places.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { GroupSync } from './group-sync.ts';
import { messageId, NO_PREV } from './message-id.ts';
import { firstMissing, replicaNotStored, replicaPlace } from './origin-vector.ts';
import { RecentIds } from './recent-ids.ts';
import { migrateToCurrent } from './sqlite-schema.ts';
import { chainOf, COLUMNS, fromRangeRow, RANGE_COLUMNS, toMessage, type MessageRow, type RangeRow } from './sqlite-rows.ts';
import { SqliteGuard } from './sqlite-transaction.ts';
import type {
  AppendRequest,
  AppendResult,
  ChannelBounds,
  OriginVector,
  ReadRange,
  RetentionLimits,
  Store,
  StoredMessage,
  ChannelSummary,
  StoreStats,
} from './store.ts';

/** What every channel without a row has: shared, so asking about one keeps nothing. */
const NO_BOUNDS: ChannelBounds = Object.freeze({ first: 1, last: 0 });
const NO_ORIGINS: OriginVector = new Map();
const NO_IDS: ReadonlyMap<string, Uint8Array> = new Map();

/** A message retention removes, with its payload size for the channel's byte counter. */
type Victim = { channel: string; seq: number; size: number };

interface ChannelRow {
  lastSeq: number;
  originSeq: number;
  count: number;
  bytes: number;
  /** The largest payload the channel ever held: an upper bound for reads (see #read). */
  largest: number;
}

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway one. */
  readonly path: string;
  readonly nodeId: string;
  readonly now?: () => number;
  /** fsync every commit (FULL, survives power loss) or only the WAL order (NORMAL, survives crashes). */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * Commit without waiting for the disk, and make commits durable together through
   * `sync` (one fdatasync of the write-ahead log covers every commit before it), which
   * runs off the event loop. Reads see only what is durable. Overrides `synchronous`.
   */
  readonly groupCommit?: boolean;
  /** Client message ids remembered for deduplicating retries without a lookup. */
  readonly recentPublishes?: number;
  /**
   * The most the database may grow to, in bytes (PRAGMA max_page_count): a write past it
   * fails as on a full disk. No limit by default.
   */
  readonly maxBytes?: number;
}

export class SqliteStore implements Store {
  readonly nodeId: string;
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #channels = new Map<string, ChannelRow>();
  /** Origin vectors of the channels touched since start, loaded on first use. */
  readonly #vectors = new Map<string, Map<string, number>>();
  /** With each loaded vector: the id of each origin's newest message (see Store.lastId). */
  readonly #lastIds = new Map<string, Map<string, Uint8Array>>();
  /** (channel, uid, cid) -> seq of recent publishes, bounded. */
  readonly #recent: RecentIds;
  readonly #recentLimit: number;
  readonly #sql: Record<string, StatementSync>;
  /** Prepared range reads, by their SQL (at most 64 shapes of range). */
  readonly #reads = new Map<string, StatementSync>();
  /** Transactions and reads that fail with a StoreError saying why. */
  readonly #guard: SqliteGuard;
  /** With group commit: what is committed but not yet durable, and the syncs that make it so. */
  readonly #groupSync: GroupSync | undefined;
  readonly sync: ((done: (error?: Error) => void) => void) | undefined;
  readonly syncNow: ((channel: string) => void) | undefined;

  constructor(options: SqliteStoreOptions) {
    this.#db = new DatabaseSync(options.path);
    this.#now = options.now ?? Date.now;
    const file = options.path !== ':memory:' && options.path !== '';
    const groupCommit = options.groupCommit === true && file;
    const synchronous = groupCommit ? 'NORMAL' : (options.synchronous ?? 'FULL');
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; PRAGMA busy_timeout = 5000;`);
    migrateToCurrent(this.#db, options.path);
    if (options.maxBytes !== undefined) {
      const { page_size: pageSize } = this.#db.prepare('PRAGMA page_size').get() as { page_size: number };
      this.#db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
    }
    this.nodeId = options.nodeId;
    this.#guard = new SqliteGuard(this.#db, options.path);
    if (groupCommit) {
      const groupSync = new GroupSync(`${options.path}-wal`, (error) => this.#guard.error(error));
      this.#groupSync = groupSync;
      this.sync = (done) => groupSync.sync(done);
      this.syncNow = (channel) => groupSync.syncNow(channel);
    }
    this.#recentLimit = options.recentPublishes ?? 200_000;
    this.#recent = new RecentIds(this.#recentLimit);
    const p = (sql: string) => this.#db.prepare(sql);
    const arrays = (sql: string) => {
      const statement = this.#db.prepare(sql);
      statement.setReturnArrays(true);
      return statement;
    };
    this.#sql = {
      channel: p('SELECT last_seq AS lastSeq, origin_seq AS originSeq, count, bytes, largest FROM channels WHERE channel = ?'),
      saveChannel: p(
        'INSERT INTO channels (channel, last_seq, origin_seq, count, bytes, largest) VALUES (?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (channel) DO UPDATE SET last_seq = excluded.last_seq, origin_seq = excluded.origin_seq, count = excluded.count, bytes = excluded.bytes, largest = excluded.largest',
      ),
      insert: p('INSERT INTO messages (channel, seq, id, ts, origin, origin_seq, uid, binary, cid, payload, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      publish: p('SELECT seq FROM messages WHERE channel = ? AND uid = ? AND cid = ? ORDER BY seq DESC LIMIT 1'),
      recentPublishes: p('SELECT channel, uid, cid, seq FROM messages WHERE cid IS NOT NULL ORDER BY rowid DESC LIMIT ?'),
      bySeq: arrays(`SELECT ${COLUMNS} FROM messages WHERE channel = ? AND seq = ?`),
      idsOf: p('SELECT seq, id FROM messages WHERE channel = ?'),
      first: p('SELECT min(seq) AS first FROM messages WHERE channel = ?'),
      holdsOrigin: p('SELECT 1 FROM messages WHERE channel = ? AND origin = ? LIMIT 1'),
      channels: p('SELECT channel, count, bytes FROM channels'),
      listChannels: p('SELECT channel, count, bytes, last_seq AS last FROM channels WHERE count > 0 AND channel > ? ORDER BY channel LIMIT ?'),
      vector: p('SELECT origin, highest, last_id AS lastId FROM origins WHERE channel = ?'),
      saveOrigin: p(
        'INSERT INTO origins (channel, origin, highest, last_id) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (channel, origin) DO UPDATE SET highest = excluded.highest, last_id = excluded.last_id',
      ),
      newestFirst: arrays('SELECT seq, origin, origin_seq FROM messages WHERE channel = ? ORDER BY seq DESC'),
      totals: p('SELECT count(*) AS channels, coalesce(sum(count), 0) AS messages, coalesce(sum(bytes), 0) AS bytes FROM channels'),
      overCount: p('SELECT channel, count FROM channels WHERE count > ?'),
      overBytes: p('SELECT channel, bytes FROM channels WHERE bytes > ?'),
      oldest: p('SELECT channel, seq, length(payload) AS size FROM messages WHERE channel = ? ORDER BY seq LIMIT ?'),
      expired: p('SELECT channel, seq, length(payload) AS size FROM messages WHERE ts < ? LIMIT ?'),
      remove: p('DELETE FROM messages WHERE channel = ? AND seq = ?'),
    };
    const rows = this.#sql.recentPublishes!.all(this.#recentLimit) as Array<{ channel: string; uid: string; cid: string; seq: number }>;
    for (const row of rows.reverse()) this.#remember(row.channel, row.uid, row.cid, row.seq);
  }

  #remember(channel: string, uid: string, cid: string, seq: number): void {
    this.#recent.set(channel, uid, cid, seq);
  }

  /** The seq an earlier publish with this client id got, if any. */
  #earlier(request: AppendRequest): number | undefined {
    if (request.cid === undefined) return undefined;
    const remembered = this.#recent.get(request.channel, request.uid, request.cid);
    if (remembered !== undefined || !request.retry) return remembered;
    // Older than memory reaches: only a publish marked as a retry pays for the scan.
    return (this.#sql.publish!.get(request.channel, request.uid, request.cid) as { seq: number } | undefined)?.seq;
  }

  /**
   * The counters of a channel that has a row, cached; undefined for one that has none.
   * Only channels that exist are cached: anyone can ask about any name (a query needs
   * no auth without MLES_KEY), and a cache entry per name asked would grow for good.
   */
  #existing(channel: string): ChannelRow | undefined {
    let row = this.#channels.get(channel);
    if (row === undefined) {
      row = this.#sql.channel!.get(channel) as ChannelRow | undefined;
      if (row !== undefined) this.#channels.set(channel, row);
    }
    return row;
  }

  /** The counters of a channel being written to, made (and cached) for a new one. */
  #channel(channel: string): ChannelRow {
    let row = this.#existing(channel);
    if (row === undefined) {
      row = { lastSeq: 0, originSeq: 0, count: 0, bytes: 0, largest: 0 };
      this.#channels.set(channel, row);
    }
    return row;
  }

  /** The channel's origin vector, for reading: a shared empty one for a channel that does not exist. */
  #vector(channel: string): OriginVector {
    return this.#vectors.get(channel) ?? (this.#existing(channel) === undefined ? NO_ORIGINS : this.#loadVector(channel));
  }

  #loadVector(channel: string): Map<string, number> {
    const vector = new Map<string, number>();
    const ids = new Map<string, Uint8Array>();
    for (const row of this.#sql.vector!.all(channel) as Array<{ origin: string; highest: number; lastId: Uint8Array | null }>) {
      vector.set(row.origin, row.highest);
      if (row.lastId !== null) ids.set(row.origin, row.lastId);
    }
    this.#vectors.set(channel, vector);
    this.#lastIds.set(channel, ids);
    return vector;
  }

  /** The newest ids of a channel's origins, loaded with its vector. */
  #ids(channel: string): ReadonlyMap<string, Uint8Array> {
    if (!this.#vectors.has(channel)) {
      if (this.#existing(channel) === undefined) return NO_IDS;
      this.#loadVector(channel);
    }
    return this.#lastIds.get(channel)!;
  }

  lastId(channel: string, origin: string): Uint8Array | undefined {
    return this.#reading(() => this.#ids(channel).get(origin));
  }

  #transaction<T>(work: () => T, apply: (result: T) => void): T {
    return this.#guard.transaction(work, apply);
  }

  #reading<T>(read: () => T): T {
    return this.#guard.reading(read);
  }

  append(requests: readonly AppendRequest[]): AppendResult[] {
    if (requests.length === 0) return [];
    // Client ids go into the remembered ones as they are stored, so a retry later in the
    // batch finds its original; a failed commit takes them out again.
    const remembered: Array<[string, string, string]> = [];
    try {
      return this.#appendBatch(requests, remembered);
    } catch (error) {
      for (const [channel, uid, cid] of remembered) this.#recent.delete(channel, uid, cid);
      throw error;
    }
  }

  #appendBatch(requests: readonly AppendRequest[], remembered: Array<[string, string, string]>): AppendResult[] {
    // What this batch changes, applied to the cached state only once it is committed.
    const rows = new Map<string, ChannelRow>();
    const vectors = new Map<string, { was: ReadonlyMap<string, number>; now: Map<string, number>; ids: Map<string, Uint8Array> }>();
    return this.#transaction(
      () => {
        const results: AppendResult[] = [];
        const now = this.#now();
        for (const request of requests) {
          const replica = request.replica;
          const vector = vectors.get(request.channel)?.now ?? this.#vector(request.channel);
          const place = replica === undefined ? 'own' : replicaPlace(vector, replica, () => this.#sql.holdsOrigin!.get(request.channel, replica.origin) !== undefined);
          if (place === 'held' || place === 'hole') {
            results.push(replicaNotStored(request, replica!, place, vector));
            continue;
          }
          // A client id is looked for in this batch first: a retry can follow its original in it.
          const earlier = replica === undefined ? this.#earlier(request) : undefined;
          if (earlier !== undefined) {
            const row = this.#sql.bySeq!.get(request.channel, earlier) as MessageRow | undefined;
            if (row !== undefined) {
              results.push({ message: toMessage(row), duplicate: true });
              continue;
            }
          }
          let channel = rows.get(request.channel);
          if (channel === undefined) {
            channel = { ...this.#channel(request.channel) };
            rows.set(request.channel, channel);
            vectors.set(request.channel, { was: vector, now: new Map(vector), ids: new Map(this.#ids(request.channel)) });
          }
          const changes = vectors.get(request.channel)!;
          const fields = {
            channel: request.channel,
            seq: channel.lastSeq + 1,
            ts: replica?.ts ?? request.ts ?? now,
            origin: replica?.origin ?? this.nodeId,
            originSeq: replica?.originSeq ?? channel.originSeq + 1,
            uid: request.uid,
            binary: request.binary,
            payload: request.payload,
            prev: replica?.prev ?? changes.ids.get(this.nodeId) ?? NO_PREV,
          };
          const message: StoredMessage = { ...fields, id: replica?.id ?? messageId(fields), seal: replica?.seal };
          this.#sql.insert!.run(
            message.channel,
            message.seq,
            message.id,
            message.ts,
            message.origin,
            message.originSeq,
            message.uid,
            message.binary ? 1 : 0,
            request.cid ?? null,
            message.payload,
            chainOf(fields.prev, replica?.seal),
          );
          if (request.cid !== undefined) {
            this.#recent.set(request.channel, request.uid, request.cid, message.seq);
            remembered.push([request.channel, request.uid, request.cid]);
          }
          channel.lastSeq++;
          if (replica === undefined) channel.originSeq++;
          changes.now.set(message.origin, message.originSeq);
          changes.ids.set(message.origin, message.id);
          channel.count++;
          channel.bytes += message.payload.length;
          if (message.payload.length > channel.largest) channel.largest = message.payload.length;
          results.push({ message, duplicate: false });
        }
        for (const [name, row] of rows) {
          this.#sql.saveChannel!.run(name, row.lastSeq, row.originSeq, row.count, row.bytes, row.largest);
          const { was, now, ids } = vectors.get(name)!;
          for (const [origin, highest] of now) {
            if (was.get(origin) !== highest) this.#sql.saveOrigin!.run(name, origin, highest, ids.get(origin) ?? null);
          }
        }
        return results;
      },
      () => {
        for (const [name, row] of rows) {
          this.#groupSync?.committed(name, this.#channels.get(name)?.lastSeq ?? 0, row.lastSeq);
          this.#channels.set(name, row);
        }
        for (const [name, { now, ids }] of vectors) {
          this.#vectors.set(name, now);
          this.#lastIds.set(name, ids);
        }
      },
    );
  }

  read(channel: string, range: ReadRange): StoredMessage[] {
    return this.#reading(() => this.#read(channel, range));
  }

  #read(channel: string, range: ReadRange): StoredMessage[] {
    const where = ['channel = ?'];
    const args: Array<string | number> = [this.nodeId, channel];
    if (range.after !== undefined) {
      where.push('seq > ?');
      args.push(range.after);
    }
    if (range.before !== undefined) {
      where.push('seq < ?');
      args.push(range.before);
    }
    if (range.since !== undefined) {
      where.push('ts >= ?');
      args.push(range.since);
    }
    if (range.until !== undefined) {
      where.push('ts < ?');
      args.push(range.until);
    }
    const durable = this.#groupSync?.durableLast(channel);
    if (durable !== undefined) {
      where.push('seq <= ?');
      args.push(durable);
    }
    const order = range.descending ? 'DESC' : 'ASC';
    if (range.maxBytes !== undefined && this.#largest(channel) * range.limit > range.maxBytes) {
      // The page could be large: find where the byte budget ends from the payloads'
      // lengths (read without their contents), then read only up to there.
      const sizes = this.#statement(`SELECT seq, length(payload) FROM messages WHERE ${where.join(' AND ')} ORDER BY seq ${order} LIMIT ?`);
      let end: number | undefined;
      let bytes = 0;
      for (const [seq, size] of sizes.all(...args.slice(1), range.limit) as unknown as Array<[number, number]>) {
        end = seq;
        bytes += size;
        if (bytes >= range.maxBytes) break;
      }
      if (end === undefined) return [];
      where.push(range.descending ? 'seq >= ?' : 'seq <= ?');
      args.push(end);
    }
    args.push(range.limit);
    const statement = this.#statement(`SELECT ${RANGE_COLUMNS} FROM messages WHERE ${where.join(' AND ')} ORDER BY seq ${order} LIMIT ?`);
    const rows = statement.all(...args) as unknown as RangeRow[];
    const messages = new Array<StoredMessage>(rows.length);
    for (let i = 0; i < rows.length; i++) messages[i] = fromRangeRow(channel, this.nodeId, rows[i]!);
    return messages;
  }

  /** A prepared range read, by its SQL (a few dozen shapes at most), returning arrays. */
  #statement(sql: string): StatementSync {
    let statement = this.#reads.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      statement.setReturnArrays(true);
      this.#reads.set(sql, statement);
    }
    return statement;
  }

  /**
   * The largest payload a channel holds, or held (an upper bound: retention does not
   * lower it), kept in its row: reads whose limit times it fits their byte budget need
   * no look at the sizes first, which keeps catch-up of small messages at one statement
   * per page.
   */
  #largest(channel: string): number {
    return this.#existing(channel)?.largest ?? 0;
  }

  readByIds(channel: string, ids: readonly Uint8Array[]): StoredMessage[] {
    return this.#reading(() => this.#readByIds(channel, ids));
  }

  #readByIds(channel: string, ids: readonly Uint8Array[]): StoredMessage[] {
    // Ids are not indexed (see the top of this file): one pass over the channel finds
    // them all, however many are asked for, stopping once every one is found.
    const wanted = new Set(ids.map((id) => Buffer.from(id).toString('hex')));
    const seqs: number[] = [];
    for (const row of this.#sql.idsOf!.iterate(channel) as Iterable<{ seq: number; id: Uint8Array }>) {
      if (wanted.delete(Buffer.from(row.id).toString('hex'))) seqs.push(row.seq);
      if (wanted.size === 0) break;
    }
    const durable = this.#groupSync?.durableLast(channel) ?? Infinity;
    return seqs
      .filter((seq) => seq <= durable)
      .sort((a, b) => a - b)
      .map((seq) => toMessage(this.#sql.bySeq!.get(channel, seq) as unknown as MessageRow));
  }

  bounds(channel: string): ChannelBounds {
    return this.#reading(() => this.#bounds(channel));
  }

  #bounds(channel: string): ChannelBounds {
    const row = this.#existing(channel);
    if (row === undefined) return NO_BOUNDS;
    const last = this.#groupSync?.durableLast(channel) ?? row.lastSeq;
    if (row.count === 0) return { first: last + 1, last };
    const first = (this.#sql.first!.get(channel) as { first: number | null }).first;
    return { first: first === null || first > last ? last + 1 : first, last };
  }

  lastAssigned(channel: string): number {
    return this.#reading(() => this.#existing(channel)?.lastSeq ?? 0);
  }

  vector(channel: string): Map<string, number> {
    return this.#reading(() => new Map(this.#vector(channel)));
  }

  firstMissing(channel: string, have: OriginVector): number | undefined {
    return this.#reading(() => this.#firstMissing(channel, have));
  }

  #firstMissing(channel: string, have: OriginVector): number | undefined {
    return firstMissing(this.#vector(channel), have, this.#sql.newestFirst!.iterate(channel) as Iterable<[number, string, number]>);
  }

  /** The messages past the limits, at most about `budget` of them. */
  #victims(limits: RetentionLimits, now: number, budget: number): Victim[] {
    const victims: Victim[] = [];
    if (limits.ageMs > 0) {
      victims.push(...(this.#sql.expired!.all(now - limits.ageMs, budget) as Victim[]));
    }
    if (limits.count > 0 && victims.length < budget) {
      for (const { channel, count } of this.#sql.overCount!.all(limits.count) as Array<{ channel: string; count: number }>) {
        const excess = Math.min(count - limits.count, budget - victims.length);
        if (excess <= 0) break;
        victims.push(...(this.#sql.oldest!.all(channel, excess) as Victim[]));
      }
    }
    if (limits.bytes > 0 && victims.length < budget) {
      for (const { channel, bytes } of this.#sql.overBytes!.all(limits.bytes) as Array<{ channel: string; bytes: number }>) {
        let over = bytes - limits.bytes;
        for (const row of this.#sql.oldest!.all(channel, budget - victims.length) as Victim[]) {
          if (over <= 0) break;
          victims.push(row);
          over -= row.size;
        }
      }
    }
    return victims;
  }

  enforceRetention(limits: RetentionLimits, now: number, budget: number): number {
    const victims = this.#reading(() => this.#victims(limits, now, budget));
    if (victims.length === 0) return 0;
    // The counters change in copies, cached only once the removal is committed.
    const rows = new Map<string, ChannelRow>();
    return this.#transaction(
      () => {
        const removed = new Set<string>();
        for (const victim of victims) {
          const key = `${victim.channel}\0${victim.seq}`;
          if (removed.has(key)) continue; // the same message can be over two limits
          removed.add(key);
          const result = this.#sql.remove!.run(victim.channel, victim.seq);
          if (Number(result.changes) === 0) continue;
          let row = rows.get(victim.channel);
          if (row === undefined) rows.set(victim.channel, (row = { ...this.#channel(victim.channel) }));
          row.count--;
          row.bytes -= victim.size;
        }
        for (const [name, row] of rows) this.#sql.saveChannel!.run(name, row.lastSeq, row.originSeq, row.count, row.bytes, row.largest);
        return removed.size;
      },
      () => {
        for (const [name, row] of rows) this.#channels.set(name, row);
      },
    );
  }

  stats(): StoreStats {
    return this.#reading(() => this.#stats());
  }

  #stats(): StoreStats {
    const { channels, messages, bytes } = this.#sql.totals!.get() as unknown as StoreStats;
    return { channels, messages, bytes };
  }

  channels(after: string | undefined, limit: number): ChannelSummary[] {
    return this.#reading(() =>
      (this.#sql.listChannels!.all(after ?? '', limit) as Array<Record<string, unknown>>).map((row) => ({
        channel: String(row['channel']),
        count: Number(row['count']),
        bytes: Number(row['bytes']),
        last: this.#groupSync?.durableLast(String(row['channel'])) ?? Number(row['last']),
      })),
    );
  }

  close(): void {
    this.#groupSync?.close();
    if (this.#db.isOpen) this.#db.close();
  }
}
