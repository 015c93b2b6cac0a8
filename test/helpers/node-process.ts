// Starts a real `parley serve` process for end-to-end tests and waits until it
// listens, reading the URL from its JSON log. Every node gets a fresh data directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'src/cli/main.ts');

export interface NodeProcess {
  /** First listener's base URL, e.g. http://127.0.0.1:43123/ */
  readonly url: string;
  /** The same as ws:// or wss:// */
  readonly wsUrl: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first later stdout log line whose `msg` matches. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once `count` log lines with this `msg` have been printed in all. */
  waitForLogCount(msg: string, count: number, timeoutMs?: number): Promise<void>;
  /** Sends a signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startNode(args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 10_000): Promise<NodeProcess> {
  // A test that restarts a node passes the first one's --data; otherwise a fresh one.
  const given = args.indexOf('--data');
  const dataDir = given >= 0 ? args[given + 1]! : mkdtempSync(join(tmpdir(), 'parley-test-'));
  const hasListen = args.includes('--listen') || args.includes('--domains') || args.includes('-d');
  const child = spawn(
    process.execPath,
    [CLI, 'serve', ...(hasListen ? [] : ['--listen', '127.0.0.1:0']), ...(given >= 0 ? [] : ['--data', dataDir]), '--log-level', 'info', ...args],
    { cwd: REPO_ROOT, env: { ...process.env, MLES_KEY: undefined, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ msg: string; resolve: (line: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdout.push(line);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const waiter of waiters.splice(0)) {
      if (parsed.msg === waiter.msg) waiter.resolve(parsed);
      else waiters.push(waiter);
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (msg: string, waitMs = timeoutMs): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" log line within ${waitMs} ms\n${stdout.join('\n')}\n${stderr.join('\n')}`)), waitMs);
      waiters.push({
        msg,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node exited (${code}) before "${msg}"\n${stdout.join('\n')}\n${stderr.join('\n')}`));
      });
    });

  const countOf = (msg: string): number =>
    stdout.filter((line) => {
      try {
        return (JSON.parse(line) as { msg?: unknown }).msg === msg;
      } catch {
        return false;
      }
    }).length;
  const waitForLogCount = async (msg: string, count: number, waitMs = timeoutMs): Promise<void> => {
    const deadline = Date.now() + waitMs;
    while (countOf(msg) < count) await waitForLog(msg, Math.max(1, deadline - Date.now()));
  };

  const listening = await waitForLog('listening');
  const url = String(listening.url);
  const port = Number(new URL(url).port);
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    port,
    dataDir,
    child,
    stdout,
    stderr,
    waitForLog,
    waitForLogCount,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
