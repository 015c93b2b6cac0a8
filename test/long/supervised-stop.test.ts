// A node started through npm (npx parley serve, npm start) or through the launcher that
// runs it on Node 24 from an older Node, stopped the way supervisors stop things: a signal
// to the process that was started (Docker's PID 1, systemd with KillMode=process, a plain
// kill) and not to the node itself. The node must stop gracefully, free its port, and
// show up in ps as parley.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../helpers/node-process.ts';

interface Started {
  readonly child: ChildProcess;
  /** The node's own pid and port, from its 'listening' log line. */
  readonly nodePid: number;
  readonly port: number;
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves once every holder of the log pipe is gone: the node has exited. */
  readonly logClosed: Promise<void>;
}

async function startThrough(command: string, args: readonly string[], options: { detached?: boolean } = {}): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-supervised-'));
  const child = spawn(command, [...args, '--listen', '127.0.0.1:0', '--data', dataDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, MLES_KEY: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const lines: Array<Record<string, unknown>> = [];
  const logClosed = new Promise<void>((resolve) => child.stdout!.once('close', resolve));
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening within 60 s\n${stderr.join('')}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(parsed);
      if (parsed.msg === 'listening') {
        clearTimeout(timer);
        resolve(parsed);
      }
    });
    void logClosed.then(() => reject(new Error(`exited before listening\n${stderr.join('')}`)));
  });
  const first = await listening;
  return { child, nodePid: Number(first.pid), port: Number(new URL(String(first.url)).port), lines, logClosed };
}

function commandName(pid: number): string {
  return execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).trim();
}

/** Whether the process runs: gone, or a zombie that its new parent has yet to reap, is not. */
function running(pid: number): boolean {
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim().startsWith('Z');
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

/**
 * Waits for a process that is not a child of this one to finish exiting. Its log pipe
 * closes during the exit, and no event says when the exit is done: a short poll.
 */
async function finishesExiting(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (running(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Waits (at most `ms`) for the node to exit, then checks it stopped gracefully. */
async function assertStoppedGracefully(started: Started, ms = 5000): Promise<Array<Record<string, unknown>>> {
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, ms, 'timeout').unref());
  const outcome = await Promise.race([started.logClosed.then(() => 'closed' as const), timeout]);
  if (outcome === 'timeout' && running(started.nodePid)) process.kill(started.nodePid, 'SIGKILL');
  assert.equal(outcome, 'closed', `the node (pid ${started.nodePid}) was still running ${ms} ms later`);
  assert.equal(await finishesExiting(started.nodePid, 2000), true, 'the node exited');
  const shutdowns = started.lines.filter((l) => l.msg === 'shutting down');
  assert.equal(shutdowns.length, 1, JSON.stringify(started.lines));
  assert.equal(started.lines.filter((l) => l.msg === 'stopped').length, 1, 'stopped gracefully');
  assert.deepEqual(started.lines.filter((l) => l.msg === 'second signal: exiting now'), []);
  assert.equal(await portIsFree(started.port), true, `port ${started.port} is free`);
  return shutdowns;
}

describe('a node started through npm stops when npm is stopped', () => {
  const launchers: Array<[string, string, readonly string[]]> = [
    ['npx parley serve', 'npx', ['parley', 'serve']],
    ['npm start', 'npm', ['start', '--silent', '--']],
  ];
  for (const [name, command, args] of launchers) {
    test(`${name}: SIGTERM to npm alone stops the node gracefully, and ps calls it parley`, async () => {
      const started = await startThrough(command, args);
      assert.notEqual(started.nodePid, started.child.pid, 'npm runs the node as a separate process');
      assert.equal(commandName(started.nodePid), 'parley');
      started.child.kill('SIGTERM');
      const [shutdown] = await assertStoppedGracefully(started);
      // npm passes SIGTERM on to its shell only, and the shell dies of it: the node learns
      // from its parent's going (or, from an npm that signalled the node too, the signal).
      assert.ok(shutdown!.signal === 'SIGTERM' || shutdown!.reason === 'the process that started this one exited', JSON.stringify(shutdown));
    });
  }
});

/** A Node.js older than 24 on the PATH (outside node_modules), if there is one. */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(/^v(\d+)/.exec(version)?.[1]) < 24) return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

describe('the launcher on an older Node', () => {
  const node = olderNode();
  const skip = node === undefined && process.env.CI === undefined ? 'no Node.js older than 24 on the PATH' : false;
  const launcher = [join(REPO_ROOT, 'bin/parley.js'), 'serve'];

  test('SIGTERM to the launcher stops the node gracefully, and the launcher exits with its status', { skip }, async () => {
    assert.ok(node, 'CI needs a Node.js older than 24 on the PATH (Debian bookworm has 20)');
    const started = await startThrough(node, launcher);
    assert.equal(commandName(started.child.pid!), 'parley');
    assert.equal(commandName(started.nodePid), 'parley');
    const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
    started.child.kill('SIGTERM');
    const [shutdown] = await assertStoppedGracefully(started);
    assert.deepEqual([shutdown!.signal, shutdown!.via], ['SIGTERM', 'launcher']);
    assert.equal(await exited, 0);
  });

  test('a Ctrl-C that reaches both processes is one graceful stop, not two', { skip }, async () => {
    assert.ok(node);
    const started = await startThrough(node, launcher, { detached: true });
    const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
    process.kill(-started.child.pid!, 'SIGINT');
    await assertStoppedGracefully(started);
    assert.equal(await exited, 0);
  });

  test('a launcher killed outright (SIGKILL) still lets the node stop gracefully', { skip }, async () => {
    assert.ok(node);
    const started = await startThrough(node, launcher);
    started.child.kill('SIGKILL');
    const [shutdown] = await assertStoppedGracefully(started);
    assert.equal(shutdown!.reason, 'the process that started this one exited');
  });
});
