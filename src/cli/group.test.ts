import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { GROUP_USAGE, parseGroupArgs, runGroup } from './group.ts';

const common = ['--url', 'ws://127.0.0.1:1/', '--uid', 'alice', '--data', '/nonexistent'];

test('verbs take their arguments and the three required flags', () => {
  const parsed = parseGroupArgs(['add', 'team', 'bob', 'carol', ...common], {});
  assert.deepEqual(parsed, { verb: 'add', args: ['team', 'bob', 'carol'], url: 'ws://127.0.0.1:1/', uid: 'alice', dataDir: '/nonexistent', key: undefined, waitMs: undefined });
  assert.equal(parseGroupArgs(['read', 'team', ...common], { MLES_KEY: 'k' }) instanceof Object, true);
  assert.equal((parseGroupArgs(['read', 'team', ...common], { MLES_KEY: 'k' }) as { key: string }).key, 'k');
  assert.equal(parseGroupArgs(['--help'], {}), 'help');
  assert.match(String(parseGroupArgs(['add', 'team', ...common], {})), /wrong number/);
  assert.match(String(parseGroupArgs(['send', 'team', 'a', 'b', ...common], {})), /wrong number/);
  assert.match(String(parseGroupArgs(['explode', ...common], {})), /unknown verb/);
  assert.match(String(parseGroupArgs(['read', 'team', '--uid', 'alice'], {})), /required/);
  assert.match(String(parseGroupArgs(['read', 'team', '--bogus', ...common], {})), /bogus/);
});

test('--url, --uid and --data default to PARLEY_URL, PARLEY_UID and PARLEY_DATA; flags win', () => {
  const env = { PARLEY_URL: 'ws://env:1/', PARLEY_UID: 'envuser', PARLEY_DATA: '/env-data' };
  assert.deepEqual(parseGroupArgs(['read', 'team'], env), { verb: 'read', args: ['team'], url: 'ws://env:1/', uid: 'envuser', dataDir: '/env-data', key: undefined, waitMs: undefined });
  assert.deepEqual(parseGroupArgs(['read', 'team', ...common], env), { verb: 'read', args: ['team'], url: 'ws://127.0.0.1:1/', uid: 'alice', dataDir: '/nonexistent', key: undefined, waitMs: undefined });
  assert.deepEqual(parseGroupArgs(['read', 'team', '--uid', 'bob'], env), { verb: 'read', args: ['team'], url: 'ws://env:1/', uid: 'bob', dataDir: '/env-data', key: undefined, waitMs: undefined });
  const missing = String(parseGroupArgs(['read', 'team', '--uid', 'bob'], { PARLEY_URL: 'ws://env:1/', PARLEY_DATA: '' }));
  assert.match(missing, /--data \(or env PARLEY_DATA\)/);
  assert.doesNotMatch(missing, /--url|--uid/);
  const none = String(parseGroupArgs(['read', 'team'], {}));
  for (const name of ['--url', 'PARLEY_URL', '--uid', 'PARLEY_UID', '--data', 'PARLEY_DATA']) assert.ok(none.includes(name), name);
});

test('the usage names the environment defaults', () => {
  assert.match(GROUP_USAGE, /default: env PARLEY_URL/);
  assert.match(GROUP_USAGE, /default: env PARLEY_UID/);
  assert.match(GROUP_USAGE, /default: env PARLEY_DATA/);
});

test('bad flags exit 2 with usage; help exits 0', async () => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  assert.equal(await runGroup(['create'], { stdout, stderr, env: {} }), 2);
  assert.match(String(stderr.read()), /Usage: parley group/);
  assert.equal(await runGroup(['-h'], { stdout, stderr, env: {} }), 0);
  assert.match(String(stdout.read()), /read GROUP/);
});

test('--wait takes seconds; anything else is refused with what it takes', () => {
  const common = ['--url', 'ws://127.0.0.1:1/', '--uid', 'alice', '--data', '/nonexistent'];
  const parsed = parseGroupArgs(['add', 'team', 'bob', ...common, '--wait', '2.5'], {});
  assert.equal(typeof parsed === 'object' ? parsed.waitMs : parsed, 2500);
  assert.equal(parseGroupArgs(['add', 'team', 'bob', ...common, '--wait', 'soon'], {}), '--wait takes a number of seconds (0 or more), not "soon"');
  assert.equal(parseGroupArgs(['add', 'team', 'bob', ...common, '--wait=-1'], {}), '--wait takes a number of seconds (0 or more), not "-1"');
});
