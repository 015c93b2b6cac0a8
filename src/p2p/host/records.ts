// What a node puts in the DHT so others can find it: a provider record under a CID
// derived from each of its names (--p2p-name) and one under its node id. Anyone can
// provide any CID, so a name is a claim: finding it lists every node that claims it,
// and a node id's record is only believed from the peer whose key has that id.
// Also what a find query asks for. Pure.

import { createHash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { isName, NAME_RULE } from '../../access/names.ts';

const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;

function cidOf(text: string): CID {
  const hash = createHash('sha256').update(text, 'utf8').digest();
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, hash));
}

/** The CID under which nodes that claim a name provide. */
export function nameCid(name: string): CID {
  return cidOf(`parley-name:${name}`);
}

/** The CID under which a node provides its node id. */
export function nodeCid(nodeId: string): CID {
  return cidOf(`parley-node:${nodeId}`);
}

export const NODE_ID = /^[0-9a-f]{32}$/;

/** What `find` was asked: a node id, a peer id or a name. */
export type FindQuery =
  | { readonly kind: 'node'; readonly nodeId: string }
  | { readonly kind: 'peer'; readonly peerId: string }
  | { readonly kind: 'name'; readonly name: string };

/**
 * Reads a query: 32 hex digits are a node id, a libp2p peer id (`12D3KooW...`, `Qm...`)
 * is a peer id (`isPeerId` decides), anything else that is a valid name is a name.
 */
export function parseFindQuery(text: string, isPeerId: (text: string) => boolean): FindQuery | { readonly error: string } {
  if (NODE_ID.test(text)) return { kind: 'node', nodeId: text };
  if (/^[0-9A-F]{32}$/i.test(text)) return { kind: 'node', nodeId: text.toLowerCase() };
  if (isPeerId(text)) return { kind: 'peer', peerId: text };
  if (!isName(text)) return { error: `a query is a node id (32 hex digits), a peer id (12D3KooW...) or a name (${NAME_RULE})` };
  return { kind: 'name', name: text };
}
