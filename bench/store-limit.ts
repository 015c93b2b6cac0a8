// The physical limit of durable ingest on this machine, for the (d) table: what one
// SQLite batch of 256 messages costs with its commit and fsync, and what parley's store
// alone takes in, without a socket, a frame or a client (appends of 256 publishes, each
// batch made durable by the group commit, as the node does it). Run by run.ts as a child
// pinned to the server's core; prints one line of JSON.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import type { AppendRequest } from '../src/store/store.ts';

export interface StoreLimit {
  /** Median time of one INSERT of 256 rows and its COMMIT with synchronous=FULL, in µs. */
  readonly batchUs: number;
  /** Messages per second parley's store takes in alone (append + group commit). */
  readonly storeMsgsPerSec: number;
}

const BATCH = 256;
const PAYLOAD = Buffer.alloc(64, 7);

function sqliteBatch(dir: string): number {
  const db = new DatabaseSync(join(dir, 'plain.db'));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
  db.exec('CREATE TABLE messages (channel TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL) STRICT; CREATE UNIQUE INDEX by_seq ON messages (channel, seq);');
  const insert = db.prepare('INSERT INTO messages (channel, seq, payload) VALUES (?, ?, ?)');
  const times: number[] = [];
  let seq = 0;
  for (let b = 0; b < 200; b++) {
    const started = performance.now();
    db.exec('BEGIN');
    for (let i = 0; i < BATCH; i++) insert.run('bench', ++seq, PAYLOAD);
    db.exec('COMMIT');
    times.push(performance.now() - started);
  }
  db.close();
  times.sort((a, b) => a - b);
  return Math.round((times[times.length >> 1] ?? 0) * 1000);
}

async function storeAlone(dir: string, ms: number): Promise<number> {
  const store = new SqliteStore({ path: join(dir, 'parley.db'), nodeId: 'b'.repeat(52), groupCommit: true });
  let next = 0;
  let durable = 0;
  const batch = (): AppendRequest[] => {
    const requests: AppendRequest[] = [];
    for (let i = 0; i < BATCH; i++) requests.push({ channel: 'bench', uid: 'publisher', binary: true, payload: PAYLOAD, cid: String(next++) });
    return requests;
  };
  // As in the node: a batch per turn, each handed to the group commit, never waiting for it.
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const turn = () => {
      if (performance.now() - started >= ms) return resolve();
      store.append(batch());
      store.sync!(() => (durable += BATCH));
      setImmediate(turn);
    };
    turn();
  });
  await new Promise<void>((resolve) => store.sync!(() => resolve()));
  const seconds = (performance.now() - started) / 1000;
  store.close();
  return Math.round(durable / seconds);
}

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'bench-limit-'));
try {
  const batchUs = sqliteBatch(dir);
  const storeMsgsPerSec = await storeAlone(dir, Number(process.argv[3] ?? 3000));
  process.stdout.write(`${JSON.stringify({ batchUs, storeMsgsPerSec } satisfies StoreLimit)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
