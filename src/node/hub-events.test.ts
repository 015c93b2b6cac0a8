import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HubEvents } from './hub-events.ts';

test('reports reach listeners attached after the relay was handed out', () => {
  const events = new HubEvents();
  const { onInterest, onCommit } = events;
  onInterest('early', true); // nobody listens yet: dropped
  const seen: string[] = [];
  events.attach({ interest: (channel, used) => seen.push(`${channel}:${used}`) });
  events.attach({ commit: (seconds) => seen.push(`commit ${seconds}`) });
  onInterest('lobby', true);
  onCommit(0.5);
  onInterest('lobby', false);
  assert.deepEqual(seen, ['lobby:true', 'commit 0.5', 'lobby:false']);
});
