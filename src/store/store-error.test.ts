import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { StoreError, toStoreError } from './store-error.ts';

/** An error shaped as node:sqlite throws them. */
function sqliteError(errcode: number, errstr: string): Error {
  return Object.assign(new Error(errstr), { code: 'ERR_SQLITE_ERROR', errcode, errstr });
}

test('SQLite and OS errors map to a stable code and a message naming the cause', () => {
  const cases: Array<[unknown, string, string]> = [
    [sqliteError(13, 'database or disk is full'), 'full', 'store full: SQLITE_FULL: database or disk is full'],
    [sqliteError(778, 'disk I/O error'), 'unavailable', 'store unavailable: SQLITE_IOERR_WRITE: disk I/O error'],
    [sqliteError(10, 'disk I/O error'), 'unavailable', 'store unavailable: SQLITE_IOERR: disk I/O error'],
    [sqliteError(11, 'database disk image is malformed'), 'corrupt', 'store corrupt: SQLITE_CORRUPT: database disk image is malformed'],
    [sqliteError(26, 'file is not a database'), 'corrupt', 'store corrupt: SQLITE_NOTADB: file is not a database'],
    [sqliteError(5, 'database is locked'), 'timeout', 'store timed out: SQLITE_BUSY: database is locked'],
    [sqliteError(8, 'attempt to write a readonly database'), 'unavailable', 'store unavailable: SQLITE_READONLY: attempt to write a readonly database'],
    [sqliteError(19, 'constraint failed'), 'failed', 'store failed: SQLITE_CONSTRAINT: constraint failed'],
    [Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), 'full', 'store full: ENOSPC: no space left on device, write'],
    [Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }), 'unavailable', 'store unavailable: EIO: i/o error, read'],
    [new TypeError('bad argument'), 'failed', 'store failed: TypeError: bad argument'],
    ['a string', 'failed', 'store failed: Error: a string'],
  ];
  for (const [cause, code, message] of cases) {
    const error = toStoreError(cause);
    assert.ok(error instanceof StoreError);
    assert.deepEqual([error.code, error.message], [code, message]);
    assert.equal(error.cause, cause);
  }
});

test('an I/O error on a disk with next to nothing free is the disk being full', () => {
  const full = toStoreError(sqliteError(4874, 'disk I/O error'), { bytesFree: () => 4096 });
  assert.deepEqual([full.code, full.message], ['full', 'store full: SQLITE_IOERR_SHMSIZE: disk I/O error; ENOSPC: 4096 bytes free']);
  assert.equal(toStoreError(sqliteError(4874, 'disk I/O error'), { bytesFree: () => 1e9 }).code, 'unavailable');
  const probeFails = () => {
    throw new Error('statfs failed');
  };
  assert.equal(toStoreError(sqliteError(4874, 'disk I/O error'), { bytesFree: probeFails }).code, 'unavailable');
});

test('a StoreError is passed through as it is', () => {
  const error = new StoreError('corrupt', 'SQLITE_CORRUPT: malformed');
  assert.equal(toStoreError(error), error);
});

test('node:sqlite errors carry the primary result code and its text; the message says more', () => {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (v INTEGER NOT NULL)');
  const error = (() => {
    try {
      db.exec('INSERT INTO t VALUES (NULL)');
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  db.close();
  assert.deepEqual([toStoreError(error).code, toStoreError(error).message], ['failed', 'store failed: SQLITE_CONSTRAINT: constraint failed (NOT NULL constraint failed: t.v)']);
});
