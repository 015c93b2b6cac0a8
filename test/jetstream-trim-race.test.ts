// The trim race: a node that is behind (catching up at its start, or back from a NATS
// outage) while another node trims the stream must not number what is left as if the
// trimmed records never were. Two logs over a real `nats-server -js`: one reads the
// stream, keeps 3 messages and trims the stream to them (checkpoint, then purge); the
// other knew nothing of that checkpoint when it started (it read none), learns of it
// from the bucket as a running node does, and reads what the trim left.

import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Hub } from '../src/hub/hub.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { ensureStream } from '../src/jetstream/ensure-stream.ts';
import { JetStreamLog } from '../src/jetstream/jetstream-log.ts';
import { encodeRecords } from '../src/jetstream/log-record.ts';
import { channelSubject } from '../src/jetstream/subjects.ts';
import { checkpointBucket, StreamTrimmer, watchCheckpoints } from '../src/jetstream/trim.ts';
import { natsUnavailable, startNatsCluster, type NatsCluster } from './helpers/nats-servers.ts';

const skip = natsUnavailable();
const STREAM = 'RACE';
const CHANNEL = 'trimmed room';
let nats: NatsCluster;
let connections: NatsConnection[] = [];
const logs: JetStreamLog[] = [];

before(async () => {
  if (skip === undefined) nats = await startNatsCluster(1);
});

after(async () => {
  for (const log of logs) await log.close();
  for (const c of connections) await c.close().catch(() => undefined);
  await nats?.stop();
});

async function session(): Promise<{ connection: NatsConnection; manager: JetStreamManager; kv: KV }> {
  const connection = await connect({ servers: nats.urls });
  connections.push(connection);
  const manager = await jetstreamManager(connection);
  const kv = await new Kvm(connection).create(checkpointBucket(STREAM), { history: 1 });
  return { connection, manager, kv };
}

/** A node's log and view over the stream, not started. */
function node(connection: NatsConnection, manager: JetStreamManager, view: MemoryStore, resumed: string[] = []): { log: JetStreamLog; hub: Hub } {
  const log = new JetStreamLog({ connection, manager, stream: STREAM, publishTimeoutMs: 5000, events: { onResumedFromCheckpoint: (channel) => resumed.push(channel) } });
  logs.push(log);
  return { log, hub: new Hub({ store: view, log }) };
}

async function publish(connection: NatsConnection, texts: readonly string[]): Promise<void> {
  const js = jetstream(connection);
  for (const [i, text] of texts.entries()) {
    const request = { channel: CHANNEL, uid: 'u', binary: false, payload: new TextEncoder().encode(text) };
    await js.publish(channelSubject(STREAM, CHANNEL), encodeRecords([{ request, from: { node: 'writer', ref: i } }], 1_000 + i));
  }
}

function seqsAndIds(view: MemoryStore): Array<[number, string, string]> {
  return view.read(CHANNEL, { limit: 100 }).map((m) => [m.seq, new TextDecoder().decode(m.payload), Buffer.from(m.id).toString('hex')]);
}

test('a node behind a trim goes on from the checkpoint: the seqs and ids of what is left are those of the node that trimmed', { skip }, async () => {
  const first = await session();
  await ensureStream(first.manager, STREAM, 1);
  await publish(first.connection, Array.from({ length: 10 }, (_, i) => `m${i + 1}`));

  // The running node: keeps 3 messages, checkpoints, and on its next pass purges.
  const trimmingView = new MemoryStore({ nodeId: 'cluster', retainCount: 3 });
  const trimming = node(first.connection, first.manager, trimmingView);
  await trimming.log.start(trimming.hub, { view: trimmingView });
  assert.deepEqual(trimmingView.bounds(CHANNEL), { first: 8, last: 10 });
  const trimmer = new StreamTrimmer({ kv: first.kv, manager: first.manager, stream: STREAM, store: trimmingView, positions: trimming.log.positions });
  await trimmer.run(); // writes the checkpoint
  await trimmer.run(); // purges before it
  const state = await first.manager.streams.info(STREAM);
  assert.equal(state.state.messages, 3, 'the trim left the 3 messages kept');

  // The node that was behind: it read no checkpoint at its start (there was none yet),
  // and learns of this one from the bucket before its reader gets there.
  const second = await session();
  const laggingView = new MemoryStore({ nodeId: 'cluster', retainCount: 3 });
  const resumed: string[] = [];
  const lagging = node(second.connection, second.manager, laggingView, resumed);
  await new Promise<void>((resolve) => void watchCheckpoints(second.kv, (channel, checkpoint) => {
    lagging.log.checkpointSeen(channel, checkpoint);
    resolve();
  }));
  await lagging.log.start(lagging.hub, { view: laggingView });

  assert.deepEqual(resumed, [CHANNEL], 'the node says it went on from the checkpoint');
  assert.deepEqual(laggingView.bounds(CHANNEL), { first: 8, last: 10 });
  assert.deepEqual(seqsAndIds(laggingView), seqsAndIds(trimmingView));
  // A cursor from before the trim resumes from the first message kept, as after retention.
  assert.deepEqual(laggingView.read(CHANNEL, { after: 2, limit: 10 }).map((m) => m.seq), [8, 9, 10]);

  // And both number what comes next alike.
  await publish(first.connection, ['m11']);
  await Promise.all([trimming.log.catchUp(), lagging.log.catchUp()]);
  assert.deepEqual(seqsAndIds(laggingView), seqsAndIds(trimmingView));
  assert.deepEqual(laggingView.bounds(CHANNEL), { first: 9, last: 11 });
});
