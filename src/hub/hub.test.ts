import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../store/memory-store.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { AppendResult, Store } from '../store/store.ts';
import { Hub, type Delivery, type DeliveryRun, type PublishLog } from './hub.ts';
import { Recorder } from './hub.testkit.ts';


function makeHub(options: { store?: Store; onInterest?: (channel: string, used: boolean) => void } = {}) {
  const scheduled: Array<() => void> = [];
  const store = options.store ?? new MemoryStore({ nodeId: 'n' });
  const hub = new Hub({
    ...(options.onInterest === undefined ? {} : { onInterest: options.onInterest }),
    store,
    schedule: (run) => scheduled.push(run),
  });
  const endTurn = () => scheduled.splice(0).forEach((run) => run());
  return { hub, store, endTurn, scheduled };
}

const send = (hub: Hub, from: Recorder, text: string, cid?: string) =>
  hub.publish({ channel: from.channel, uid: from.uid, binary: true, payload: Buffer.from(text), cid }, from);

test('delivers after the turn commits, in order, to everyone but the sender', () => {
  const { hub, store, endTurn, scheduled } = makeHub();
  const [a, b, c] = [new Recorder('a', 'x'), new Recorder('b', 'x'), new Recorder('c', 'x')];
  const other = new Recorder('d', 'y');
  for (const m of [a, b, c, other]) hub.subscribe(m);
  b.received.length = c.received.length = 0;
  send(hub, a, 'one');
  send(hub, a, 'two');
  assert.equal(scheduled.length, 1, 'one commit per turn');
  assert.deepEqual(b.received, [], 'nothing is delivered before the commit');
  endTurn();
  assert.deepEqual(b.received, ['one', 'two']);
  assert.deepEqual(c.received, ['one', 'two']);
  assert.deepEqual(a.received, []);
  assert.deepEqual(other.received, []);
  assert.equal(store.bounds('x').last, 2);
});

test('members that take runs get each channel\'s messages of a commit in one call, in seq order', () => {
  const { hub, endTurn } = makeHub();
  const runs: string[][] = [];
  const runner = (channel: string) => ({
    channel,
    deliver: () => assert.fail('a member with deliverRun gets no single deliveries'),
    deliverRun: (run: DeliveryRun) => runs.push(run.messages.map((m) => `${m.channel}${m.seq}:${Buffer.from(m.payload).toString()}`)),
  });
  const [x1, x2, y] = [runner('x'), runner('x'), runner('y')];
  for (const m of [x1, x2, y]) hub.subscribe(m);
  const mles = new Recorder('m', 'x');
  hub.subscribe(mles);
  const pub = (channel: string, text: string) => hub.publish({ channel, uid: 'u', binary: true, payload: Buffer.from(text) });
  pub('x', 'a');
  pub('x', 'b');
  pub('y', 'c');
  pub('x', 'd');
  endTurn();
  // Consecutive messages of a channel form a run; x1 and x2 share each run object.
  assert.deepEqual(runs, [['x1:a', 'x2:b'], ['x1:a', 'x2:b'], ['y1:c'], ['x3:d'], ['x3:d']]);
  assert.deepEqual(mles.received, ['a', 'b', 'd'], 'members without deliverRun still get one message at a time');
});

test('a run member that published a message of the run gets the run without it', () => {
  const { hub, endTurn } = makeHub();
  const got: string[][] = [];
  const member = { channel: 'x', deliver: () => {}, deliverRun: (run: DeliveryRun) => got.push(run.messages.map((m) => Buffer.from(m.payload).toString())) };
  hub.subscribe(member);
  hub.publish({ channel: 'x', uid: 'u', binary: true, payload: Buffer.from('mine') }, member);
  hub.publish({ channel: 'x', uid: 'v', binary: true, payload: Buffer.from('theirs') });
  endTurn();
  assert.deepEqual(got, [['theirs']]);
});

test('a retried publish is reported as a duplicate and delivered once', () => {
  const { hub, endTurn } = makeHub();
  const [a, b] = [new Recorder('a', 'x'), new Recorder('b', 'x')];
  hub.subscribe(a);
  hub.subscribe(b);
  const results: AppendResult[] = [];
  for (let i = 0; i < 2; i++) {
    hub.publish({ channel: 'x', uid: 'a', binary: true, payload: Buffer.from('m'), cid: 'c1' }, a, (r) => {
      if (r instanceof Error) throw r;
      results.push(r);
    });
    endTurn();
  }
  assert.deepEqual(results.map((r) => [r.message.seq, r.duplicate]), [
    [1, false],
    [1, true],
  ]);
  assert.deepEqual(b.received, ['m']);
});

test('a store failure reaches the publishers and delivers nothing; later batches go on', () => {
  let fail = true;
  class FailingStore extends MemoryStore {
    override append(requests: Parameters<Store['append']>[0]): AppendResult[] {
      if (fail) throw new Error('disk full');
      return super.append(requests);
    }
  }
  const { hub, endTurn } = makeHub({ store: new FailingStore({ nodeId: 'n' }) });
  const [a, b] = [new Recorder('a', 'x'), new Recorder('b', 'x')];
  hub.subscribe(a);
  endTurn();
  hub.subscribe(b);
  const outcomes: string[] = [];
  const publish = () =>
    hub.publish({ channel: 'x', uid: 'a', binary: true, payload: Buffer.from('m') }, a, (r) =>
      outcomes.push(r instanceof Error ? r.message : `seq ${r.message.seq}`),
    );
  publish();
  endTurn();
  fail = false;
  publish();
  endTurn();
  assert.deepEqual(outcomes, ['disk full', 'seq 1']);
  assert.deepEqual(b.received, ['m']);
});

test('counts members and active channels', () => {
  const { hub } = makeHub();
  const a = new Recorder('a', 'x');
  hub.subscribe(a);
  hub.subscribe({ channel: 'y', deliver: () => {} });
  assert.deepEqual(hub.stats(), { members: 2, activeChannels: 2 });
  hub.leave(a);
  hub.leave(a);
  assert.deepEqual(hub.stats(), { members: 1, activeChannels: 1 });
});

test('reports when a channel becomes used and unused here; relay members do not count', () => {
  const events: string[] = [];
  const { hub } = makeHub({ onInterest: (channel, used) => events.push(`${channel}:${used}`) });
  const relay = { channel: 'x', peerLink: true, deliver: () => {} };
  hub.subscribe(relay);
  assert.deepEqual(events, []);
  const [a, b] = [new Recorder('a', 'x'), new Recorder('b', 'x')];
  hub.subscribe(a);
  hub.subscribe(b);
  assert.deepEqual([...hub.usedChannels()], ['x']);
  hub.leave(a);
  hub.leave(relay);
  assert.deepEqual(events, ['x:true']);
  hub.leave(b);
  hub.leave(b);
  assert.deepEqual(events, ['x:true', 'x:false']);
  assert.deepEqual([...hub.usedChannels()], []);
});

test('a replica from a peer is delivered to everyone but the link it came on, and only once', () => {
  const { hub, endTurn } = makeHub();
  const local = new Recorder('a', 'x');
  hub.subscribe(local);
  const fromLink: string[] = [];
  const otherLink: string[] = [];
  const link = { channel: 'x', peerLink: true, deliver: (d: Delivery) => fromLink.push(Buffer.from(d.message.payload).toString()) };
  const other = { channel: 'x', peerLink: true, deliver: (d: Delivery) => otherLink.push(Buffer.from(d.message.payload).toString()) };
  hub.subscribe(link);
  hub.subscribe(other);
  const replica = { origin: 'far', originSeq: 1, ts: 5, id: new Uint8Array(32), prev: new Uint8Array(32) };
  hub.publish({ channel: 'x', uid: 'remote', binary: true, payload: Buffer.from('r1'), replica }, link);
  hub.publish({ channel: 'x', uid: 'remote', binary: true, payload: Buffer.from('r1'), replica }, other);
  endTurn();
  assert.deepEqual(local.received, ['r1']);
  assert.deepEqual(fromLink, [], 'not back to the link it came on');
  assert.deepEqual(otherLink, ['r1'], 'once to the other link, though it also came from there');
});

test('with a log, a turn goes to the log and reaches the store, members and publishers only through commit', () => {
  const scheduled: Array<() => void> = [];
  const store = new MemoryStore({ nodeId: 'n' });
  const submitted: Array<Parameters<PublishLog['submit']>> = [];
  const hub = new Hub({ store, schedule: (run) => scheduled.push(run), log: { submit: (...batch) => void submitted.push(batch) } });
  const [a, b] = [new Recorder('a', 'x'), new Recorder('b', 'x')];
  hub.subscribe(a);
  hub.subscribe(b);
  const results: Array<AppendResult | Error> = [];
  hub.publish({ channel: 'x', uid: 'a', binary: true, payload: Buffer.from('one') }, a, (r) => results.push(r));
  scheduled.splice(0).forEach((run) => run());
  assert.equal(submitted.length, 1);
  assert.equal(store.bounds('x').last, 0, 'nothing stored before the log gives it back');
  assert.deepEqual(b.received, []);
  const [requests, except, done] = submitted[0]!;
  hub.commit([...requests, { channel: 'x', uid: 'z', binary: true, payload: Buffer.from('from elsewhere'), ts: 42 }], [...except, undefined], [...done, undefined]);
  assert.deepEqual(b.received, ['one', 'from elsewhere']);
  assert.deepEqual(a.received, ['from elsewhere'], 'the publisher is spared its own message');
  assert.equal(results.length, 1);
  assert.equal((results[0] as AppendResult).message.seq, 1);
  assert.equal(store.read('x', { limit: 10 })[1]!.ts, 42, "the log's time, not the store's clock");
});

test('with a group-commit store, members and publishers hear of a batch only once it is durable, batches in order', async () => {
  const store = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'parley-hub-')), 'store.db'), nodeId: 'n', groupCommit: true });
  const syncs: Array<() => void> = [];
  // Holds each sync until the test lets it go, to see what waits for it.
  const held: Store = Object.assign(Object.create(store) as Store, {
    sync: (done: (error?: Error) => void) => syncs.push(() => store.sync!(done)),
    append: (requests: Parameters<Store['append']>[0]) => store.append(requests),
  });
  const { hub, endTurn } = makeHub({ store: held });
  const [a, b] = [new Recorder('a', 'x'), new Recorder('b', 'x')];
  hub.subscribe(a);
  hub.subscribe(b);
  const acks: number[] = [];
  hub.publish({ channel: 'x', uid: 'a', binary: true, payload: Buffer.from('one') }, a, (r) => acks.push((r as AppendResult).message.seq));
  endTurn();
  hub.publish({ channel: 'x', uid: 'a', binary: true, payload: Buffer.from('two') }, a, (r) => acks.push((r as AppendResult).message.seq));
  endTurn();
  assert.deepEqual(b.received, [], 'nothing is delivered before the sync');
  assert.deepEqual(acks, []);
  assert.equal(store.bounds('x').last, 0);
  const released = new Promise<void>((resolve) => {
    const watcher = { channel: 'x', peerLink: true, deliver: (d: Delivery) => Buffer.from(d.message.payload).toString() === 'two' && resolve() };
    hub.subscribe(watcher);
  });
  for (const run of syncs.splice(0)) run();
  await released;
  assert.deepEqual(b.received, ['one', 'two']);
  assert.deepEqual(acks, [1, 2]);
  assert.equal(store.bounds('x').last, 2);
  store.close();
});

test('settled resolves once what was published is durable and readable', async () => {
  const store = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'parley-hub-')), 'store.db'), nodeId: 'n', groupCommit: true });
  const hub = new Hub({ store, schedule: () => {} });
  hub.publish({ channel: 'x', uid: 'a', binary: true, payload: Buffer.from('one') });
  assert.equal(store.bounds('x').last, 0);
  await hub.settled();
  assert.equal(store.bounds('x').last, 1);
  assert.deepEqual(store.read('x', { limit: 5 }).map((m) => Buffer.from(m.payload).toString()), ['one']);
  store.close();
});
