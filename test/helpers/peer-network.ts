// Networks of real node processes for the peering tests: each node on a fixed port
// (so that it comes back at the same address after a restart) and its own data
// directory, with links through TCP proxies that a test can cut and heal.

import { startNode, type NodeProcess } from './node-process.ts';
import { Participant } from './participant.ts';
import { freePort } from './pebble.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

export const PEER_KEY = 'peering-test-key';

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

export interface ListedMessage {
  readonly seq: number;
  readonly id: string;
  readonly uid: string;
  readonly text: string;
}

/** A node whose stored messages can be listed over HTTP. */
export type Listable = Pick<NetworkNode, 'name' | 'httpUrl'>;

/** Every message stored in a channel, oldest first, as the HTTP API lists them. */
export async function storedMessages(node: Listable, channel: string): Promise<ListedMessage[]> {
  const out: ListedMessage[] = [];
  let after = 0;
  for (;;) {
    const response = await fetch(`${node.httpUrl}v1/channels/${encodeURIComponent(channel)}/messages?after=${after}&limit=1000`);
    const body = (await response.json()) as { messages: Array<{ seq: number; id: string; uid: string; payload: string }>; last: boolean };
    for (const m of body.messages) out.push({ seq: m.seq, id: m.id, uid: m.uid, text: Buffer.from(m.payload, 'base64').toString() });
    if (body.last || body.messages.length === 0) return out;
    after = body.messages[body.messages.length - 1]!.seq;
  }
}

/** Every message id stored in a channel. */
export async function storedIds(node: Listable, channel: string): Promise<string[]> {
  return (await storedMessages(node, channel)).map((m) => m.id);
}

/**
 * Waits until every node stores the same message ids in the channel, none twice, and
 * at least `atLeast` of them; returns the common list.
 */
export async function converged(nodes: readonly Listable[], channel: string, atLeast: number, timeoutMs = 30_000): Promise<ListedMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stores = await Promise.all(nodes.map((n) => storedMessages(n, channel)));
    const keys = stores.map((messages) => messages.map((m) => m.id).sort().join());
    const doubled = stores.findIndex((messages) => new Set(messages.map((m) => m.id)).size !== messages.length);
    if (doubled >= 0) throw new Error(`node ${nodes[doubled]!.name} stores a message twice`);
    if (keys.every((k) => k === keys[0]) && stores[0]!.length >= atLeast) return stores[0]!;
    if (Date.now() > deadline) {
      throw new Error(`stores did not converge: ${nodes.map((n, i) => `${n.name}=${stores[i]!.length}`).join(' ')}, expected at least ${atLeast}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // a store read over HTTP has no event to await
  }
}

/** What a peering test starts, kept so that it can all be stopped at the end. */
export class TestNetwork {
  readonly nodes: NetworkNode[] = [];
  readonly participants: Participant[] = [];
  readonly proxies: TcpProxy[] = [];

  async node(name: string, options: NodeOptions = {}): Promise<NetworkNode> {
    const made = await startNetworkNode(name, options);
    this.nodes.push(made);
    return made;
  }

  async join(at: NetworkNode, uid: string, channel: string): Promise<Participant> {
    const participant = await Participant.join(at.wsUrl, uid, channel);
    this.participants.push(participant);
    return participant;
  }

  async proxyTo(to: NetworkNode): Promise<TcpProxy> {
    const proxy = await startTcpProxy(to.port);
    this.proxies.push(proxy);
    return proxy;
  }

  async close(): Promise<void> {
    await Promise.all(this.participants.map((p) => p.close()));
    await Promise.all(this.nodes.map((n) => n.stop('SIGKILL')));
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}

/** Reads one sample of a metric from /metrics. */
export async function metric(at: Listable, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`${at.httpUrl}metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}
