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
  /** The log lines so far with this `msg`, parsed. */
  logged(msg: string): Array<Record<string, unknown>>;
  /** Resolves once `count` log lines with this `msg` have been printed in all. */
  waitForLogCount(msg: string, count: number, timeoutMs?: number): Promise<void>;
  /** Sends a signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /**
   * A file descriptor for the node's stdout (its log) instead of a pipe read here: `stdout`
   * and the log waits then see nothing, and the URL comes from the line on stderr.
   */
  readonly stdout?: number;
  /** A command the node runs under, e.g. ['ip', 'netns', 'exec', 'ns1'] to start it in a network namespace. */
  readonly prefix?: readonly string[];
}

export async function startNode(
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 10_000,
  options: StartOptions = {},
): Promise<NodeProcess> {
  // A test that restarts a node passes the first one's --data; otherwise a fresh one.
  const given = args.indexOf('--data');
  const dataDir = given >= 0 ? args[given + 1]! : mkdtempSync(join(tmpdir(), 'parley-test-'));
  const hasListen = args.includes('--listen') || args.includes('--domains') || args.includes('-d');
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(
    command!,
    [...prefixArgs, CLI, 'serve', ...(hasListen ? [] : ['--listen', '127.0.0.1:0']), ...(given >= 0 ? [] : ['--data', dataDir]), '--log-level', 'info', ...args],
    { cwd: REPO_ROOT, env: { ...process.env, MLES_KEY: undefined, ...env }, stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'] },
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ msg: string; resolve: (line: Record<string, unknown>) => void }> = [];
  if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', (line) => {
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
  const chatPage = new Promise<string>((resolve) =>
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderr.push(line);
      const url = /chat page at (\S+)/.exec(line)?.[1];
      if (url !== undefined) resolve(url);
    }),
  );
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

  const logged = (msg: string): Array<Record<string, unknown>> =>
    stdout.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        return parsed.msg === msg ? [parsed] : [];
      } catch {
        return [];
      }
    });
  const countOf = (msg: string): number => logged(msg).length;
  const waitForLogCount = async (msg: string, count: number, waitMs = timeoutMs): Promise<void> => {
    const deadline = Date.now() + waitMs;
    while (countOf(msg) < count) await waitForLog(msg, Math.max(1, deadline - Date.now()));
  };

  let url: string;
  try {
    url =
      child.stdout !== null
        ? String((await waitForLog('listening')).url)
        : await Promise.race([
            chatPage,
            exited.then((code) => Promise.reject(new Error(`node exited (${code}) before listening\n${stderr.join('\n')}`))),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not listening within ${timeoutMs} ms\n${stderr.join('\n')}`)), timeoutMs).unref()),
          ]);
  } catch (error) {
    // A node that did not come up must not outlive the test (its pipes would keep the test process running).
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
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
    logged,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
