import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, compareEvents, decodeEvent, encodeEvent, eventIdOf, parseUserId, roomChannel, roomOfChannel, type RoomEvent, type StoredEvent } from './events.ts';

const ROOM = '!abc:a.test';
const event: StoredEvent = { type: 'm.room.message', room_id: ROOM, sender: '@alice:a.test', content: { body: 'hi', msgtype: 'm.text' }, origin_server_ts: 1000, depth: 3 };

test('canonical JSON sorts keys at every level and has no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 'é' }], c: null } }), '{"a":{"c":null,"d":[1,{"y":"é","z":0}]},"b":1}');
});

test('the event id is the hash of the stored bytes: the same event gives the same id, any change another', () => {
  const bytes = encodeEvent(event);
  assert.equal(eventIdOf(bytes), eventIdOf(encodeEvent({ ...event })));
  assert.notEqual(eventIdOf(bytes), eventIdOf(encodeEvent({ ...event, depth: 4 })));
  assert.match(eventIdOf(bytes), /^\$[A-Za-z0-9_-]{43}$/);
  const decoded = decodeEvent(bytes, ROOM);
  assert.ok(typeof decoded !== 'string');
  assert.equal(decoded.event_id, eventIdOf(bytes));
  assert.deepEqual({ ...decoded, event_id: undefined }, { ...event, event_id: undefined });
});

test('a message that is not an event of the channel\'s room is refused with the reason', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['hello', /not JSON/],
    [[1], /not a JSON object/],
    [{ ...event, room_id: '!other:a.test' }, /room_id/],
    [{ ...event, sender: 'alice' }, /sender/],
    [{ ...event, content: 'x' }, /content/],
    [{ ...event, depth: 0 }, /depth/],
    [{ ...event, origin_server_ts: 1.5 }, /origin_server_ts/],
    [{ ...event, type: '' }, /type/],
    [{ ...event, state_key: 7 }, /state_key/],
  ];
  for (const [value, reason] of cases) {
    const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    const result = decodeEvent(bytes, ROOM);
    assert.equal(typeof result, 'string', JSON.stringify(value));
    assert.match(result as string, reason);
  }
});

test('events order by depth, then origin time, then id', () => {
  const at = (depth: number, ts: number, id: string) => ({ ...event, depth, origin_server_ts: ts, event_id: id }) as RoomEvent;
  const sorted = [at(2, 5, '$b'), at(1, 9, '$z'), at(2, 5, '$a'), at(2, 1, '$c')].sort(compareEvents).map((e) => e.event_id);
  assert.deepEqual(sorted, ['$z', '$c', '$a', '$b']);
});

test('user ids and room channels', () => {
  assert.deepEqual(parseUserId('@bob:b.test:8448'), { localpart: 'bob', server: 'b.test:8448' });
  assert.equal(parseUserId('bob'), undefined);
  assert.equal(roomOfChannel(roomChannel(ROOM)), ROOM);
  assert.equal(roomOfChannel('lobby'), undefined);
});
