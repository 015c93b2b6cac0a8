// Answers "where is this node?" from the DHT: a peer id by peer routing, a node id by
// the providers of its record (only a peer whose key has that node id counts), a name
// by the providers of the name's record (every node that claims it). The DHT calls are
// passed in, so the rules can be tested without a network.

import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { FindQueryError } from './errors.ts';
import { nodeIdOfPeer, parsePeerId } from './peer-identity.ts';
import { nameCid, nodeCid, parseFindQuery, type FindQuery } from './records.ts';

export interface FoundNode {
  readonly nodeId: string;
  readonly peerId: string;
  readonly addrs: string[];
}

export interface RoutedPeer {
  readonly id: PeerId;
  readonly multiaddrs: readonly { toString(): string }[];
}

export interface FinderDependencies {
  /** This node, which finds itself without asking. */
  readonly self: () => FoundNode & { readonly names: readonly string[] };
  findProviders(cid: CID, signal: AbortSignal): AsyncIterable<RoutedPeer>;
  findPeer(peer: PeerId, signal: AbortSignal): Promise<RoutedPeer>;
  /** Whether there is anyone to ask (a DHT query with nobody to ask waits for a peer). */
  hasPeers(): boolean;
  /** Time a find may take, ms. */
  readonly timeoutMs?: number;
}

export class Finder {
  readonly #deps: FinderDependencies;

  constructor(deps: FinderDependencies) {
    this.#deps = deps;
  }

  /** The nodes a query names; empty when none is found. Throws FindQueryError on a query that names nothing. */
  async find(text: string, signal?: AbortSignal): Promise<FoundNode[]> {
    const query = parseFindQuery(text, (t) => parsePeerId(t) !== undefined);
    if ('error' in query) throw new FindQueryError(query.error);
    const self = this.#deps.self();
    const own = this.#own(query, self);
    if (own) return [{ nodeId: self.nodeId, peerId: self.peerId, addrs: self.addrs }];
    if (!this.#deps.hasPeers()) return query.kind === 'name' && self.names.includes(query.name) ? [self] : [];
    const signals = [AbortSignal.timeout(this.#deps.timeoutMs ?? 15_000), ...(signal ? [signal] : [])];
    const limit = AbortSignal.any(signals);
    switch (query.kind) {
      case 'peer':
        return this.#findPeer(parsePeerId(query.peerId)!, limit);
      case 'node':
        return this.#findNode(query.nodeId, limit);
      case 'name': {
        const found = await this.#findName(query.name, limit);
        return self.names.includes(query.name) ? [{ nodeId: self.nodeId, peerId: self.peerId, addrs: self.addrs }, ...found] : found;
      }
    }
  }

  #own(query: FindQuery, self: FoundNode): boolean {
    return (query.kind === 'node' && query.nodeId === self.nodeId) || (query.kind === 'peer' && query.peerId === self.peerId);
  }

  async #findPeer(peer: PeerId, signal: AbortSignal): Promise<FoundNode[]> {
    const nodeId = nodeIdOfPeer(peer);
    if (nodeId === undefined) return [];
    const addrs = await this.#addrsOf(peer, [], signal);
    return addrs === undefined ? [] : [{ nodeId, peerId: peer.toString(), addrs }];
  }

  async #findNode(nodeId: string, signal: AbortSignal): Promise<FoundNode[]> {
    for await (const provider of this.#providers(nodeCid(nodeId), signal)) {
      // Anyone may provide the record; only the node's own key makes it true.
      if (nodeIdOfPeer(provider.id) !== nodeId) continue;
      const addrs = await this.#addrsOf(provider.id, provider.multiaddrs, signal);
      return [{ nodeId, peerId: provider.id.toString(), addrs: addrs ?? [] }];
    }
    return [];
  }

  async #findName(name: string, signal: AbortSignal): Promise<FoundNode[]> {
    const found = new Map<string, FoundNode>();
    for await (const provider of this.#providers(nameCid(name), signal)) {
      const nodeId = nodeIdOfPeer(provider.id);
      const peerId = provider.id.toString();
      if (nodeId === undefined || found.has(peerId)) continue;
      found.set(peerId, { nodeId, peerId, addrs: (await this.#addrsOf(provider.id, provider.multiaddrs, signal)) ?? [] });
    }
    return [...found.values()];
  }

  /** Providers until the query ends or the time is up (then what was found so far). */
  async *#providers(cid: CID, signal: AbortSignal): AsyncGenerator<RoutedPeer> {
    try {
      yield* this.#deps.findProviders(cid, signal);
    } catch (error) {
      if (!signal.aborted && !isNotFound(error)) throw error;
    }
  }

  /** A peer's addresses: those given, or else from peer routing; undefined when it is not found. */
  async #addrsOf(peer: PeerId, given: RoutedPeer['multiaddrs'], signal: AbortSignal): Promise<string[] | undefined> {
    if (given.length > 0) return unique(given.map((a) => withPeer(a.toString(), peer)));
    try {
      const routed = await this.#deps.findPeer(peer, signal);
      return unique(routed.multiaddrs.map((a) => withPeer(a.toString(), peer)));
    } catch (error) {
      if (signal.aborted || isNotFound(error)) return undefined;
      throw error;
    }
  }
}

function unique(addrs: string[]): string[] {
  return [...new Set(addrs)];
}

function withPeer(addr: string, peer: PeerId): string {
  const suffix = `/p2p/${peer.toString()}`;
  return addr.endsWith(suffix) ? addr : addr + suffix;
}

function isNotFound(error: unknown): boolean {
  return (error as Error).name === 'NotFoundError';
}
