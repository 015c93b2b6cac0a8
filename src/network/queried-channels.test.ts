import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { QueriedChannels } from './queried-channels.ts';

function setup(t: TestContext, limit: number) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const ended: string[] = [];
  return { queried: new QueriedChannels(limit, 60_000, (channel) => ended.push(channel)), ended };
}

test('a channel is kept for a while after its last query', (t) => {
  const { queried, ended } = setup(t, 10);
  queried.queried('a');
  t.mock.timers.tick(40_000);
  queried.queried('a');
  t.mock.timers.tick(40_000);
  assert.equal(queried.has('a'), true, 'the second query started the wait again');
  assert.deepEqual(ended, []);
  t.mock.timers.tick(20_000);
  assert.equal(queried.has('a'), false);
  assert.deepEqual(ended, ['a']);
});

test('past the limit the channel queried longest ago goes first', (t) => {
  const { queried, ended } = setup(t, 3);
  for (const channel of ['a', 'b', 'c']) queried.queried(channel);
  queried.queried('a'); // now b is the oldest
  queried.queried('d');
  assert.deepEqual(ended, ['b']);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((c) => queried.has(c)), [true, false, true, true]);
  for (let i = 0; i < 10_000; i++) queried.queried(`made-up-${i}`);
  assert.equal(queried.size, 3);
  t.mock.timers.tick(60_000);
  assert.equal(queried.size, 0);
  assert.equal(new Set(ended).size, ended.length, 'each channel ended once, pushed out or expired');
  assert.equal(ended.length, 4 + 10_000);
});

test('clear forgets everything without ending anything', (t) => {
  const { queried, ended } = setup(t, 3);
  queried.queried('a');
  queried.clear();
  t.mock.timers.tick(60_000);
  assert.deepEqual([queried.size, ended], [0, []]);
});
