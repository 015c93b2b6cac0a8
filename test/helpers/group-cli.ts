// `parley group` as a user runs it, for end-to-end tests: one CLI process per verb, each
// user with its own state directory and the node it uses. `watch` keeps a process
// whose output lines can be awaited.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, REPO_ROOT } from './node-process.ts';

export interface GroupRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Watcher {
  readonly lines: string[];
  /** Resolves once a line equal to `want` has been printed (now or later). */
  seen(want: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export class GroupUsers {
  readonly #dir: string;
  readonly #urls = new Map<string, string>();
  readonly #watchers = new Set<ChildProcess>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Which node a user uses (it can move: a user with one state directory, another node). */
  at(uid: string, url: string): void {
    this.#urls.set(uid, url);
  }

  #args(uid: string, verb: string, rest: readonly string[]): string[] {
    const url = this.#urls.get(uid);
    if (url === undefined) throw new Error(`no node for ${uid}`);
    return [CLI, 'group', verb, ...rest, '--url', url, '--uid', uid, '--data', join(this.#dir, uid)];
  }

  run(uid: string, verb: string, ...rest: string[]): Promise<GroupRun> {
    const child = spawn(process.execPath, this.#args(uid, verb, rest), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  }

  async ok(uid: string, verb: string, ...rest: string[]): Promise<string> {
    const run = await this.run(uid, verb, ...rest);
    assert.equal(run.code, 0, `${uid} ${verb} ${rest.join(' ')} exited ${run.code}: ${run.stderr}`);
    return run.stdout;
  }

  /** The uids of a group's members as `uid` sees them after syncing, sorted. */
  async members(uid: string, group: string): Promise<string[]> {
    return [...new Set((await this.ok(uid, 'members', group)).trim().split('\n').map((l) => l.split(' ')[0]!))].sort();
  }

  watch(uid: string, group: string): Watcher {
    const child = spawn(process.execPath, this.#args(uid, 'watch', [group]), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#watchers.add(child);
    const lines: string[] = [];
    const waiters: Array<{ want: string; resolve: () => void }> = [];
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (line === w.want) w.resolve();
        else waiters.push(w);
      }
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return {
      lines,
      seen: (want, timeoutMs = 60_000) =>
        lines.includes(want)
          ? Promise.resolve()
          : new Promise((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`${uid}'s watch did not print "${want}" in ${timeoutMs} ms; it printed:\n${lines.join('\n')}\n${stderr}`)), timeoutMs);
              waiters.push({
                want,
                resolve: () => {
                  clearTimeout(timer);
                  resolve();
                },
              });
            }),
      stop: async () => {
        child.kill('SIGINT');
        await exited;
        this.#watchers.delete(child);
      },
    };
  }

  /** Ends every watch still running. */
  close(): void {
    for (const child of this.#watchers) child.kill('SIGKILL');
    this.#watchers.clear();
  }
}
