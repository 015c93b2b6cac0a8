// `parley p2p status`, `parley p2p find QUERY` and `parley p2p channels`: ask a running
// node (its HTTP API) about its libp2p side, and print the answer for people.

import { parseArgs } from 'node:util';
import { DEFAULTS } from '../node/config.ts';

export const DEFAULT_NODE_URL = `http://${DEFAULTS.listen.host}:${DEFAULTS.listen.port}/`;

export const P2P_USAGE = `Usage: parley p2p status [--node URL]
       parley p2p find QUERY [--node URL]
       parley p2p channels [--node URL]

status  Prints the node's id, its libp2p peer id and addresses, and the peers it is
        connected to (GET /v1/node).
find    Asks the node to find QUERY in the DHT: a node id (32 hex digits), a peer
        id (12D3KooW...) or a name a node claims with --p2p-name. Prints each node
        found with its addresses (GET /v1/p2p/find).
channels
        Lists the network's public channels, as the node has heard them announced
        (--public on the announcing node; GET /v1/directory).

Options:
  --node URL   The node to ask (default: ${DEFAULT_NODE_URL}; ws:// works too).
  -h, --help   Show this help.
`;

interface Found {
  readonly nodeId: string;
  readonly peerId: string;
  readonly addrs: readonly string[];
}

interface NodeAnswer {
  readonly id: string;
  readonly peerId?: string;
  readonly addrs: readonly string[];
  readonly peers: readonly { readonly peerId: string; readonly addrs: readonly string[] }[];
}

/** The node's http(s) base URL from --node, or undefined when it is not a URL parley can use. */
export function nodeBaseUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url;
}

export function formatStatus(node: NodeAnswer): string {
  if (node.peerId === undefined) return `node id:  ${node.id}\npeer-to-peer mode is off on this node (start it with --p2p)\n`;
  const lines = [`node id:  ${node.id}`, `peer id:  ${node.peerId}`, `addresses (${node.addrs.length}):`, ...node.addrs.map((a) => `  ${a}`)];
  lines.push(`peers (${node.peers.length}):`);
  for (const peer of node.peers) {
    lines.push(`  ${peer.peerId}`, ...peer.addrs.map((a) => `    ${a}`));
  }
  return lines.join('\n') + '\n';
}

interface DirectoryEntry {
  readonly channel: string;
  readonly about: string;
  readonly node: string;
  readonly lastActivity: number;
}

export function formatDirectory(channels: readonly DirectoryEntry[]): string {
  if (channels.length === 0) return 'no public channels announced yet (a node lists one with --public CHANNEL)\n';
  return (
    channels
      .map((c) => {
        const active = c.lastActivity === 0 ? 'no messages yet' : `last message ${new Date(c.lastActivity).toISOString()}`;
        return [`${c.channel}${c.about === '' ? '' : `  ${c.about}`}`, `  by node ${c.node}, ${active}`].join('\n');
      })
      .join('\n') + '\n'
  );
}

export function formatFound(found: readonly Found[]): string {
  return found.map((f) => [`node ${f.nodeId}  peer ${f.peerId}`, ...(f.addrs.length === 0 ? ['  (no known address)'] : f.addrs.map((a) => `  ${a}`))].join('\n')).join('\n') + '\n';
}

export async function runP2P(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: { node: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    err.write(`parley p2p: ${(error as Error).message}\n${P2P_USAGE}`);
    return 2;
  }
  if (values.help) {
    out.write(P2P_USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  const valid = ((command === 'status' || command === 'channels') && rest.length === 0) || (command === 'find' && rest.length === 1);
  if (!valid) {
    err.write(`parley p2p: expected 'status', 'find QUERY' or 'channels'\n${P2P_USAGE}`);
    return 2;
  }
  const base = nodeBaseUrl(values.node ?? DEFAULT_NODE_URL);
  if (base === undefined) {
    err.write(`parley p2p: --node must be an http://, https://, ws:// or wss:// URL, got '${values.node}'\n`);
    return 2;
  }
  const target =
    command === 'status' ? new URL('v1/node', base) : command === 'channels' ? new URL('v1/directory', base) : new URL(`v1/p2p/find?q=${encodeURIComponent(rest[0]!)}`, base);
  let response: Response;
  try {
    response = await fetch(target, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    err.write(`parley p2p: cannot reach the node at ${base.href}: ${cause}\nIs it running? Give its address with --node URL.\n`);
    return 1;
  }
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!response.ok) {
    const reason = typeof body?.error === 'string' ? body.error : `HTTP ${response.status}`;
    err.write(`parley p2p: ${reason}\n`);
    return 1;
  }
  if (command === 'status') out.write(formatStatus(body as unknown as NodeAnswer));
  else if (command === 'channels') out.write(formatDirectory((body as { channels: DirectoryEntry[] }).channels));
  else out.write(formatFound((body as { found: Found[] }).found));
  return 0;
}
