import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../hub/hub.ts';
import { Recorder } from '../hub/hub.testkit.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { MlesChannels, type MlesMember } from './channels.ts';
import { MemoryJoinHeaders } from './join-headers.ts';
import { ChannelPresence } from '../hub/presence.ts';

class MlesRecorder extends Recorder implements MlesMember {
  deliverHeader(frame: Uint8Array): void {
    this.received.push(`header:${Buffer.from(frame).toString()}`);
  }
}

function makeRoom(options: { limit?: number; bytes?: number; presence?: ChannelPresence } = {}) {
  const scheduled: Array<() => void> = [];
  const schedule = (run: () => void) => scheduled.push(run);
  const store = new MemoryStore({ nodeId: 'n' });
  const hub = new Hub({ store, schedule });
  const headers = new MemoryJoinHeaders({ firstSeq: (channel) => store.bounds(channel).first });
  const channels = new MlesChannels({ hub, store, headers, historyLimit: options.limit ?? 200, historyBytes: options.bytes ?? 1e9, schedule, presence: options.presence });
  const endTurn = () => scheduled.splice(0).forEach((run) => run());
  const send = (from: MlesRecorder, text: string) => hub.publish({ channel: from.channel, uid: from.uid, binary: true, payload: Buffer.from(text) }, from);
  return { hub, store, channels, endTurn, send };
}

test('refuses a second Mles member with the same uid on a channel until the first leaves', () => {
  const { channels } = makeRoom();
  const first = new MlesRecorder('a', 'x');
  channels.join(first, Buffer.from('h'));
  assert.deepEqual(channels.join(new MlesRecorder('a', 'x'), Buffer.from('h')), { ok: false, code: 'ALREADY_JOINED' });
  assert.deepEqual(channels.join(new MlesRecorder('a', 'other'), Buffer.from('h')), { ok: true });
  const refused = new MlesRecorder('a', 'x');
  channels.leave(refused); // leaving as a refused duplicate must not remove the real member
  assert.deepEqual(channels.join(new MlesRecorder('a', 'x'), Buffer.from('h')), { ok: false, code: 'ALREADY_JOINED' });
  channels.leave(first);
  assert.deepEqual(channels.join(new MlesRecorder('a', 'x'), Buffer.from('h')), { ok: true });
});

test('joined members count in the channel presence; a refused duplicate neither arrives nor leaves', () => {
  const presence = new ChannelPresence();
  const { channels } = makeRoom({ presence });
  const first = new MlesRecorder('a', 'x');
  channels.join(first, Buffer.from('h'));
  const duplicate = new MlesRecorder('a', 'x');
  channels.join(duplicate, Buffer.from('h'));
  channels.leave(duplicate);
  assert.deepEqual(presence.members('x', 10), { uids: ['a'], count: 1 });
  channels.leave(first);
  assert.deepEqual(presence.members('x', 10), { uids: [], count: 0 });
});

test('replays history with headers, bounded by count and bytes; headers are never live', () => {
  const { channels, endTurn, send } = makeRoom({ limit: 4 });
  const a = new MlesRecorder('a', 'x');
  channels.join(a, Buffer.from('ha'));
  send(a, '1');
  send(a, '2');
  endTurn();
  const b = new MlesRecorder('b', 'x');
  channels.join(b, Buffer.from('hb'));
  endTurn();
  assert.deepEqual(b.received, ['header:ha', '1', '2']);
  assert.deepEqual(a.received, [], 'b joining broadcast nothing live');
  channels.leave(a);
  channels.leave(b);
  const c = new MlesRecorder('c', 'x');
  channels.join(c, Buffer.from('hc'));
  assert.deepEqual(c.received, ['header:ha', '1', '2', 'header:hb'], 'history outlives members');
  const small = makeRoom({ limit: 100, bytes: 5 });
  const d = new MlesRecorder('d', 'z');
  small.channels.join(d, Buffer.from('hd'));
  for (const text of ['aaa', 'bb', 'c']) small.send(d, text);
  small.endTurn();
  const e = new MlesRecorder('e', 'z');
  small.channels.join(e, Buffer.from('he'));
  assert.deepEqual(e.received, ['bb', 'c'], 'the newest entries that fit in the byte budget');
});

test('members get messages live after their header, and the frame of a delivery is built once', () => {
  const { hub, channels, endTurn, send } = makeRoom();
  const [a, b] = [new MlesRecorder('a', 'x'), new MlesRecorder('b', 'x')];
  channels.join(a, Buffer.from('a'));
  channels.join(b, Buffer.from('b'));
  endTurn();
  send(a, 'hello');
  endTurn();
  assert.deepEqual(b.received, ['hello']);
  assert.deepEqual(hub.stats(), { members: 2, activeChannels: 1 });
  const message = { channel: 'x', seq: 1, id: new Uint8Array(32), ts: 0, origin: 'n', originSeq: 1, uid: 'a', binary: false, payload: Buffer.from('hi') };
  const delivery = { message };
  const frame = channels.frameOf(delivery);
  assert.equal(channels.frameOf(delivery), frame, 'the same bytes for every member');
  assert.deepEqual([...frame], [0x81, 2, 0x68, 0x69]);
  assert.notEqual(channels.frameOf({ message }), frame, 'a new delivery gets its own frame');
  channels.leave(a);
  channels.leave(b);
  assert.deepEqual(hub.stats(), { members: 0, activeChannels: 0 });
});

test('a keeper that takes headers at the join gets each before what the hub flushes after it, however the turn goes', () => {
  const scheduled: Array<() => void> = [];
  const schedule = (run: () => void) => scheduled.push(run);
  const store = new MemoryStore({ nodeId: 'n' });
  // One ordered log for messages and headers, as the JetStream stream is.
  const log: string[] = [];
  const hub = new Hub({ store, schedule, log: { submit: (requests) => log.push(...requests.map((r) => Buffer.from(r.payload).toString())) } });
  const headers = {
    appendAtJoin: true,
    append: (records: readonly { frame: Uint8Array }[]) => void log.push(...records.map((r) => `header:${Buffer.from(r.frame).toString()}`)),
    latest: () => [],
    enforceRetention: () => 0,
    close: () => {},
  };
  const channels = new MlesChannels({ hub, store, headers, historyLimit: 200, historyBytes: 1e9, schedule });
  const x = new MlesRecorder('x', 'room');
  // In one turn: a message of someone else (the hub's flush is now due), x joins, x sends.
  hub.publish({ channel: 'room', uid: 'w', binary: true, payload: Buffer.from('before') });
  channels.join(x, Buffer.from('x'));
  hub.publish({ channel: 'room', uid: 'x', binary: true, payload: Buffer.from('from x') }, x);
  scheduled.splice(0).forEach((run) => run());
  // The header is placed after what was committed at the join (nothing): before both messages.
  assert.deepEqual(log, ['header:x', 'before', 'from x']);
});
