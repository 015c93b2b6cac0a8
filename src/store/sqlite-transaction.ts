// Transactions and reads on a node:sqlite database that fail with a StoreError saying
// why, for every SQLite-backed part of the node (the message store, the Mles join
// headers). On SQLITE_FULL and some I/O errors SQLite has already rolled back: a
// ROLLBACK then would throw ("no transaction is active") and hide the cause.

import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { StoreError, toStoreError } from './store-error.ts';

export class SqliteGuard {
  readonly #db: DatabaseSync;
  /** Free bytes on the database's filesystem, to tell a full disk behind an I/O error. */
  readonly #bytesFree: (() => number) | undefined;

  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    if (path !== ':memory:' && path !== '') {
      const directory = dirname(path);
      this.#bytesFree = () => {
        const fs = statfsSync(directory);
        return fs.bavail * fs.bsize;
      };
    }
  }

  /**
   * Runs `work` in one transaction and then `apply`, which brings whatever the caller
   * caches up to what was committed: nothing cached changes before the commit, so a
   * failed one leaves memory exactly as it was, like the database.
   */
  transaction<T>(work: () => T, apply: (result: T) => void = () => {}): T {
    let result: T;
    try {
      this.#db.exec('BEGIN');
      result = work();
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isOpen && this.#db.isTransaction) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {
          // The first error says why; SQLite ends the transaction itself in this case.
        }
      }
      throw this.error(error);
    }
    apply(result);
    return result;
  }

  /** Runs a read, failing with a StoreError that says why. */
  reading<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw this.error(error);
    }
  }

  error(error: unknown): StoreError {
    return toStoreError(error, { bytesFree: this.#bytesFree });
  }
}
