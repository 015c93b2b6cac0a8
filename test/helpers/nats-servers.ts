// Real nats-server processes with JetStream for end-to-end tests: one server, or a
// cluster of three on loopback. A cluster is ready when every server names the same
// meta leader and the leader sees every other server as current (on 2.9 only the leader
// lists its peers); an R3 stream created before that fails with "insufficient resources".

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './pebble.ts';

export const NATS_SERVER = '/usr/sbin/nats-server';

/** Why nats-server cannot be run here, or undefined when it can. */
export function natsUnavailable(): string | undefined {
  const r = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${NATS_SERVER} is not installed (Debian package nats-server)`;
}

export interface NatsServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly monitorPort: number;
  /** Running now. */
  readonly up: boolean;
  /** Ends the process with `signal` (SIGKILL: no goodbye) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and store. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Every server's URL, comma-separated, as --nats takes them. */
  readonly urls: string;
  /** Resolves once the cluster has a meta leader that sees every running server as current. */
  ready(timeoutMs?: number): Promise<void>;
  /** The server that leads a stream, by name. */
  streamLeader(stream: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

/**
 * `tls`: PEM files the servers present; clients then need TLS (tls:// URLs). `extra`:
 * lines added to each server's config (an authorization block, say).
 */
export async function startNatsCluster(size: 1 | 3, tls?: { cert: string; key: string }, extra: readonly string[] = []): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-nats-'));
  const ports = await Promise.all(Array.from({ length: size * 3 }, () => freePort()));
  const nodes = Array.from({ length: size }, (_, i) => ({ name: `n${i + 1}`, port: ports[i * 3]!, monitorPort: ports[i * 3 + 1]!, clusterPort: ports[i * 3 + 2]! }));
  const servers = nodes.map((node) => {
    const routes = nodes.filter((other) => other !== node).map((other) => `nats://127.0.0.1:${other.clusterPort}`);
    const conf = join(dir, `${node.name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${node.name}`,
        `listen: 127.0.0.1:${node.port}`,
        `http: 127.0.0.1:${node.monitorPort}`,
        `jetstream { store_dir: "${join(dir, node.name)}" }`,
        ...(tls === undefined ? [] : [`tls { cert_file: "${tls.cert}", key_file: "${tls.key}" }`]),
        ...extra,
        ...(size > 1 ? [`cluster { name: parley-test, listen: 127.0.0.1:${node.clusterPort}, routes: [${routes.join(', ')}] }`] : []),
      ].join('\n') + '\n',
    );
    return new ServerProcess(node.name, node.port, node.monitorPort, conf);
  });
  await Promise.all(servers.map((s) => s.start()));
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => (tls === undefined ? s.url : s.url.replace('nats://', 'tls://'))).join(','),
    ready: (timeoutMs = 20_000) => waitReady(servers, timeoutMs),
    async streamLeader(stream) {
      for (const server of servers.filter((s) => s.up)) {
        const jsz = await monitor(server, '/jsz?streams=true').catch(() => undefined);
        const details = (jsz?.account_details ?? []) as Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }>;
        for (const account of details) {
          const found = account.stream_detail?.find((s) => s.name === stream);
          if (found?.cluster?.leader !== undefined) return found.cluster.leader;
        }
      }
      return undefined;
    },
    async stop() {
      await Promise.all(servers.map((s) => s.kill('SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.ready();
  return cluster;
}

class ServerProcess implements NatsServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly monitorPort: number;
  readonly #conf: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly output: string[] = [];

  constructor(name: string, port: number, monitorPort: number, conf: string) {
    this.name = name;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.monitorPort = monitorPort;
    this.#conf = conf;
  }

  get up(): boolean {
    return this.#child !== undefined;
  }

  /** Resolves once the server accepts clients ("Server is ready" in its log). */
  start(): Promise<void> {
    const child = spawn(NATS_SERVER, ['-c', this.#conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    return new Promise((resolve, reject) => {
      let seen = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.length > 100_000) seen = seen.slice(-50_000);
        if (seen.includes('Server is ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`nats-server ${this.name} exited (${code}) before it was ready:\n${seen}`)));
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    child.kill(signal);
    await this.#exited;
  }

  restart(): Promise<void> {
    return this.start();
  }
}

async function monitor(server: NatsServer, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${server.monitorPort}${path}`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as Record<string, unknown>;
}

interface MetaCluster {
  leader?: string;
  replicas?: Array<{ name: string; current: boolean }>;
}

async function waitReady(servers: readonly NatsServer[], timeoutMs: number): Promise<void> {
  const running = servers.filter((s) => s.up);
  if (servers.length === 1) return; // a lone server leads itself once it says it is ready
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const metas = await Promise.all(running.map((s) => monitor(s, '/jsz').then((j) => (j.meta_cluster ?? {}) as MetaCluster, () => ({}) as MetaCluster)));
    const leaders = new Set(metas.map((m) => m.leader));
    const leader = [...leaders][0];
    const leaderMeta = metas[running.findIndex((s) => s.name === leader)];
    const current = new Set((leaderMeta?.replicas ?? []).filter((r) => r.current).map((r) => r.name));
    if (leaders.size === 1 && leader !== undefined && running.every((s) => s.name === leader || current.has(s.name))) return;
    last = JSON.stringify(metas);
    // The monitoring endpoint has no push: poll it.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`NATS cluster not ready within ${timeoutMs} ms: ${last}`);
}
