import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSegments, matchSegments } from './router.ts';

test('path segments are decoded one at a time: an encoded slash stays inside its segment', () => {
  assert.deepEqual(decodeSegments('rooms/%21room%3Aserver/send/m.room.message/a%2Fb'), ['rooms', '!room:server', 'send', 'm.room.message', 'a/b']);
  assert.deepEqual(decodeSegments('directory/room/%23alias%3Aserver'), ['directory', 'room', '#alias:server']);
  assert.equal(decodeSegments('rooms/%E0%A4%A'), undefined);
});

test('patterns take parameters, a trailing slash, and nothing more', () => {
  const pattern = 'rooms/{roomId}/state/{type}'.split('/');
  assert.deepEqual(matchSegments(pattern, ['rooms', '!r:s', 'state', 'm.room.name']), ['!r:s', 'm.room.name']);
  assert.deepEqual(matchSegments(pattern, ['rooms', '!r:s', 'state', 'm.room.name', '']), ['!r:s', 'm.room.name']);
  assert.equal(matchSegments(pattern, ['rooms', '', 'state', 'm.room.name']), undefined);
  assert.equal(matchSegments(pattern, ['rooms', '!r:s', 'state']), undefined);
  assert.equal(matchSegments(pattern, ['rooms', '!r:s', 'state', 'x', 'y']), undefined);
});
