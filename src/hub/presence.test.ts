// ChannelPresence: uids counted per connection, watchers told on the first arrival and
// the last departure only, members listed sorted and capped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelPresence } from './presence.ts';

test('a uid arrives with its first connection and leaves with its last; watchers hear only those', () => {
  const presence = new ChannelPresence();
  const heard: string[] = [];
  const watcher = { presence: (uid: string, here: boolean) => heard.push(`${uid} ${here ? 'in' : 'out'}`) };
  presence.watch('room', watcher);
  presence.arrive('room', 'bob');
  presence.arrive('room', 'bob');
  presence.arrive('other', 'carol');
  assert.equal(presence.connections('room', 'bob'), 2);
  presence.depart('room', 'bob');
  assert.deepEqual(heard, ['bob in']);
  presence.depart('room', 'bob');
  presence.depart('room', 'bob');
  presence.depart('room', 'nobody');
  assert.deepEqual(heard, ['bob in', 'bob out']);
  presence.unwatch('room', watcher);
  presence.arrive('room', 'dave');
  assert.deepEqual(heard, ['bob in', 'bob out']);
});

test('members are the distinct uids, sorted, cut at the limit, with the full count', () => {
  const presence = new ChannelPresence();
  for (const uid of ['zoe', 'amy', 'mia', 'amy']) presence.arrive('room', uid);
  assert.deepEqual(presence.members('room', 10), { uids: ['amy', 'mia', 'zoe'], count: 3 });
  assert.deepEqual(presence.members('room', 2), { uids: ['amy', 'mia'], count: 3 });
  assert.deepEqual(presence.members('empty', 10), { uids: [], count: 0 });
});

test('once silenced (the node is stopping), departures are not told', () => {
  const presence = new ChannelPresence();
  const heard: string[] = [];
  presence.watch('room', { presence: (uid) => heard.push(uid) });
  presence.arrive('room', 'bob');
  presence.silence();
  presence.depart('room', 'bob');
  assert.deepEqual(heard, ['bob']);
  assert.deepEqual(presence.members('room', 10), { uids: [], count: 0 });
});
