import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authAccepted, mlesAuth } from './auth.ts';

const vectors: Array<[string, string, string | undefined, string]> = [
  ['alice', 'example', 'secret', 'afa46b8689dae7a5'],
  ['alice', 'example', undefined, '9b3b95527f7c2d80'],
  ['bob', 'example', 'secret', '6f862a3096e7c765'],
];

test('computes the Mles auth test vectors', () => {
  for (const [uid, channel, key, auth] of vectors) assert.equal(mlesAuth(uid, channel, key), auth);
});

test('the concatenation is ambiguous, as in the reference', () => {
  assert.equal(mlesAuth('alice', 'exampl', 'esecret'), 'afa46b8689dae7a5');
});

test('with a key, auth is required and must match', () => {
  assert.equal(authAccepted('alice', 'example', 'afa46b8689dae7a5', 'secret'), true);
  assert.equal(authAccepted('alice', 'example', 'AFA46B8689DAE7A5', 'secret'), true);
  assert.equal(authAccepted('alice', 'example', undefined, 'secret'), false);
  assert.equal(authAccepted('alice', 'example', '6f862a3096e7c765', 'secret'), false);
  assert.equal(authAccepted('alice', 'example', 'zz', 'secret'), false);
  assert.equal(authAccepted('alice', 'example', '', 'secret'), false);
});

test('leading zeros do not matter, up to 64 hex digits in all', () => {
  assert.equal(authAccepted('alice', 'example', '0afa46b8689dae7a5', 'secret'), true, '17 digits');
  assert.equal(authAccepted('alice', 'example', 'afa46b8689dae7a5'.padStart(64, '0'), 'secret'), true, '64 digits');
  assert.equal(authAccepted('alice', 'example', 'afa46b8689dae7a5'.padStart(65, '0'), 'secret'), false, '65 digits');
  assert.equal(authAccepted('alice', 'example', '1afa46b8689dae7a5', 'secret'), false, 'a 17th digit that is not zero');
  const small = mlesAuth('bob', 'example', 'secret'); // 6f86...: no leading zero of its own
  assert.equal(authAccepted('bob', 'example', `000${small}`, 'secret'), true);
});

test('an empty key still requires auth', () => {
  assert.equal(authAccepted('alice', 'example', undefined, ''), false);
  assert.equal(authAccepted('alice', 'example', mlesAuth('alice', 'example', ''), ''), true);
});

test('without a key, no auth passes and a present auth must be the unkeyed hash', () => {
  assert.equal(authAccepted('alice', 'example', undefined, undefined), true);
  assert.equal(authAccepted('alice', 'example', '9b3b95527f7c2d80', undefined), true);
  assert.equal(authAccepted('alice', 'example', 'afa46b8689dae7a5', undefined), false);
});
