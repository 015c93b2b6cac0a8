import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoomEvent } from './events.ts';
import { formatPosition, formatSyncToken, isBefore, newAccessToken, parsePosition, parseSyncToken, positionAfter, positionBefore } from './tokens.ts';

const event = (depth: number, ts: number, id: string) => ({ depth, origin_server_ts: ts, event_id: id }) as RoomEvent;
const ID = '$' + 'A'.repeat(43);

test('sync tokens round-trip; anything else is refused', () => {
  assert.deepEqual(parseSyncToken(formatSyncToken({ stream: 42, ephemeral: 1_700_000_000_000 })), { stream: 42, ephemeral: 1_700_000_000_000 });
  for (const bad of ['', 's', 's1', 's1_', 'x1_2', 's-1_2', `s${'9'.repeat(16)}_1`]) assert.equal(parseSyncToken(bad), undefined, bad);
});

test('room positions name an event: before it or after it', () => {
  const at = event(3, 100, ID);
  const before = parsePosition(formatPosition(positionBefore(at)))!;
  const after = parsePosition(formatPosition(positionAfter(at)))!;
  assert.equal(isBefore(at, before), false);
  assert.equal(isBefore(at, after), true);
  assert.equal(isBefore(event(2, 999, ID), before), true);
  assert.equal(isBefore(event(3, 100, '$B' + 'A'.repeat(42)), after), false);
  for (const bad of ['t1_2_c_' + ID.slice(1), 't1_2_a_short', 's1_2', '']) assert.equal(parsePosition(bad), undefined, bad);
});

test('access tokens are random and long', () => {
  const tokens = new Set(Array.from({ length: 100 }, newAccessToken));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.ok(token.length >= 32);
});
