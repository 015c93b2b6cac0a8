// A node that was down catches up when it comes back: C is killed while A takes 1,000
// messages, restarts on the same data directory, fetches them from A over
// /parley/sync/1 within seconds, stores each once in A's order, and a client of C that
// resumes from its cursor gets exactly what it missed.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCursorStore } from '../src/client/index.ts';
import { listable, startP2PNode, type P2PNode } from './helpers/p2p-node.ts';
import { exactlyOnce, Participant } from './helpers/participant.ts';
import { storedMessages } from './helpers/peer-network.ts';

const nodes: P2PNode[] = [];
const participants: Participant[] = [];
after(async () => {
  await Promise.all(participants.map((p) => p.close().catch(() => {})));
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
});
async function node(args: readonly string[]): Promise<P2PNode> {
  const started = await startP2PNode(args);
  nodes.push(started);
  return started;
}
async function participant(url: string, uid: string, cursors?: MemoryCursorStore): Promise<Participant> {
  const joined = await Participant.join(url, uid, 'offline', cursors);
  participants.push(joined);
  return joined;
}

test('C killed while A takes 1,000 messages stores them all once, in order, within seconds of restarting; its client resumes with exactly the missing ones', async () => {
  const a = await node(['--data', mkdtempSync(join(tmpdir(), 'parley-a-'))]);
  const cArgs = ['--data', mkdtempSync(join(tmpdir(), 'parley-c-')), '--bootstrap', a.addrs[0]!];
  const c = await node(cArgs);
  await c.waitForPeer(a.peerId);

  const cursors = new MemoryCursorStore();
  const carol = await participant(c.wsUrl, 'carol', cursors);
  const anna = await participant(a.wsUrl, 'anna');
  const early = Array.from({ length: 5 }, (_, i) => `early ${i}`);
  for (const text of early) await anna.client.publish('offline', text);
  await carol.waitUntil((m) => m.length >= early.length, 'the early messages', 20_000);
  assert.deepEqual(carol.texts(), early);
  await carol.close();
  const cursor = cursors.get('offline');
  assert.equal(cursor, carol.received.at(-1)!.seq, 'the cursor is the last seq carol processed');

  await c.stop('SIGKILL');
  const missed = Array.from({ length: 1000 }, (_, i) => `missed ${i}`);
  await anna.publishMany('offline', 'missed ', 1000); // each acked by A: stored there

  const c2 = await node(cArgs);
  assert.equal(c2.peerId, c.peerId, 'the same key, from the same data directory');
  const carolAgain = await participant(c2.wsUrl, 'carol', cursors);
  await carolAgain.waitUntil((m) => m.length >= missed.length, 'the messages missed while down', 20_000);
  // Timed from the node's own log: from its p2p host starting to the sync that brought them.
  const started = Number(c2.logged('p2p host started')[0]!.time);
  const caughtUp = await c2.waitForLogWhere('p2p caught up with a peer', (line) => line.channel === 'offline' && line.peer === a.peerId);
  const caughtUpMs = Number(caughtUp.time) - started;
  assert.equal(caughtUp.messages, missed.length, 'one sync brought them all');
  assert.ok(caughtUpMs < 10_000, `caught up ${caughtUpMs} ms after starting`);

  // A marker published after the catch-up bounds the wait for anything doubled or late.
  await anna.client.publish('offline', 'marker');
  await carolAgain.waitUntil((m) => m.some((x) => new TextDecoder().decode(x.payload) === 'marker'), 'the marker', 20_000).catch((error: unknown) => {
    // What each node last said: whether the marker left A, and whether C heard of it.
    console.log(`A's log:\n${a.stdout.slice(-30).join('\n')}\nC's log after its restart:\n${c2.stdout.slice(-30).join('\n')}`);
    throw error;
  });
  const [onA, onC] = await Promise.all([storedMessages(listable(a, 'A'), 'offline'), storedMessages(listable(c2, 'C'), 'offline')]);
  const got = carolAgain.texts();
  assert.equal(exactlyOnce(got, [...missed, 'marker']), undefined);
  assert.deepEqual(got, onA.slice(early.length).map((m) => m.text), "exactly the missing ones, in A's order, then the marker");
  assert.ok(carolAgain.received[0]!.seq > cursor!, 'the resumed subscription starts after the cursor');
  assert.ok(carolAgain.received.every((m) => m.origin === a.nodeId), 'every message is from A');

  assert.equal(onC.length, 1006, 'C stores 5 + 1000 + 1 messages');
  assert.equal(new Set(onC.map((m) => m.id)).size, onC.length, 'none twice');
  assert.deepEqual(onC.map((m) => m.id), onA.map((m) => m.id), "in A's order");
  console.log(`C caught up ${missed.length} messages ${caughtUpMs} ms after its p2p host started`);
});
