import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type Member } from './hub.ts';
import { MemoryHistory } from './history.ts';

interface TestFrame {
  readonly text: string;
  readonly size: number;
}
const f = (text: string): TestFrame => ({ text, size: text.length });

class Recorder implements Member<TestFrame> {
  readonly received: string[] = [];
  readonly uid: string;
  readonly channel: string;
  constructor(uid: string, channel: string) {
    this.uid = uid;
    this.channel = channel;
  }
  deliver(frame: TestFrame): void {
    this.received.push(frame.text);
  }
}

function makeHub(limit = 200) {
  return new Hub<TestFrame>(new MemoryHistory({ frames: limit, bytes: 1e6 }));
}

test('fans a frame out to every other member, never back to the sender', () => {
  const hub = makeHub();
  const [a, b, c] = [new Recorder('a', 'x'), new Recorder('b', 'x'), new Recorder('c', 'x')];
  const other = new Recorder('d', 'y');
  for (const m of [a, b, c, other]) assert.deepEqual(hub.join(m, f(`h-${m.uid}`)), { ok: true });
  assert.equal(hub.publish(a, f('hello')), 2);
  assert.deepEqual(a.received, []);
  assert.deepEqual(b.received, ['h-a', 'hello']);
  assert.deepEqual(c.received, ['h-a', 'h-b', 'hello']);
  assert.deepEqual(other.received, []);
});

test('refuses a second member with the same uid on a channel until the first leaves', () => {
  const hub = makeHub();
  const first = new Recorder('a', 'x');
  hub.join(first, f('h'));
  assert.deepEqual(hub.join(new Recorder('a', 'x'), f('h')), { ok: false, code: 'ALREADY_JOINED' });
  assert.deepEqual(hub.join(new Recorder('a', 'other'), f('h')), { ok: true });
  hub.leave(first);
  assert.deepEqual(hub.join(new Recorder('a', 'x'), f('h')), { ok: true });
});

test('a refused duplicate does not disturb the member already joined', () => {
  const hub = makeHub();
  const first = new Recorder('a', 'x');
  const b = new Recorder('b', 'x');
  hub.join(first, f('ha'));
  hub.join(b, f('hb'));
  const dup = new Recorder('a', 'x');
  hub.join(dup, f('dup'));
  hub.leave(dup); // a leave for the refused one must not remove the real member
  hub.publish(b, f('m'));
  assert.deepEqual(first.received, ['m']); // headers are never broadcast live
  assert.equal(hub.publish(dup, f('from-dup')), 0);
});

test('history replays headers and frames to joiners and outlives the members', () => {
  const hub = makeHub(3);
  const a = new Recorder('a', 'x');
  hub.join(a, f('ha'));
  hub.publish(a, f('1'));
  hub.publish(a, f('2'));
  hub.leave(a);
  const b = new Recorder('b', 'x');
  hub.join(b, f('hb'));
  assert.deepEqual(b.received, ['ha', '1', '2']);
  hub.leave(b);
  const again = new Recorder('a', 'x');
  hub.join(again, f('ha2'));
  assert.deepEqual(again.received, ['1', '2', 'hb']);
});

test('counts members and active channels', () => {
  const hub = makeHub();
  const a = new Recorder('a', 'x');
  hub.join(a, f('h'));
  hub.join(new Recorder('b', 'y'), f('h'));
  assert.equal(hub.stats().members, 2);
  assert.equal(hub.stats().activeChannels, 2);
  hub.leave(a);
  hub.leave(a);
  assert.equal(hub.stats().members, 1);
  assert.equal(hub.stats().activeChannels, 1);
});
