import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parseGroupArgs, runGroup } from './group.ts';

const common = ['--url', 'ws://127.0.0.1:1/', '--uid', 'alice', '--data', '/nonexistent'];

test('verbs take their arguments and the three required flags', () => {
  const parsed = parseGroupArgs(['add', 'team', 'bob', 'carol', ...common], {});
  assert.deepEqual(parsed, { verb: 'add', args: ['team', 'bob', 'carol'], url: 'ws://127.0.0.1:1/', uid: 'alice', dataDir: '/nonexistent', key: undefined });
  assert.equal(parseGroupArgs(['read', 'team', ...common], { MLES_KEY: 'k' }) instanceof Object, true);
  assert.equal((parseGroupArgs(['read', 'team', ...common], { MLES_KEY: 'k' }) as { key: string }).key, 'k');
  assert.equal(parseGroupArgs(['--help'], {}), 'help');
  assert.match(String(parseGroupArgs(['add', 'team', ...common], {})), /wrong number/);
  assert.match(String(parseGroupArgs(['send', 'team', 'a', 'b', ...common], {})), /wrong number/);
  assert.match(String(parseGroupArgs(['explode', ...common], {})), /unknown verb/);
  assert.match(String(parseGroupArgs(['read', 'team', '--uid', 'alice'], {})), /required/);
  assert.match(String(parseGroupArgs(['read', 'team', '--bogus', ...common], {})), /bogus/);
});

test('bad flags exit 2 with usage; help exits 0', async () => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  assert.equal(await runGroup(['create'], { stdout, stderr, env: {} }), 2);
  assert.match(String(stderr.read()), /Usage: parley group/);
  assert.equal(await runGroup(['-h'], { stdout, stderr, env: {} }), 0);
  assert.match(String(stdout.read()), /read GROUP/);
});
