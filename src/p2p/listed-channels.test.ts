import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ListedChannels } from './listed-channels.ts';

const quiet = pino({ level: 'silent' });

test('listed channels are saved and read back by the next start; listing again replaces the description', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'parley-listed-')), 'public-channels.json');
  const first = new ListedChannels(file, quiet);
  assert.deepEqual(first.list(), []);
  first.add('lobby', 'Say hello');
  first.add('news', '');
  first.add('lobby', 'Say hi');
  assert.deepEqual(new ListedChannels(file, quiet).list(), [
    { channel: 'lobby', about: 'Say hi' },
    { channel: 'news', about: '' },
  ]);
});

test('an unreadable file lists nothing, and invalid entries are skipped, without stopping the node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-listed-'));
  const garbage = join(dir, 'garbage.json');
  writeFileSync(garbage, '{not json');
  assert.deepEqual(new ListedChannels(garbage, quiet).list(), []);
  const mixed = join(dir, 'mixed.json');
  writeFileSync(mixed, JSON.stringify([{ channel: 'ok', about: 'fine' }, { channel: '', about: 'x' }, { channel: 'long', about: 'x'.repeat(281) }, 7]));
  const listed = new ListedChannels(mixed, quiet);
  assert.deepEqual(listed.list(), [{ channel: 'ok', about: 'fine' }]);
  // Saving writes what is valid.
  listed.add('more', '');
  assert.deepEqual(JSON.parse(readFileSync(mixed, 'utf8')), [
    { channel: 'ok', about: 'fine' },
    { channel: 'more', about: '' },
  ]);
});

test('a channel taken off the list stays off after a restart; one never listed is not removed', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'parley-listed-')), 'public-channels.json');
  const listed = new ListedChannels(file, quiet);
  listed.add('lobby', 'Say hello');
  listed.add('news', '');
  assert.equal(listed.remove('lobby'), true);
  assert.equal(listed.remove('lobby'), false);
  assert.equal(listed.remove('never'), false);
  assert.equal(listed.has('news'), true);
  assert.deepEqual(new ListedChannels(file, quiet).list(), [{ channel: 'news', about: '' }]);
});
