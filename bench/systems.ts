// Starting and stopping the systems under test: parley (Mles and native protocol),
// mosquitto (MQTT over WebSocket) and nats-server (NATS over WebSocket, with JetStream for
// the store scenarios), each on a fresh loopback port with a temporary config, optionally
// pinned to one core, with the fd limit raised to the hard cap.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProtocolName } from './scenarios.ts';

export type SystemName = 'parley' | 'nats' | 'mosquitto';
export const SYSTEMS: readonly SystemName[] = ['parley', 'nats', 'mosquitto'];

export const PROTOCOL_OF: Record<SystemName, ProtocolName> = {
  parley: 'mles',
  nats: 'nats',
  mosquitto: 'mqtt',
};

export interface SystemOptions {
  /** Core to pin the server to (taskset -c), or undefined to leave it unpinned. */
  readonly core: number | undefined;
  /** The parley CLI entry point. */
  readonly parleyEntry: string;
  readonly mosquittoBin: string;
  readonly natsBin: string;
}

/**
 * How a server keeps messages:
 * - relay: nothing kept (parley `--memory --retain-count 1`, NATS core, mosquitto QoS 0)
 * - memory: parley `--memory` with its default retention
 * - durable: parley's SQLite store with default retention; nats-server with JetStream
 */
export type StoreMode = 'relay' | 'memory' | 'durable';

export interface StartOptions {
  readonly mode: StoreMode;
  /**
   * A data directory that outlives the server (for a restart on the same store); the
   * caller removes it. Without it a temporary one is made and removed on stop.
   */
  readonly dataDir?: string;
  /** parley only: more flags (peering), and environment variables. */
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface RunningSystem {
  readonly name: SystemName;
  readonly protocol: ProtocolName;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** The last lines the server wrote (for error reports). */
  output(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

/** Wraps a command so it runs with the fd soft limit raised and, optionally, pinned. */
export function wrapCommand(argv: readonly string[], core: number | undefined): string[] {
  const pinned = core === undefined ? [...argv] : ['taskset', '-c', String(core), ...argv];
  return ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...pinned];
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(child: ChildProcess, host: string, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before listening:\n${output()}`);
    }
    if (await tryConnect(host, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not listen on ${host}:${port} within 20 s:\n${output()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function makeDataDir(name: SystemName): string {
  return mkdtempSync(join(tmpdir(), `bench-${name}-`));
}

export async function startSystem(
  name: SystemName,
  opts: SystemOptions,
  start: StartOptions = { mode: 'relay' },
): Promise<RunningSystem> {
  const host = '127.0.0.1';
  const port = await freePort();
  const dir = start.dataDir ?? makeDataDir(name);
  const ownDir = start.dataDir === undefined;
  if (start.mode !== 'relay' && name === 'mosquitto') throw new Error('mosquitto is only measured as a relay');
  if (start.mode === 'memory' && name !== 'parley') throw new Error(`${name} has no memory store mode here`);
  let argv: string[];
  switch (name) {
    case 'parley':
      argv = [
        process.execPath,
        opts.parleyEntry,
        'serve',
        '--listen',
        `${host}:${port}`,
        '--limit',
        '0',
        // relay: like nats-server's core and mosquitto at QoS 0, nothing is written to
        // disk; durable: the default SQLite store (parley.db in the data directory).
        ...(start.mode === 'relay' ? ['--memory', '--retain-count', '1'] : start.mode === 'memory' ? ['--memory'] : []),
        '--rate-limit',
        '0',
        '--log-level',
        'warn',
        '--data',
        dir,
        ...(start.extraArgs ?? []),
      ];
      break;
    case 'mosquitto': {
      const conf = join(dir, 'mosquitto.conf');
      // mosquitto 2.0.11 refuses to start with only a websockets listener ("Unable to
      // start any listening sockets"), so a plain MQTT listener goes alongside; and
      // without socket_domain its libwebsockets binds [::] instead of the given address.
      writeFileSync(
        conf,
        [
          `listener ${await freePort()} ${host}`,
          'protocol mqtt',
          `listener ${port} ${host}`,
          'socket_domain ipv4',
          'protocol websockets',
          'allow_anonymous true',
          'persistence false',
          'max_connections -1',
          'set_tcp_nodelay true',
          'log_dest stderr',
          'log_type error',
          'log_type warning',
          ...(process.getuid?.() === 0 ? ['user root'] : []),
          '',
        ].join('\n'),
      );
      argv = [opts.mosquittoBin, '-c', conf];
      break;
    }
    case 'nats': {
      const conf = join(dir, 'nats.conf');
      const clientPort = await freePort();
      writeFileSync(
        conf,
        [
          `host: ${host}`,
          `port: ${clientPort}`,
          'websocket {',
          `  host: ${host}`,
          `  port: ${port}`,
          '  no_tls: true',
          '}',
          ...(start.mode === 'durable' ? ['jetstream {', `  store_dir: "${join(dir, 'jetstream')}"`, '}'] : []),
          '',
        ].join('\n'),
      );
      argv = [opts.natsBin, '-c', conf];
      break;
    }
  }
  const cmd = wrapCommand(argv, opts.core);
  const child = spawn(cmd[0] ?? 'sh', cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...start.env } });
  // Keep draining the server's output (a full pipe would stall it); remember the tail.
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const output = (): string => tail.join('\n');
  const cleanup = (): void => {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(child, host, port, output);
  } catch (e) {
    await stopChild(child);
    cleanup();
    throw e;
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: no pid`);
  return {
    name,
    protocol: PROTOCOL_OF[name],
    host,
    port,
    pid,
    output,
    async stop() {
      await stopChild(child);
      cleanup();
    },
  };
}

export function systemVersion(name: SystemName, opts: SystemOptions): string {
  switch (name) {
    case 'parley': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version?: string;
      };
      return `parley ${pkg.version ?? '?'} (node ${process.version})`;
    }
    case 'mosquitto': {
      const r = spawnSync(opts.mosquittoBin, ['-h'], { encoding: 'utf8' });
      const m = /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`);
      return `mosquitto ${m?.[1] ?? '?'}`;
    }
    case 'nats': {
      const r = spawnSync(opts.natsBin, ['--version'], { encoding: 'utf8' });
      const m = /v(\d\S*)/.exec(`${r.stdout}${r.stderr}`);
      return `nats-server ${m?.[1] ?? '?'}`;
    }
  }
}

export function systemAvailable(name: SystemName, opts: SystemOptions): string | undefined {
  const bin = name === 'mosquitto' ? opts.mosquittoBin : name === 'nats' ? opts.natsBin : undefined;
  if (bin === undefined) {
    try {
      readFileSync(opts.parleyEntry);
      return undefined;
    } catch {
      return `${opts.parleyEntry} not found`;
    }
  }
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  return r.error === undefined ? undefined : `${bin}: ${r.error.message}`;
}
