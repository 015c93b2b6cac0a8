// Why the store failed, as a stable code that callers branch on and clients are told,
// and a message that names the cause as SQLite (or the OS) gave it: "store full:
// SQLITE_FULL: database or disk is full". A failed write must say why, or a full disk
// looks like a bug.

/**
 * full: no space left (SQLITE_FULL, ENOSPC); unavailable: the file cannot be read or
 * written (I/O error, read-only, cannot open); corrupt: the file is damaged or not a
 * database; timeout: another connection held the lock too long; failed: anything else.
 */
export type StoreErrorCode = 'full' | 'unavailable' | 'corrupt' | 'timeout' | 'failed';

const HEADLINES: Record<StoreErrorCode, string> = {
  full: 'store full',
  unavailable: 'store unavailable',
  corrupt: 'store corrupt',
  timeout: 'store timed out',
  failed: 'store failed',
};

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** The cause in a few words, e.g. "SQLITE_FULL: database or disk is full". */
  readonly reason: string;

  constructor(code: StoreErrorCode, reason: string, cause?: unknown) {
    super(`${HEADLINES[code]}: ${reason}`, cause === undefined ? undefined : { cause });
    this.code = code;
    this.reason = reason;
  }
}

/** SQLite's primary result codes that can come out of a read or a write. */
const SQLITE_NAMES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  26: 'SQLITE_NOTADB',
};

/**
 * The extended I/O error codes worth naming, should one come (node:sqlite passes the
 * primary code today): they say which operation failed.
 */
const IOERR_NAMES: Record<number, string> = {
  1: 'SQLITE_IOERR_READ',
  2: 'SQLITE_IOERR_SHORT_READ',
  3: 'SQLITE_IOERR_WRITE',
  4: 'SQLITE_IOERR_FSYNC',
  5: 'SQLITE_IOERR_DIR_FSYNC',
  6: 'SQLITE_IOERR_TRUNCATE',
  7: 'SQLITE_IOERR_FSTAT',
  13: 'SQLITE_IOERR_ACCESS',
  18: 'SQLITE_IOERR_SHMOPEN',
  19: 'SQLITE_IOERR_SHMSIZE',
  21: 'SQLITE_IOERR_SHMMAP',
  24: 'SQLITE_IOERR_MMAP',
};

const SQLITE_IOERR = 10;
const NO_SPACE = /ENOSPC|no space|disk is full/i;

function sqliteName(errcode: number): string {
  const primary = errcode & 0xff;
  const name = SQLITE_NAMES[primary] ?? `SQLite error ${primary}`;
  if (primary !== SQLITE_IOERR || errcode === primary) return name;
  return IOERR_NAMES[errcode >> 8] ?? `${name} (${errcode})`;
}

function fieldOf(error: unknown, key: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[key] : undefined;
}

export interface ClassifyOptions {
  /**
   * Bytes free where the store lives, if known. node:sqlite does not pass on the OS
   * error behind an SQLITE_IOERR, so an I/O error on a disk with next to nothing free
   * is taken as the disk being full.
   */
  readonly bytesFree?: () => number | undefined;
}

/** Below this many free bytes an I/O error is put down to the full disk. */
const NEARLY_FULL = 1024 * 1024;

/** The StoreError for whatever a store operation threw (a StoreError stays as it is). */
export function toStoreError(error: unknown, options: ClassifyOptions = {}): StoreError {
  if (error instanceof StoreError) return error;
  const errcode = fieldOf(error, 'errcode');
  const message = error instanceof Error ? error.message : String(error);
  if (typeof errcode === 'number') {
    const errstr = fieldOf(error, 'errstr');
    const name = sqliteName(errcode);
    const text = typeof errstr === 'string' && errstr.length > 0 ? errstr : message;
    const reason = message === text || message.length === 0 ? `${name}: ${text}` : `${name}: ${text} (${message})`;
    switch (errcode & 0xff) {
      case 13:
        return new StoreError('full', reason, error);
      case SQLITE_IOERR: {
        if (NO_SPACE.test(message)) return new StoreError('full', reason, error);
        const free = safely(options.bytesFree);
        if (free !== undefined && free < NEARLY_FULL) return new StoreError('full', `${reason}; ENOSPC: ${free} bytes free`, error);
        return new StoreError('unavailable', reason, error);
      }
      case 11:
      case 26:
        return new StoreError('corrupt', reason, error);
      case 5:
      case 6:
        return new StoreError('timeout', reason, error);
      case 3:
      case 8:
      case 14:
        return new StoreError('unavailable', reason, error);
      default:
        return new StoreError('failed', reason, error);
    }
  }
  // Not from SQLite: an OS error (errno code) or a plain exception.
  const code = fieldOf(error, 'code');
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StoreError('full', message, error);
  if (code === 'EIO' || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return new StoreError('unavailable', message, error);
  const name = error instanceof Error ? error.name : 'Error';
  return new StoreError('failed', `${name}: ${message}`, error);
}

function safely(read: (() => number | undefined) | undefined): number | undefined {
  try {
    return read?.();
  } catch {
    return undefined; // the probe is a hint; its own failure must not hide the cause
  }
}
