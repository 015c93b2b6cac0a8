// What end-to-end encryption needs the server to keep, beside the accounts in matrix.db:
// each device's identity keys, its one-time and fallback keys (handed out once each, to
// whoever starts a session with the device), when a user's devices last changed, and
// to-device messages waiting for their device. The server only relays them: the keys
// are public, the messages encrypted by the clients.

import { DatabaseSync } from 'node:sqlite';

export const KEY_SCHEMA = `
CREATE TABLE IF NOT EXISTS device_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (user_id, device_id));
CREATE TABLE IF NOT EXISTS one_time_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL, key_id TEXT NOT NULL, algorithm TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (user_id, device_id, key_id));
CREATE TABLE IF NOT EXISTS fallback_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL, json TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (user_id, device_id, algorithm));
CREATE TABLE IF NOT EXISTS device_changes (user_id TEXT PRIMARY KEY, pos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS to_device (pos INTEGER PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, sender TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS to_device_by_device ON to_device (user_id, device_id, pos);
CREATE TABLE IF NOT EXISTS claimed_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL, key_id TEXT NOT NULL, PRIMARY KEY (user_id, device_id, key_id));
CREATE TABLE IF NOT EXISTS relay_cursors (channel TEXT PRIMARY KEY, seq INTEGER NOT NULL);
`;

export interface ToDeviceMessage {
  readonly pos: number;
  readonly sender: string;
  readonly type: string;
  readonly content: Record<string, unknown>;
}

export class KeyStore {
  readonly #db: DatabaseSync;
  readonly #takePos: () => number;
  /** Devices with to-device messages waiting: every sync asks, few have any. */
  readonly #waiting = new Set<string>();
  /** Devices that ever uploaded one-time or fallback keys: the others' counts are empty without asking. */
  readonly #keyed = new Set<string>();
  /** The newest device change position: most syncs have none newer to look for. */
  #newestChange: number;

  /** `path` is the account store's file, whose schema has the tables; `takePos` its stream counter. */
  constructor(path: string, takePos: () => number) {
    this.#db = new DatabaseSync(path);
    // Made by the account store already, unless both are in memory (each its own database).
    this.#db.exec(KEY_SCHEMA);
    this.#takePos = takePos;
    const rows = this.#db.prepare('SELECT DISTINCT user_id, device_id FROM to_device').all() as Array<{ user_id: string; device_id: string }>;
    for (const row of rows) this.#waiting.add(`${row.user_id} ${row.device_id}`);
    const keyed = this.#db.prepare('SELECT user_id, device_id FROM one_time_keys UNION SELECT user_id, device_id FROM fallback_keys').all() as Array<{ user_id: string; device_id: string }>;
    for (const row of keyed) this.#keyed.add(`${row.user_id} ${row.device_id}`);
    this.#newestChange = (this.#db.prepare('SELECT max(pos) AS pos FROM device_changes').get() as { pos: number | null }).pos ?? 0;
  }

  setDeviceKeys(userId: string, deviceId: string, json: string): void {
    const before = this.#db.prepare('SELECT json FROM device_keys WHERE user_id = ? AND device_id = ?').get(userId, deviceId) as { json: string } | undefined;
    if (before?.json === json) return;
    this.#db.prepare('INSERT INTO device_keys (user_id, device_id, json) VALUES (?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET json = excluded.json').run(userId, deviceId, json);
    this.devicesChanged(userId);
  }

  /** A user's device list changed (keys uploaded, a device removed): others re-query it. */
  devicesChanged(userId: string): number {
    const pos = this.#takePos();
    this.#db.prepare('INSERT INTO device_changes (user_id, pos) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos').run(userId, pos);
    this.#newestChange = pos;
    return pos;
  }

  removeDevice(userId: string, deviceId: string): void {
    this.#db.prepare('DELETE FROM device_keys WHERE user_id = ? AND device_id = ?').run(userId, deviceId);
    this.#db.prepare('DELETE FROM one_time_keys WHERE user_id = ? AND device_id = ?').run(userId, deviceId);
    this.#db.prepare('DELETE FROM fallback_keys WHERE user_id = ? AND device_id = ?').run(userId, deviceId);
    this.#db.prepare('DELETE FROM to_device WHERE user_id = ? AND device_id = ?').run(userId, deviceId);
    this.#waiting.delete(`${userId} ${deviceId}`);
    this.devicesChanged(userId);
  }

  /** Device keys of a user: every device, or those named. */
  deviceKeys(userId: string, deviceIds: readonly string[]): Map<string, Record<string, unknown>> {
    const rows = this.#db.prepare('SELECT device_id, json FROM device_keys WHERE user_id = ?').all(userId) as Array<{ device_id: string; json: string }>;
    const keys = new Map<string, Record<string, unknown>>();
    for (const row of rows) if (deviceIds.length === 0 || deviceIds.includes(row.device_id)) keys.set(row.device_id, JSON.parse(row.json) as Record<string, unknown>);
    return keys;
  }

  addOneTimeKey(userId: string, deviceId: string, keyId: string, json: string): void {
    // A key claimed on another node may be copied here after its claim: it stays claimed.
    if (this.#db.prepare('SELECT 1 FROM claimed_keys WHERE user_id = ? AND device_id = ? AND key_id = ?').get(userId, deviceId, keyId) !== undefined) return;
    const algorithm = keyId.split(':')[0]!;
    this.#keyed.add(`${userId} ${deviceId}`);
    this.#db.prepare('INSERT OR IGNORE INTO one_time_keys (user_id, device_id, key_id, algorithm, json) VALUES (?, ?, ?, ?, ?)').run(userId, deviceId, keyId, algorithm, json);
  }

  setFallbackKey(userId: string, deviceId: string, keyId: string, json: string): void {
    const algorithm = keyId.split(':')[0]!;
    this.#keyed.add(`${userId} ${deviceId}`);
    this.#db
      .prepare('INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, json, used) VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, json = excluded.json, used = 0')
      .run(userId, deviceId, algorithm, keyId, json);
  }

  oneTimeKeyCounts(userId: string, deviceId: string): Record<string, number> {
    if (!this.#keyed.has(`${userId} ${deviceId}`)) return {};
    const rows = this.#db.prepare('SELECT algorithm, count(*) AS n FROM one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm').all(userId, deviceId) as Array<{ algorithm: string; n: number }>;
    return Object.fromEntries(rows.map((row) => [row.algorithm, row.n]));
  }

  unusedFallbackAlgorithms(userId: string, deviceId: string): string[] {
    if (!this.#keyed.has(`${userId} ${deviceId}`)) return [];
    const rows = this.#db.prepare('SELECT algorithm FROM fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0').all(userId, deviceId) as Array<{ algorithm: string }>;
    return rows.map((row) => row.algorithm);
  }

  /** A one-time key was claimed (here or on another node): it is never handed out again. */
  markClaimed(userId: string, deviceId: string, keyId: string): void {
    this.#db.prepare('INSERT OR IGNORE INTO claimed_keys (user_id, device_id, key_id) VALUES (?, ?, ?)').run(userId, deviceId, keyId);
    this.#db.prepare('DELETE FROM one_time_keys WHERE user_id = ? AND device_id = ? AND key_id = ?').run(userId, deviceId, keyId);
  }

  /** How far a relayed channel has been applied (its seq), so a restart does not apply it twice. */
  cursor(channel: string): number {
    return (this.#db.prepare('SELECT seq FROM relay_cursors WHERE channel = ?').get(channel) as { seq: number } | undefined)?.seq ?? 0;
  }

  setCursor(channel: string, seq: number): void {
    this.#db.prepare('INSERT INTO relay_cursors (channel, seq) VALUES (?, ?) ON CONFLICT (channel) DO UPDATE SET seq = excluded.seq').run(channel, seq);
  }

  /** Takes one of the device's one-time keys of the algorithm, or its fallback key when none is left. */
  claim(userId: string, deviceId: string, algorithm: string): { keyId: string; json: Record<string, unknown>; fallback: boolean } | undefined {
    const row = this.#db.prepare('SELECT key_id, json FROM one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? LIMIT 1').get(userId, deviceId, algorithm) as { key_id: string; json: string } | undefined;
    if (row !== undefined) {
      this.markClaimed(userId, deviceId, row.key_id);
      return { keyId: row.key_id, json: JSON.parse(row.json) as Record<string, unknown>, fallback: false };
    }
    const fallback = this.#db.prepare('SELECT key_id, json FROM fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?').get(userId, deviceId, algorithm) as { key_id: string; json: string } | undefined;
    if (fallback === undefined) return undefined;
    this.#db.prepare('UPDATE fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?').run(userId, deviceId, algorithm);
    return { keyId: fallback.key_id, json: JSON.parse(fallback.json) as Record<string, unknown>, fallback: true };
  }

  /** Users whose devices changed after `pos`, among those `users` gives. */
  changedSince(pos: number, users: () => ReadonlySet<string>): string[] {
    if (this.#newestChange <= pos) return [];
    const rows = this.#db.prepare('SELECT user_id FROM device_changes WHERE pos > ?').all(pos) as Array<{ user_id: string }>;
    if (rows.length === 0) return [];
    const among = users();
    return rows.map((row) => row.user_id).filter((user) => among.has(user));
  }

  addToDevice(userId: string, deviceId: string, sender: string, type: string, content: Record<string, unknown>): number {
    const pos = this.#takePos();
    this.#db.prepare('INSERT INTO to_device (pos, user_id, device_id, sender, type, content) VALUES (?, ?, ?, ?, ?, ?)').run(pos, userId, deviceId, sender, type, JSON.stringify(content));
    this.#waiting.add(`${userId} ${deviceId}`);
    return pos;
  }

  /** The device's messages up to `upTo`; those up to `acknowledged` (the token the client synced from) are deleted. */
  toDevice(userId: string, deviceId: string, acknowledged: number, upTo: number): ToDeviceMessage[] {
    const key = `${userId} ${deviceId}`;
    if (!this.#waiting.has(key)) return [];
    this.#db.prepare('DELETE FROM to_device WHERE user_id = ? AND device_id = ? AND pos <= ?').run(userId, deviceId, acknowledged);
    const rows = this.#db.prepare('SELECT pos, sender, type, content FROM to_device WHERE user_id = ? AND device_id = ? AND pos <= ? ORDER BY pos').all(userId, deviceId, upTo) as Array<{
      pos: number;
      sender: string;
      type: string;
      content: string;
    }>;
    if (rows.length === 0 && this.#db.prepare('SELECT 1 FROM to_device WHERE user_id = ? AND device_id = ? LIMIT 1').get(userId, deviceId) === undefined) this.#waiting.delete(key);
    return rows.map((row) => ({ pos: row.pos, sender: row.sender, type: row.type, content: JSON.parse(row.content) as Record<string, unknown> }));
  }

  close(): void {
    this.#db.close();
  }
}
