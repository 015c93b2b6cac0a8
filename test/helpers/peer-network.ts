// Networks of real node processes for the peering tests: each node on a fixed port
// (so that it comes back at the same address after a restart) and its own data
// directory, with links through TCP proxies that a test can cut and heal.

import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startNode, type NodeProcess } from './node-process.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

export const PEER_KEY = 'peering-test-key';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export interface NetworkNode {
  readonly name: string;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  process: NodeProcess;
  /** Stops the node (SIGTERM by default, or SIGKILL) and starts it again on its port and data. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface NodeOptions {
  readonly peers?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export async function startNetworkNode(name: string, options: NodeOptions = {}): Promise<NetworkNode> {
  const port = await freePort();
  const args = (data?: string) => [
    '--listen',
    `127.0.0.1:${port}`,
    ...(data === undefined ? [] : ['--data', data]),
    '--rate-limit',
    '0',
    ...(options.peers ?? []).flatMap((url) => ['--peer', url]),
    ...(options.args ?? []),
  ];
  const env = { PEER_KEY, ...options.env };
  const first = await startNode(args(), env);
  const node: NetworkNode = {
    name,
    port,
    wsUrl: `ws://127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${port}/`,
    process: first,
    async stop(signal = 'SIGTERM') {
      await node.process.stop(signal);
    },
    async start() {
      node.process = await startNode(args(first.dataDir), env);
    },
    async restart(signal = 'SIGTERM') {
      await node.stop(signal);
      await node.start();
    },
  };
  return node;
}

/** A cuttable link: a proxy in front of `to`, for `from` to dial. */
export async function proxyTo(to: NetworkNode): Promise<TcpProxy> {
  return startTcpProxy(to.port);
}

/** Every message id stored in a channel, as the HTTP API lists them. */
export async function storedIds(node: NetworkNode, channel: string): Promise<string[]> {
  const ids: string[] = [];
  let after = 0;
  for (;;) {
    const response = await fetch(`${node.httpUrl}v1/channels/${encodeURIComponent(channel)}/messages?after=${after}&limit=1000`);
    const body = (await response.json()) as { messages: Array<{ seq: number; id: string }>; last: boolean };
    for (const m of body.messages) ids.push(m.id);
    if (body.last || body.messages.length === 0) return ids;
    after = body.messages[body.messages.length - 1]!.seq;
  }
}
