import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EphemeralState } from './ephemeral.ts';

test('changes after a counter: the rooms whose typing or receipts changed, and typing notices that expired', () => {
  let now = 1_000;
  const state = new EphemeralState(() => now);
  const start = state.current();
  assert.equal(state.changedAfter(start), false);
  assert.deepEqual(state.changedRooms(start), []);
  state.setTyping('!a:x', '@a:x', true, 500);
  state.setReceipt('!b:x', '@b:x', { eventId: '$e', ts: now });
  assert.deepEqual(state.changedRooms(start).sort(), ['!a:x', '!b:x']);
  const seen = state.current();
  assert.equal(state.changedAfter(seen), false);
  now += 1_000;
  assert.equal(state.changedAfter(seen), true, 'the typing notice expired');
  assert.deepEqual(state.changedRooms(seen), ['!a:x']);
  assert.deepEqual(state.typing('!a:x').users, []);
  const after = state.current();
  assert.equal(state.changedAfter(after), false);
});
