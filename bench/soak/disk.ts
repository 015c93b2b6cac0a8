// A's disk: the tmpfs its store lives on (mounted and unmounted here), the ballast file
// that fills it, and when the disk-full phase ran.

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from './common.ts';
import { TMPFS_MIB } from './shape.ts';

/** When the disk-full phase ran: refusals inside it are expected, outside it they are not. */
export class DiskState {
  fullSince: number | undefined;
  recoveredAt: number | undefined;
  isFull(now = performance.now()): boolean {
    return this.fullSince !== undefined && now >= this.fullSince && (this.recoveredAt === undefined || now <= this.recoveredAt + 1000);
  }
}

export interface Scratch {
  readonly dir: string;
  readonly mounted: boolean;
  /** Why it is not a tmpfs of its own, if not. */
  readonly why?: string;
}

export function makeScratch(mount: boolean): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'parley-soak-a-'));
  if (!mount) return { dir, mounted: false, why: '--no-disk-full' };
  if (process.getuid?.() !== 0) return { dir, mounted: false, why: 'not root: cannot mount a tmpfs' };
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { dir, mounted: false, why: `mount failed: ${(r.stderr || r.error?.message || '').trim()}` };
  return { dir, mounted: true };
}

/** Unmounts (retrying while a dying process still holds it, then lazily) and removes the directory. */
export function dropScratch(scratch: Scratch): void {
  if (scratch.mounted) {
    let done = false;
    for (let i = 0; i < 20 && !done; i++) {
      done = spawnSync('umount', [scratch.dir]).status === 0;
      if (!done) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    if (!done && spawnSync('umount', ['-l', scratch.dir]).status !== 0) {
      log(`could not unmount ${scratch.dir}`);
      return;
    }
  }
  rmSync(scratch.dir, { recursive: true, force: true });
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes a ballast file until the filesystem is full; returns its size. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1)]) {
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
