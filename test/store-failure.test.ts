// A store that cannot be read: a node whose database file was damaged on disk. Every
// reader is told why (STORE_FAILED with `store: corrupt`, HTTP 503) and the node stays up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MlesTestClient } from './helpers/mles-client.ts';
import { NativeTestClient } from './helpers/native-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

const CHANNEL = 'damaged';
/** Large enough to take two overflow pages, so reading it follows an overflow pointer. */
const PAYLOAD = Buffer.alloc(12_000, 0x41);

/**
 * Breaks the chain of every overflow page that holds nothing but payload bytes: reading
 * those payloads then fails with SQLITE_CORRUPT, while the pages that locate messages
 * (and let the node start) stay sound.
 */
function breakOverflowPages(file: string): number {
  const bytes = readFileSync(file);
  const pageSize = bytes.readUInt16BE(16);
  let broken = 0;
  for (let at = 0; at < bytes.length; at += pageSize) {
    if (bytes.subarray(at + 4, at + pageSize).every((b) => b === 0x41)) {
      bytes.writeUInt32BE(0xffffffff, at);
      broken++;
    }
  }
  writeFileSync(file, bytes);
  return broken;
}

test('a damaged store: replays, queries and the HTTP API get STORE_FAILED saying corrupt, and the node stays up', { timeout: 60_000 }, async (t) => {
  const nodes: NodeProcess[] = [];
  t.after(async () => {
    for (const node of nodes) await node.stop('SIGKILL');
  });
  const first = await startNode();
  nodes.push(first);
  const watcher = await NativeTestClient.connect(first.wsUrl, 'watcher');
  watcher.send({ t: 'sub', ch: CHANNEL });
  await watcher.next((f) => f.t === 'live');
  const mles = await MlesTestClient.join(first.wsUrl, { uid: 'writer', channel: CHANNEL });
  for (let i = 0; i < 20; i++) mles.send(PAYLOAD);
  await watcher.next((f) => f.t === 'msg' && f.seq === 20);
  await Promise.all([mles.close(), watcher.close()]);
  assert.equal(await first.stop(), 0);
  const database = join(first.dataDir, 'parley.db');
  assert.ok(!existsSync(`${database}-wal`), 'the write-ahead log was folded into the database on close');
  assert.ok(breakOverflowPages(database) > 0);

  const node = await startNode(['--data', first.dataDir]);
  nodes.push(node);
  const client = await NativeTestClient.connect(node.wsUrl, 'reader');
  client.send({ t: 'query', qid: 'q1', ch: CHANNEL, after: 0, limit: 100 });
  const queried = await client.next((f) => f.qid === 'q1');
  assert.deepEqual([queried.t, queried.code, queried.store], ['err', 'STORE_FAILED', 'corrupt']);
  assert.match(String(queried.msg), /store corrupt: SQLITE_CORRUPT: database disk image is malformed/);
  client.send({ t: 'sub', ch: CHANNEL, after: 0 });
  const replayed = await client.next((f) => f.t === 'err' && f.ch === CHANNEL && f.qid === undefined);
  assert.deepEqual([replayed.code, replayed.store], ['STORE_FAILED', 'corrupt']);

  const response = await fetch(new URL(`/v1/channels/${CHANNEL}/messages`, node.url));
  assert.equal(response.status, 503);
  const body = (await response.json()) as { error: string; storeCode: string };
  assert.equal(body.storeCode, 'corrupt');
  assert.match(body.error, /^store corrupt: SQLITE_CORRUPT/);

  const logged = await node.waitForLogCount('query failed', 2).then(() =>
    node.stdout.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'query failed'),
  );
  assert.deepEqual(logged.map((line) => line.storeCode), ['corrupt', 'corrupt']);
  assert.equal((await fetch(new URL('/healthz', node.url))).status, 200);
  // The connection is still open and the channel's bounds are still known.
  client.send({ t: 'query', qid: 'q2', ch: 'other', after: 0, limit: 1 });
  assert.equal((await client.next((f) => f.qid === 'q2')).t, 'page');
  await client.close();
  assert.equal(await node.stop(), 0);
});
