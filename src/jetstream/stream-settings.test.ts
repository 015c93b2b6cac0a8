import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planStream, wantedStream } from './stream-settings.ts';

test('no stream yet: create it', () => {
  const wanted = wantedStream('PARLEY', 3);
  assert.deepEqual(planStream(wanted, undefined), { action: 'create', config: wanted });
  assert.deepEqual(wanted.subjects, ['PARLEY.c.>']);
  assert.equal(wanted.num_replicas, 3);
});

test('the same stream: keep it; other replicas or duplicate window: update in place', () => {
  const wanted = wantedStream('PARLEY', 3);
  assert.deepEqual(planStream(wanted, wanted), { action: 'keep' });
  const plan = planStream(wanted, { ...wanted, num_replicas: 1, duplicate_window: 120e9 });
  assert.equal(plan.action, 'update');
  assert.deepEqual(plan.action === 'update' && plan.changes, ['replicas 1 -> 3', 'duplicate window 120s -> 600s']);
});

test('settings JetStream cannot change, or that remove messages, are a conflict that names them', () => {
  const wanted = wantedStream('PARLEY', 1);
  const plan = planStream(wanted, { ...wanted, subjects: ['other.>'], storage: 'memory', retention: 'workqueue', max_age: 5e9, max_msgs_per_subject: 10 });
  assert.equal(plan.action, 'conflict');
  const problems = plan.action === 'conflict' ? plan.problems.join('\n') : '';
  assert.match(problems, /its subjects are \["other\.>"\], parley needs exactly \["PARLEY\.c\.>"\]/);
  assert.match(problems, /retention policy is "workqueue"/);
  assert.match(problems, /storage is "memory"/);
  assert.match(problems, /max_msgs_per_subject 10, max_age 5000000000/);
});
