import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCursorStore } from './file-cursor-store.ts';

function tempFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'parley-cursors-')), 'cursors.json');
}

test('a missing file is an empty store; cursors survive a reopen', async () => {
  const path = tempFile();
  const store = new FileCursorStore(path);
  assert.equal(store.get('a'), undefined);
  store.set('a', 5);
  store.set('b c', 0);
  assert.equal(store.get('a'), 5);
  await store.close();
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { version: 1, cursors: { a: 5, 'b c': 0 } });
  const again = new FileCursorStore(path);
  assert.deepEqual(again.entries().sort(), [['a', 5], ['b c', 0]]);
  await again.close();
  assert.throws(() => again.set('a', 6), /closed/);
});

test('batches a burst of sets into few writes, and flush() writes at once', async () => {
  const path = tempFile();
  const store = new FileCursorStore(path, { debounceMs: 10_000 });
  for (let seq = 1; seq <= 1000; seq++) store.set('ch', seq);
  // Nothing written yet: the debounce has not elapsed.
  assert.throws(() => readFileSync(path), /ENOENT/);
  await store.flush();
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).cursors, { ch: 1000 });
  // No temp files are left behind.
  assert.deepEqual(readdirSync(join(path, '..')), ['cursors.json']);
  await store.close();
});

test('writes by itself after the debounce', async () => {
  const path = tempFile();
  const store = new FileCursorStore(path, { debounceMs: 5 });
  store.set('x', 42);
  const deadline = Date.now() + 2000;
  for (;;) {
    try {
      if (JSON.parse(readFileSync(path, 'utf8')).cursors.x === 42) break;
    } catch {
      // not written yet
    }
    assert.ok(Date.now() < deadline, 'no write within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await store.close();
});

test('sets during a write are written by the next one; writes never overlap', async () => {
  const path = tempFile();
  const store = new FileCursorStore(path, { debounceMs: 0 });
  const flushes: Array<Promise<void>> = [];
  for (let seq = 1; seq <= 50; seq++) {
    store.set('ch', seq);
    flushes.push(store.flush());
  }
  await Promise.all(flushes);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).cursors.ch, 50);
  await store.close();
});

test('a malformed file is an error, not an empty store', () => {
  const path = tempFile();
  for (const [text, error] of [
    ['not json', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"version":2,"cursors":{}}', /unknown version/],
    ['{"version":1}', /no cursors/],
    ['{"version":1,"cursors":{"a":-1}}', /not a whole number/],
  ] as const) {
    writeFileSync(path, text);
    assert.throws(() => new FileCursorStore(path), error, text);
  }
});

test('a write that fails is reported by flush and retried', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cursors-'));
  // The file's directory does not exist: the temp file cannot be created.
  const store = new FileCursorStore(join(dir, 'missing', 'cursors.json'), { debounceMs: 10_000 });
  store.set('a', 1);
  await assert.rejects(store.flush(), /ENOENT/);
  await assert.rejects(store.flush(), /ENOENT/, 'still dirty, tried again');
  assert.deepEqual(readdirSync(dir), []);
});
