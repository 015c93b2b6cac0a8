// One key names the node everywhere: the libp2p peer id comes from the same Ed25519
// key (node.key) as the node id, and a peer's node id can be read off its peer id,
// which carries its public key inline. No I/O, no libp2p node needed.

import type { KeyObject } from 'node:crypto';
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { nodeIdOfRaw, privateKeySeed, rawPublicKey, type NodeIdentity } from '../../identity/node-identity.ts';

/** The node's key in libp2p's form (the same seed, so the same key pair). */
export function libp2pPrivateKey(identity: NodeIdentity): Promise<Ed25519PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', privateKeySeed(identity.privateKey));
}

/** The libp2p peer id (`12D3KooW...`) of an Ed25519 public key. */
export function peerIdOf(publicKey: KeyObject): string {
  return peerIdFromPublicKey(publicKeyFromRaw(rawPublicKey(publicKey))).toString();
}

/** The node id of a peer, from the Ed25519 key its id carries; undefined for other key types. */
export function nodeIdOfPeer(peer: PeerId): string | undefined {
  if (peer.type !== 'Ed25519') return undefined;
  return nodeIdOfRaw(peer.publicKey.raw);
}

/** A peer id parsed from text, or undefined when it is not one. */
export function parsePeerId(text: string): PeerId | undefined {
  try {
    return peerIdFromString(text);
  } catch {
    return undefined;
  }
}
