// What the gateway keeps beside the rooms, in its own SQLite file (matrix.db in the data
// directory; in memory with --memory): accounts, devices and their access tokens, sent
// transaction ids, filters, account data, and the stream positions /sync counts in.
// Room events themselves live in the node's Store, in the rooms' channels.

import { DatabaseSync } from 'node:sqlite';
import { KEY_SCHEMA } from './key-store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, password TEXT, guest INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (user_id TEXT PRIMARY KEY, displayname TEXT, avatar_url TEXT);
CREATE TABLE IF NOT EXISTS devices (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, display_name TEXT, last_seen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS devices_by_user ON devices (user_id, device_id);
CREATE TABLE IF NOT EXISTS txns (user_id TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (user_id, device_id, txn_id));
CREATE TABLE IF NOT EXISTS filters (filter_id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_data (user_id TEXT NOT NULL, room_id TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL, pos INTEGER NOT NULL, PRIMARY KEY (user_id, room_id, type));
CREATE TABLE IF NOT EXISTS stream (pos INTEGER PRIMARY KEY, channel TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS stream_by_channel ON stream (channel, seq);
`;

export interface Device {
  readonly userId: string;
  readonly deviceId: string;
  readonly displayName: string | null;
  readonly lastSeen: number;
}

export interface AccountDataEntry {
  readonly roomId: string;
  readonly type: string;
  readonly content: Record<string, unknown>;
  readonly pos: number;
}

export class AccountStore {
  readonly #db: DatabaseSync;
  #lastPos: number;
  /** Each user's newest account data position: most syncs have nothing new to ask the database for. */
  readonly #newestData = new Map<string, number>();
  /** Devices by access token: every request looks its token up, every long-poll again and again. */
  readonly #byToken = new Map<string, Device>();
  /** Stored filters by user and id (a filter never changes): every long-poll names its filter. */
  readonly #filters = new Map<string, string>();

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.#db.exec(SCHEMA);
    // The key store's tables too: the stream counter below counts their positions.
    this.#db.exec(KEY_SCHEMA);
    const row = this.#db
      .prepare('SELECT max(pos) AS pos FROM (SELECT max(pos) AS pos FROM stream UNION ALL SELECT max(pos) FROM account_data UNION ALL SELECT max(pos) FROM device_changes UNION ALL SELECT max(pos) FROM to_device)')
      .get() as { pos: number | null };
    this.#lastPos = row.pos ?? 0;
    const newest = this.#db.prepare('SELECT user_id, max(pos) AS pos FROM account_data GROUP BY user_id').all() as Array<{ user_id: string; pos: number }>;
    for (const { user_id, pos } of newest) this.#newestData.set(user_id, pos);
  }

  /** Hands out the next stream position (device keys and to-device messages count in it too). */
  takePos(): number {
    return ++this.#lastPos;
  }

  /** The newest stream position handed out. */
  lastPos(): number {
    return this.#lastPos;
  }

  userExists(userId: string): boolean {
    return this.#db.prepare('SELECT 1 FROM users WHERE user_id = ?').get(userId) !== undefined;
  }

  /** False when the user id is taken. */
  createUser(userId: string, passwordHash: string | null, guest: boolean, now: number): boolean {
    const result = this.#db.prepare('INSERT OR IGNORE INTO users (user_id, password, guest, created) VALUES (?, ?, ?, ?)').run(userId, passwordHash, guest ? 1 : 0, now);
    return result.changes === 1;
  }

  passwordHash(userId: string): string | null | undefined {
    const row = this.#db.prepare('SELECT password FROM users WHERE user_id = ?').get(userId) as { password: string | null } | undefined;
    return row === undefined ? undefined : row.password;
  }

  isGuest(userId: string): boolean {
    const row = this.#db.prepare('SELECT guest FROM users WHERE user_id = ?').get(userId) as { guest: number } | undefined;
    return row?.guest === 1;
  }

  addDevice(token: string, userId: string, deviceId: string, displayName: string | null, now: number): void {
    this.#byToken.clear();
    // A device logging in again replaces its old token.
    this.#db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id = ?').run(userId, deviceId);
    this.#db.prepare('INSERT INTO devices (token, user_id, device_id, display_name, last_seen) VALUES (?, ?, ?, ?, ?)').run(token, userId, deviceId, displayName, now);
  }

  deviceOf(token: string): Device | undefined {
    const known = this.#byToken.get(token);
    if (known !== undefined) return known;
    const row = this.#db.prepare('SELECT user_id, device_id, display_name, last_seen FROM devices WHERE token = ?').get(token) as
      | { user_id: string; device_id: string; display_name: string | null; last_seen: number }
      | undefined;
    if (row === undefined) return undefined;
    const device = { userId: row.user_id, deviceId: row.device_id, displayName: row.display_name, lastSeen: row.last_seen };
    if (this.#byToken.size > 100_000) this.#byToken.clear();
    this.#byToken.set(token, device);
    return device;
  }

  devices(userId: string): Device[] {
    const rows = this.#db.prepare('SELECT user_id, device_id, display_name, last_seen FROM devices WHERE user_id = ? ORDER BY device_id').all(userId) as Array<{
      user_id: string;
      device_id: string;
      display_name: string | null;
      last_seen: number;
    }>;
    return rows.map((row) => ({ userId: row.user_id, deviceId: row.device_id, displayName: row.display_name, lastSeen: row.last_seen }));
  }

  removeDevice(userId: string, deviceId: string): boolean {
    this.#byToken.clear();
    return this.#db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id = ?').run(userId, deviceId).changes > 0;
  }

  removeAllTokens(userId: string): void {
    this.#byToken.clear();
    this.#db.prepare('DELETE FROM devices WHERE user_id = ?').run(userId);
  }

  renameDevice(userId: string, deviceId: string, displayName: string): boolean {
    this.#byToken.clear();
    return this.#db.prepare('UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?').run(displayName, userId, deviceId).changes > 0;
  }

  sentEvent(userId: string, deviceId: string, txnId: string): string | undefined {
    const row = this.#db.prepare('SELECT event_id FROM txns WHERE user_id = ? AND device_id = ? AND txn_id = ?').get(userId, deviceId, txnId) as { event_id: string } | undefined;
    return row?.event_id;
  }

  rememberSent(userId: string, deviceId: string, txnId: string, eventId: string): void {
    this.#db.prepare('INSERT OR IGNORE INTO txns (user_id, device_id, txn_id, event_id) VALUES (?, ?, ?, ?)').run(userId, deviceId, txnId, eventId);
  }

  addFilter(userId: string, json: string): string {
    const result = this.#db.prepare('INSERT INTO filters (user_id, json) VALUES (?, ?)').run(userId, json);
    return String(result.lastInsertRowid);
  }

  filter(userId: string, filterId: string): string | undefined {
    if (!/^\d{1,15}$/.test(filterId)) return undefined;
    const key = `${userId} ${filterId}`;
    const known = this.#filters.get(key);
    if (known !== undefined) return known;
    const row = this.#db.prepare('SELECT json FROM filters WHERE user_id = ? AND filter_id = ?').get(userId, Number(filterId)) as { json: string } | undefined;
    if (row === undefined) return undefined;
    if (this.#filters.size > 100_000) this.#filters.clear();
    this.#filters.set(key, row.json);
    return row.json;
  }

  profile(userId: string): { displayname: string | null; avatar_url: string | null } | undefined {
    const row = this.#db.prepare('SELECT displayname, avatar_url FROM profiles WHERE user_id = ?').get(userId) as { displayname: string | null; avatar_url: string | null } | undefined;
    return row;
  }

  setProfile(userId: string, field: 'displayname' | 'avatar_url', value: string | null): void {
    this.#db.prepare('INSERT OR IGNORE INTO profiles (user_id) VALUES (?)').run(userId);
    this.#db.prepare(`UPDATE profiles SET ${field} = ? WHERE user_id = ?`).run(value, userId);
  }

  setAccountData(userId: string, roomId: string, type: string, content: Record<string, unknown>): number {
    const pos = ++this.#lastPos;
    this.#db
      .prepare('INSERT INTO account_data (user_id, room_id, type, content, pos) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, pos = excluded.pos')
      .run(userId, roomId, type, JSON.stringify(content), pos);
    this.#newestData.set(userId, pos);
    return pos;
  }

  accountData(userId: string, roomId: string, type: string): Record<string, unknown> | undefined {
    const row = this.#db.prepare('SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?').get(userId, roomId, type) as { content: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.content) as Record<string, unknown>);
  }

  /** The user's account data changed after `pos` (all of it for 0). */
  accountDataSince(userId: string, pos: number): AccountDataEntry[] {
    if ((this.#newestData.get(userId) ?? 0) <= pos) return [];
    const rows = this.#db.prepare('SELECT room_id, type, content, pos FROM account_data WHERE user_id = ? AND pos > ? ORDER BY pos').all(userId, pos) as Array<{
      room_id: string;
      type: string;
      content: string;
      pos: number;
    }>;
    return rows.map((row) => ({ roomId: row.room_id, type: row.type, content: JSON.parse(row.content) as Record<string, unknown>, pos: row.pos }));
  }

  /** Stream positions given to a channel's messages, by seq. */
  streamPositions(channel: string): Map<number, number> {
    const rows = this.#db.prepare('SELECT pos, seq FROM stream WHERE channel = ?').all(channel) as Array<{ pos: number; seq: number }>;
    return new Map(rows.map((row) => [row.seq, row.pos]));
  }

  /** Gives the next stream position to a stored message and keeps it. */
  addToStream(channel: string, seq: number): number {
    const pos = ++this.#lastPos;
    this.#db.prepare('INSERT INTO stream (pos, channel, seq) VALUES (?, ?, ?)').run(pos, channel, seq);
    return pos;
  }

  close(): void {
    this.#db.close();
  }
}
