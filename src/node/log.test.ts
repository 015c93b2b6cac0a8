import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import type { WriteFn } from './log-destination.ts';
import { createNodeLog, lineKind, REPEATS_DROPPED } from './log.ts';

/** A destination that keeps every line, parsed. */
function capture(): { lines: Array<Record<string, unknown>>; write: WriteFn } {
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    write: (_fd, buffer, callback) =>
      setImmediate(() => {
        for (const text of buffer.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
        callback(null, buffer.length);
      }),
  };
}

test('a storm of one error is written a few times a window, then summed up in one line', async () => {
  let clock = 0;
  const { lines, write } = capture();
  const output = createNodeLog({ level: 'info', write, now: () => clock, repeats: { perWindow: 5, windowMs: 10_000 } });
  const full = Object.assign(new Error('store full: SQLITE_FULL: database or disk is full'), { code: 'full' });
  for (let i = 0; i < 100; i++) output.log.error({ err: full, storeCode: 'full' }, 'store refused a batch');
  output.log.info({ code: 'RATE_LIMITED' }, 'upgrade refused'); // another kind of line goes through
  clock = 10_000;
  output.log.error({ err: full, storeCode: 'full' }, 'store refused a batch');
  await output.close();
  assert.deepEqual(
    lines.map((l) => l.msg),
    [...Array<string>(5).fill('store refused a batch'), 'upgrade refused', REPEATS_DROPPED, 'store refused a batch'],
  );
  const summary = lines[6]!;
  assert.deepEqual([summary.repeated, summary.code, summary.dropped, summary.level], ['store refused a batch', 'full', 95, 50]);
  assert.deepEqual(output.dropped(), { repeated: 95, writeFailed: 0, backlogFull: 0 });
});

test('repeats dropped at the end of a storm are reported on close', async () => {
  const { lines, write } = capture();
  const output = createNodeLog({ level: 'info', write, repeats: { perWindow: 1, windowMs: 60_000 } });
  for (let i = 0; i < 4; i++) output.log.warn({ code: 'TOO_SLOW' }, 'connection refused');
  await output.close();
  assert.deepEqual(
    lines.map((l) => [l.msg, l.dropped]),
    [
      ['connection refused', undefined],
      [REPEATS_DROPPED, 3],
    ],
  );
});

test('logging to a full disk drops and counts the lines, and throws nothing', async () => {
  const fd = openSync('/dev/full', 'w');
  const output = createNodeLog({ level: 'info', fd, repeats: { perWindow: 1000, windowMs: 10_000 } });
  for (let i = 0; i < 200; i++) output.log.info({ i }, `line ${i}`);
  await output.close();
  closeSync(fd);
  assert.deepEqual(output.dropped(), { repeated: 0, writeFailed: 200, backlogFull: 0 });
});

test('lines are the same kind when their message and code are', () => {
  assert.deepEqual(lineKind(['plain']), { msg: 'plain', code: undefined });
  assert.deepEqual(lineKind([{ code: 'BAD_UPGRADE', remote: '1.2.3.4' }, 'upgrade refused']), { msg: 'upgrade refused', code: 'BAD_UPGRADE' });
  assert.deepEqual(lineKind([{ err: Object.assign(new Error('x'), { code: 'ENOSPC' }) }, 'write failed']), { msg: 'write failed', code: 'ENOSPC' });
  assert.deepEqual(lineKind([{ storeCode: 'full', err: new Error('x') }, 'store refused a batch']), { msg: 'store refused a batch', code: 'full' });
  assert.deepEqual(lineKind([Object.assign(new Error('boom'), { code: 'EIO' })]), { msg: 'boom', code: 'EIO' });
  assert.deepEqual(lineKind([{ n: 1 }]), { msg: '', code: undefined });
});
