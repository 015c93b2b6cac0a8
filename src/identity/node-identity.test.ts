import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_FILE, loadOrCreateIdentity } from './node-identity.ts';

test('creates a key on first start and keeps the same node id afterwards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-id-'));
  const first = loadOrCreateIdentity(dir);
  assert.match(first.nodeId, /^[0-9a-f]{32}$/);
  assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  assert.equal(loadOrCreateIdentity(dir).nodeId, first.nodeId);
  assert.notEqual(loadOrCreateIdentity(mkdtempSync(join(tmpdir(), 'parley-id-'))).nodeId, first.nodeId);
});

test('refuses a key file that is not an Ed25519 key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-id-'));
  writeFileSync(join(dir, KEY_FILE), 'garbage');
  assert.throws(() => loadOrCreateIdentity(dir));
});
