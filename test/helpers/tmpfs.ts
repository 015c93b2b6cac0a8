// A small real filesystem for tests of a full disk: a tmpfs of a few megabytes,
// mounted on a fresh directory (needs root) and unmounted however the test ends.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  readonly dir: string;
  /** Unmounts and removes the directory; safe to call more than once. */
  unmount(): void;
}

/** Whether this process may mount filesystems (root), so such tests can be skipped otherwise. */
export const canMount = process.getuid?.() === 0;

export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // Still busy (a process holds a file open): detach it now, freed when released.
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
