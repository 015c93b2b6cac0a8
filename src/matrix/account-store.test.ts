import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AccountStore } from './account-store.ts';

test('tokens, sent transactions, filters and stream positions survive a reopen; a revoked token is gone at once', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-matrix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'matrix.db');
  const first = new AccountStore(path);
  assert.equal(first.createUser('@a:x', 'hash', false, 1), true);
  assert.equal(first.createUser('@a:x', 'hash', false, 1), false, 'a user id is taken once');
  first.addDevice('token-1', '@a:x', 'DEV1', null, 1);
  first.addDevice('token-2', '@a:x', 'DEV2', 'phone', 1);
  assert.equal(first.deviceOf('token-1')?.deviceId, 'DEV1');
  first.rememberSent('@a:x', 'DEV1', 'txn', '$event');
  const filter = first.addFilter('@a:x', '{"room":{}}');
  const pos = first.addToStream('matrix/!r:x', 7);
  const dataPos = first.setAccountData('@a:x', '', 'm.push_rules', { a: 1 });
  assert.ok(dataPos > pos);
  first.removeDevice('@a:x', 'DEV2');
  assert.equal(first.deviceOf('token-2'), undefined, 'logged out: the cached token is gone too');
  first.close();

  const second = new AccountStore(path);
  assert.equal(second.deviceOf('token-1')?.userId, '@a:x');
  assert.equal(second.deviceOf('token-2'), undefined);
  assert.equal(second.sentEvent('@a:x', 'DEV1', 'txn'), '$event');
  assert.equal(second.sentEvent('@a:x', 'DEV2', 'txn'), undefined, 'transaction ids are per device');
  assert.equal(second.filter('@a:x', filter), '{"room":{}}');
  assert.equal(second.filter('@b:x', filter), undefined, 'a filter is its owner\'s');
  assert.deepEqual([...second.streamPositions('matrix/!r:x')], [[7, pos]]);
  assert.equal(second.lastPos(), dataPos, 'positions go on from where they were');
  second.removeAllTokens('@a:x');
  assert.equal(second.deviceOf('token-1'), undefined);
  second.close();
});
