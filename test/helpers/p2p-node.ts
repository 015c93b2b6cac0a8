// Real `parley serve --p2p` processes for end-to-end tests: each listens for libp2p on a
// free loopback port unless given --p2p-listen (mDNS off unless given --mdns), and the test reads what it says about
// itself from GET /v1/node and its log.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI, startNode, type NodeProcess, type StartOptions } from './node-process.ts';

export interface NodeInfo {
  readonly id: string;
  readonly peerId?: string;
  readonly addrs: string[];
  readonly peers: { readonly peerId: string; readonly addrs: string[] }[];
}

export interface P2PNode extends NodeProcess {
  readonly nodeId: string;
  readonly peerId: string;
  /** Its libp2p addresses, each ending in /p2p/PEERID. */
  readonly addrs: string[];
  info(): Promise<NodeInfo>;
  /** Resolves once the node has logged that this peer connected (at any time so far). */
  waitForPeer(peerId: string, timeoutMs?: number): Promise<void>;
  /** Resolves once a line with `msg` whose fields match `where` has been logged (so far or later). */
  waitForLogWhere(msg: string, where: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

const LOOPBACK_P2P = ['--p2p-listen', '/ip4/127.0.0.1/tcp/0'];

export async function startP2PNode(args: readonly string[] = [], options: StartOptions = {}, env: NodeJS.ProcessEnv = {}): Promise<P2PNode> {
  const listen = args.includes('--p2p-listen') ? [] : LOOPBACK_P2P;
  const mdns = args.includes('--mdns') ? [] : ['--no-mdns'];
  const node = await startNode(['--p2p', ...listen, ...mdns, ...args.filter((a) => a !== '--mdns')], env, 30_000, options);
  const started = node.logged('p2p host started')[0];
  if (started === undefined) throw new Error(`no "p2p host started" line\n${node.stdout.join('\n')}`);
  const prefix = options.prefix ?? [];
  // A node in another network namespace is asked from inside it.
  const info = async (): Promise<NodeInfo> =>
    prefix.length === 0
      ? ((await (await fetch(new URL('v1/node', node.url))).json()) as NodeInfo)
      : (JSON.parse((await run(prefix[0]!, [...prefix.slice(1), 'curl', '-sf', new URL('v1/node', node.url).href])).stdout) as NodeInfo);
  const waitForLogWhere = async (msg: string, where: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = node.logged(msg).find(where);
      if (found !== undefined) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no "${msg}" line as expected within ${timeoutMs} ms\n${node.stdout.join('\n')}`);
      // Registered in this same turn as the check above, so no line is missed between them.
      await node.waitForLog(msg, remaining).catch(() => {});
    }
  };
  return {
    ...node,
    nodeId: String(started.nodeId),
    peerId: String(started.peerId),
    addrs: started.addrs as string[],
    info,
    waitForLogWhere,
    async waitForPeer(peerId, timeoutMs) {
      await waitForLogWhere('p2p peer connected', (line) => line.peer === peerId, timeoutMs);
    },
  };
}

const run = promisify(execFile);

/** Runs `parley ARGS` to the end: its exit code and output. */
export async function parley(args: readonly string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: timeoutMs, env: { ...process.env, MLES_KEY: undefined } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The node as the HTTP listing helpers (peer-network.ts) take it. */
export function listable(node: P2PNode, name = node.peerId): { readonly name: string; readonly httpUrl: string } {
  return { name, httpUrl: node.url };
}
