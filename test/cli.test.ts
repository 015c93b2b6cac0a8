// The `parley` command itself, run as a process: its version and top-level help.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
