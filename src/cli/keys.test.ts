import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadOrCreateIdentity } from '../identity/node-identity.ts';
import { peerIdOf } from '../p2p/host/peer-identity.ts';
import { runKeys } from './keys.ts';

function run(argv: string[]): { code: number; out: string; err: string } {
  const out = new PassThrough();
  const err = new PassThrough();
  const code = runKeys(argv, out, err);
  return { code, out: String(out.read() ?? ''), err: String(err.read() ?? '') };
}

test('shows the same node id every time for one data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-keys-'));
  const identity = loadOrCreateIdentity(dir);
  const first = run(['show', '--data', dir]);
  assert.equal(first.code, 0);
  assert.match(first.out, /^node id: {4}[0-9a-f]{32}\npeer id: {4}12D3KooW[1-9A-HJ-NP-Za-km-z]{44}\npublic key: [A-Za-z0-9_-]{43} \(Ed25519\)\n/);
  assert.ok(first.out.includes(identity.nodeId));
  assert.ok(first.out.includes(`peer id:    ${peerIdOf(identity.publicKey)}\n`));
  assert.equal(run(['show', '--data', dir]).out, first.out);
});

test('a data directory without a key is neither created nor given one; the message says what to do', () => {
  const missing = join(mkdtempSync(join(tmpdir(), 'parley-keys-')), 'mistyped');
  const shown = run(['show', '--data', missing]);
  assert.equal(shown.code, 1);
  assert.equal(shown.out, '');
  assert.match(shown.err, /no node key in .*mistyped/);
  assert.match(shown.err, /parley serve --data .*mistyped/);
  assert.equal(existsSync(missing), false);

  const empty = mkdtempSync(join(tmpdir(), 'parley-keys-'));
  assert.equal(run(['show', '--data', empty]).code, 1);
  assert.equal(existsSync(join(empty, 'node.key')), false);
});

test('usage errors exit 2', () => {
  assert.equal(run([]).code, 2);
  assert.equal(run(['rotate']).code, 2);
  assert.equal(run(['show', '--nope']).code, 2);
  assert.equal(run(['--help']).code, 0);
});
