import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MatrixError } from './errors.ts';
import { eventMatches, parseSyncFilter, roomMatches } from './filters.ts';

test('a sync filter: timeline limit, types with wildcards, senders, rooms, lazy members', () => {
  const filter = parseSyncFilter({
    room: {
      rooms: ['!a:x', '!b:x'],
      not_rooms: ['!b:x'],
      timeline: { limit: 5, types: ['m.room.*'], not_types: ['m.room.member'], not_senders: ['@spam:x'] },
      state: { lazy_load_members: true },
    },
  });
  assert.equal(filter.room.timeline.limit, 5);
  assert.equal(filter.room.lazyLoadMembers, true);
  assert.equal(roomMatches(filter.room, '!a:x'), true);
  assert.equal(roomMatches(filter.room, '!b:x'), false);
  assert.equal(roomMatches(filter.room, '!c:x'), false);
  const matches = (type: string, sender = '@a:x') => eventMatches(filter.room.timeline, { type, sender });
  assert.equal(matches('m.room.message'), true);
  assert.equal(matches('m.room.member'), false);
  assert.equal(matches('m.typing'), false);
  assert.equal(matches('m.room.message', '@spam:x'), false);
});

test('bad filters are M_BAD_JSON with the field named', () => {
  for (const [filter, field] of [
    [[], /object/],
    [{ room: [] }, /room/],
    [{ room: { timeline: { limit: -1 } } }, /room\.timeline\.limit/],
    [{ room: { timeline: { types: 'm.room.message' } } }, /room\.timeline\.types/],
    [{ account_data: { not_types: [1] } }, /account_data\.not_types/],
  ] as const) {
    assert.throws(() => parseSyncFilter(filter), (error: unknown) => error instanceof MatrixError && error.errcode === 'M_BAD_JSON' && field.test(error.message));
  }
});
