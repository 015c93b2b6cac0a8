import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, passwordMatches } from './passwords.ts';

test('scrypt hashes: salted, self-describing, and only the right password matches', async () => {
  const [one, two] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
  assert.notEqual(one, two, 'each hash has its own salt');
  assert.match(one, /^scrypt\$16384\$8\$1\$/);
  assert.equal(await passwordMatches('correct horse', one), true);
  assert.equal(await passwordMatches('correct horse!', one), false);
  assert.equal(await passwordMatches('correct horse', 'plain'), false);
});
