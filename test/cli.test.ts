// The `parley` command itself, run as a process: its version, top-level help, and serve's config file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO_ROOT } from './helpers/node-process.ts';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function parley(...args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('parley -v, --version and version all print the version', () => {
  for (const spelling of ['-v', '--version', 'version']) {
    assert.equal(parley(spelling), `parley ${VERSION}\n`, spelling);
  }
});

test('the top-level help lists the version command', () => {
  assert.match(parley('help'), /^ {2}version +.*-v, --version/m);
});

test('parley serve --config: a bad line stops it with file:line; --print-config shows the file and flags, secrets hidden', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-config-'));
  const file = join(dir, 'parley.conf');
  writeFileSync(file, '# node\nlisten = 127.0.0.1:0\nretain-cont = 5\n');
  const refused = spawnSync(process.execPath, [CLI, 'serve', '--config', file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, new RegExp(`${file.replaceAll('/', '\\/')}:3: unknown setting "retain-cont"; did you mean "retain-count"\\?`));

  writeFileSync(file, 'listen = 127.0.0.1:0\nmemory = true\n');
  const printed = spawnSync(process.execPath, [CLI, 'serve', '--config', file, '--limit', '9', '--print-config'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, PEER_KEY: 'do-not-print-me' },
  });
  assert.equal(printed.status, 0, printed.stderr);
  assert.match(printed.stdout, /^limit = 9$/m);
  assert.match(printed.stdout, /^memory = true$/m);
  assert.match(printed.stdout, /^# PEER_KEY: set \(not shown\)$/m);
  assert.doesNotMatch(printed.stdout, /do-not-print-me/);
});
