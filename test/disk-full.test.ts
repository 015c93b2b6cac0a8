// A node whose data directory is on a real 12 MB filesystem, published to until the
// disk is full. Every acked message must be stored, seqs must stay gap-free, the
// channel's counters must match what is stored, the publisher must be told the disk is
// full, and the node must stay up. Restarted with a byte limit above what is stored,
// retention must remove nothing (it acts on the counters).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { NativeTestClient, type Frame } from './helpers/native-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { canMount, mountTmpfs } from './helpers/tmpfs.ts';

const CHANNEL = 'fill';
const DISK_BYTES = 12 * 1024 * 1024;

interface ApiPage {
  messages: Array<{ seq: number; payload: string }>;
  last: boolean;
  next?: number;
}

/** Publishes in groups of `window`, each group as one batch; resolves with every answer by cid. */
async function publish(client: NativeTestClient, cids: readonly string[], size: number, window: number): Promise<Map<string, Frame>> {
  const answers = new Map<string, Frame>();
  for (let i = 0; i < cids.length; i += window) {
    const group = cids.slice(i, i + window);
    for (const cid of group) {
      const payload = Buffer.alloc(size, 0x2e);
      payload.write(cid);
      client.send({ t: 'pub', ch: CHANNEL, cid, p: payload });
    }
    for (const cid of group) answers.set(cid, await client.next((f) => (f.t === 'ack' || f.t === 'err') && f.cid === cid, 30_000));
  }
  return answers;
}

/** Every stored message of the channel, through the HTTP API: seq -> the cid its payload starts with. */
async function storedMessages(node: NodeProcess): Promise<Map<number, string>> {
  const stored = new Map<number, string>();
  let after = 0;
  for (;;) {
    const response = await fetch(new URL(`/v1/channels/${CHANNEL}/messages?after=${after}&limit=1000`, node.url));
    assert.equal(response.status, 200);
    const page = (await response.json()) as ApiPage;
    for (const m of page.messages) stored.set(m.seq, Buffer.from(m.payload, 'base64').toString('latin1').replace(/\.+$/, ''));
    if (page.last) return stored;
    after = page.next!;
  }
}

/** The channel's counters as the node wrote them, and what its messages really add up to. */
function countersAndTruth(dataDir: string) {
  const db = new DatabaseSync(join(dataDir, 'parley.db'));
  try {
    const counted = db.prepare('SELECT last_seq AS last, count, bytes FROM channels WHERE channel = ?').get(CHANNEL) as { last: number; count: number; bytes: number };
    const held = db
      .prepare('SELECT max(seq) AS last, count(*) AS count, coalesce(sum(length(payload)), 0) AS bytes FROM messages WHERE channel = ?')
      .get(CHANNEL) as { last: number; count: number; bytes: number };
    return { counted: { ...counted }, held: { ...held } };
  } finally {
    db.close();
  }
}

test('a full disk: publishes fail saying so, nothing acked is lost, seqs and counters stay true, retention removes nothing', { skip: !canMount && 'mounting a tmpfs needs root', timeout: 180_000 }, async (t) => {
  const disk = mountTmpfs(DISK_BYTES);
  const nodes: NodeProcess[] = [];
  // Stop the nodes before unmounting, whatever happened.
  t.after(async () => {
    for (const node of nodes) await node.stop('SIGKILL');
    disk.unmount();
  });

  // Something else on the disk that is later deleted, as an operator would free space.
  // It must leave room for a whole WAL checkpoint (up to about 4 MiB of pages copied into
  // a growing database file): with less, the disk can fill again right after it is freed.
  const ballast = join(disk.dir, 'ballast');
  writeFileSync(ballast, Buffer.alloc(5 * 1024 * 1024));
  const first = await startNode(['--data', disk.dir]);
  nodes.push(first);
  const client = await NativeTestClient.connect(first.wsUrl, 'filler');
  // Large messages until the disk refuses several batches; then, with space freed, more:
  // they must take the next seqs, as if the refused batches had never been.
  const answers = new Map<string, Frame>();
  let failedBatches = 0;
  for (let group = 0; failedBatches < 5; group++) {
    assert.ok(group < 100, 'the disk never filled');
    const cids = Array.from({ length: 8 }, (_, i) => `big-${group}-${i}`);
    const got = await publish(client, cids, 64 * 1024, 8);
    for (const [cid, frame] of got) answers.set(cid, frame);
    if ([...got.values()].some((f) => f.t === 'err')) failedBatches++;
  }
  const refusedWhileFull = [...answers.values()].filter((f) => f.t === 'err').length;
  rmSync(ballast);
  const after = await publish(client, Array.from({ length: 200 }, (_, i) => `after-${i}`), 1024, 10);
  assert.ok([...after.values()].every((f) => f.t === 'ack'), `publishes fail after space was freed: ${JSON.stringify([...after.values()].find((f) => f.t !== 'ack'))}`);
  for (const [cid, frame] of after) answers.set(cid, frame);

  const acks = [...answers.values()].filter((f) => f.t === 'ack');
  const errors = [...answers.values()].filter((f) => f.t === 'err');
  t.diagnostic(`${acks.length} publishes acked, ${refusedWhileFull} refused while the disk was full`);
  assert.ok(acks.length > 0 && errors.length > 0);
  for (const error of errors) {
    assert.equal(error.code, 'STORE_FAILED');
    assert.equal(error.store, 'full', JSON.stringify(error));
    assert.match(String(error.msg), /store full: SQLITE_(FULL: database or disk is full|IOERR.*ENOSPC)/);
  }
  const logged = first.logged('store refused a batch; its messages were not delivered');
  assert.ok(logged.length > 0);
  assert.equal(logged[0]!.storeCode, 'full');
  assert.match(String((logged[0]!.err as { message: string }).message), /^store full: SQLITE_/);
  const health = await fetch(new URL('/healthz', first.url));
  assert.equal(health.status, 200);

  // Every acked message is stored under its seq, and the seqs run 1..n without a hole.
  const stored = await storedMessages(first);
  for (const ack of acks) assert.equal(stored.get(ack.seq as number), ack.cid, `seq ${String(ack.seq)}`);
  assert.deepEqual([...stored.keys()], Array.from({ length: stored.size }, (_, i) => i + 1));
  assert.equal(stored.size, acks.length);
  await client.close();
  assert.equal(await first.stop(), 0);

  const { counted, held } = countersAndTruth(disk.dir);
  t.diagnostic(`channel row ${JSON.stringify(counted)}; stored ${JSON.stringify(held)}`);
  assert.deepEqual(counted, held);

  // A byte limit above what is stored: retention has nothing to remove.
  const second = await startNode(['--data', disk.dir, '--retain-bytes', String(held.bytes + 64 * 1024), '--retention-interval', '1s', '--log-level', 'debug']);
  nodes.push(second);
  const pass = await second.waitForLog('retention pass done', 10_000);
  assert.equal(pass.count, 0);
  assert.equal((await storedMessages(second)).size, held.count);
  assert.equal(await second.stop(), 0);
});
