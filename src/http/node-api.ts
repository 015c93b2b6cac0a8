// What a node says about itself and its libp2p side:
//   GET /v1/node             {"id", "peerId", "addrs": [...], "peers": [{"peerId", "addrs"}]}
//   GET /v1/p2p/find?q=QUERY {"found": [{"nodeId", "peerId", "addrs"}]}
//   GET /v1/directory        {"channels": [{"channel", "about", "node", "announced", "lastActivity"}]}
// Without --p2p, /v1/node has no peerId and empty lists, and a find answers 503.
// The p2p host is reached through the narrow interface below, so this module loads no libp2p.

import type { ServerResponse } from 'node:http';
import { FindQueryError } from '../p2p/host/errors.ts';
import type { Route } from './handlers.ts';
import { sendJson, unknownParameter } from './request.ts';

export interface P2PView {
  readonly peerId: string;
  addrs(): string[];
  peers(): { readonly peerId: string; readonly addrs: string[] }[];
  find(query: string, signal?: AbortSignal): Promise<{ readonly nodeId: string; readonly peerId: string; readonly addrs: string[] }[]>;
  /** The network's public channels, as this node has heard them announced. */
  directory(): readonly { readonly channel: string; readonly about: string; readonly node: string; readonly announced: number; readonly lastActivity: number }[];
}

const NODE_PATH = /^\/v1\/node\/?$/;
const FIND_PATH = /^\/v1\/p2p\/find\/?$/;
const DIRECTORY_PATH = /^\/v1\/directory\/?$/;
const P2P_OFF = 'peer-to-peer mode is off on this node: start it with --p2p';

export function nodeApi(nodeId: string, p2p: () => P2PView | undefined): Route {
  return {
    paths: ['/v1/node', '/v1/p2p/find', '/v1/directory'],
    matches: (path) => NODE_PATH.test(path) || FIND_PATH.test(path) || DIRECTORY_PATH.test(path),
    handle: async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://node.invalid');
      if (NODE_PATH.test(url.pathname)) return serveNode(url, res, nodeId, p2p());
      if (DIRECTORY_PATH.test(url.pathname)) return serveDirectory(url, res, p2p());
      return serveFind(url, res, p2p());
    },
  };
}

function serveNode(url: URL, res: ServerResponse, nodeId: string, host: P2PView | undefined): void {
  const unknown = unknownParameter(url.searchParams, []);
  if (unknown !== undefined) return sendJson(res, 400, { error: unknown });
  if (host === undefined) return sendJson(res, 200, { id: nodeId, addrs: [], peers: [] });
  sendJson(res, 200, { id: nodeId, peerId: host.peerId, addrs: host.addrs(), peers: host.peers() });
}

function serveDirectory(url: URL, res: ServerResponse, host: P2PView | undefined): void {
  const unknown = unknownParameter(url.searchParams, []);
  if (unknown !== undefined) return sendJson(res, 400, { error: unknown });
  if (host === undefined) return sendJson(res, 503, { error: P2P_OFF });
  sendJson(res, 200, { channels: host.directory() });
}

async function serveFind(url: URL, res: ServerResponse, host: P2PView | undefined): Promise<void> {
  const unknown = unknownParameter(url.searchParams, ['q']);
  if (unknown !== undefined) return sendJson(res, 400, { error: unknown });
  if (host === undefined) return sendJson(res, 503, { error: P2P_OFF });
  const query = url.searchParams.get('q');
  if (query === null || query === '') return sendJson(res, 400, { error: 'give q: a node id (32 hex digits), a peer id (12D3KooW...) or a name' });
  // A client that goes away stops the DHT query.
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  let found;
  try {
    found = await host.find(query, gone.signal);
  } catch (error) {
    if (error instanceof FindQueryError) return sendJson(res, 400, { error: error.message });
    throw error;
  }
  if (found.length === 0) return sendJson(res, 404, { error: `nothing found for "${query}": no node the DHT knows of has this id or claims this name` });
  sendJson(res, 200, { found });
}
