import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogDestination, type WriteFn } from './log-destination.ts';

const line = (i: number) => `{"msg":"line ${i}"}\n`;

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, write`), { code });
}

test('lines reach the file in order, however they were batched', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'parley-log-')), 'out.log');
  const fd = openSync(path, 'w');
  const destination = new LogDestination({ fd });
  for (let i = 0; i < 1000; i++) destination.write(line(i));
  await destination.drain(5000);
  closeSync(fd);
  assert.equal(readFileSync(path, 'utf8'), Array.from({ length: 1000 }, (_, i) => line(i)).join(''));
  assert.deepEqual(destination.drops, { writeFailed: 0, backlogFull: 0 });
});

test('on a full disk (/dev/full) every line is dropped and counted, and nothing throws', async () => {
  const fd = openSync('/dev/full', 'w');
  const destination = new LogDestination({ fd });
  for (let i = 0; i < 500; i++) assert.equal(destination.write(line(i)), true);
  await destination.drain(5000);
  closeSync(fd);
  assert.deepEqual(destination.drops, { writeFailed: 500, backlogFull: 0 });
});

test('a write that never finishes holds back at most the backlog; the rest is dropped and counted', () => {
  const stuck: WriteFn = () => {};
  const destination = new LogDestination({ fd: 1, write: stuck, maxBacklog: 1000 });
  const size = line(0).length;
  for (let i = 0; i < 10_000; i++) destination.write(line(0));
  // One line went to the stuck write; the backlog holds what fits; the rest is dropped.
  assert.equal(destination.drops.backlogFull, 10_000 - 1 - Math.floor(1000 / size));
});

test('once writes work again, it says how many lines were lost and why', async () => {
  const written: string[] = [];
  let failures = 3;
  const flaky: WriteFn = (_fd, buffer, callback) =>
    setImmediate(() => {
      if (failures-- > 0) return callback(errno('ENOSPC'), 0);
      written.push(buffer.toString());
      callback(null, buffer.length);
    });
  const recovered: Array<[number, string]> = [];
  const destination = new LogDestination({ fd: 1, write: flaky, onRecovered: (dropped, code) => recovered.push([dropped, code]) });
  for (let i = 0; i < 3; i++) {
    destination.write(line(i));
    await destination.drain(1000);
  }
  destination.write(line(3));
  await destination.drain(1000);
  assert.deepEqual(recovered, [[3, 'ENOSPC']]);
  assert.deepEqual(written, [line(3)]);
  assert.deepEqual(destination.drops, { writeFailed: 3, backlogFull: 0 });
});

test('a write the OS takes only part of is finished; a full pipe (EAGAIN) is waited for', async () => {
  const written: Buffer[] = [];
  let calls = 0;
  const awkward: WriteFn = (_fd, buffer, callback) =>
    setImmediate(() => {
      calls++;
      if (calls % 3 === 0) return callback(errno('EAGAIN'), 0);
      const part = buffer.subarray(0, Math.ceil(buffer.length / 2));
      written.push(Buffer.from(part));
      callback(null, part.length);
    });
  const destination = new LogDestination({ fd: 1, write: awkward });
  for (let i = 0; i < 20; i++) destination.write(line(i));
  await destination.drain(5000);
  assert.equal(Buffer.concat(written).toString(), Array.from({ length: 20 }, (_, i) => line(i)).join(''));
  assert.deepEqual(destination.drops, { writeFailed: 0, backlogFull: 0 });
});

test('a write that throws at once drops its lines instead of throwing', async () => {
  const throwing: WriteFn = () => {
    throw errno('EBADF');
  };
  const destination = new LogDestination({ fd: 1, write: throwing });
  destination.write(line(0));
  await destination.drain(1000);
  destination.write(line(1));
  await destination.drain(1000);
  assert.equal(destination.drops.writeFailed, 2);
});
