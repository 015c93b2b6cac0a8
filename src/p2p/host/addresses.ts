// The multiaddrs a host is given (--p2p-listen, --p2p-announce, --bootstrap), checked
// once, with messages that say what a good one looks like.

import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { P2PStartError } from './errors.ts';
import { parsePeerId } from './peer-identity.ts';

export interface BootstrapPeer {
  readonly peerId: string;
  readonly addr: Multiaddr;
}

const EXAMPLE = '/ip4/203.0.113.7/tcp/4100';

/** A multiaddr from a flag, or a P2PStartError naming the flag and the value. */
export function parseMultiaddr(flag: string, text: string): Multiaddr {
  try {
    const addr = multiaddr(text);
    addr.getComponents();
    return addr;
  } catch (error) {
    throw new P2PStartError('ERR_P2P_ADDRESS', `${flag}: "${text}" is not a multiaddr (${(error as Error).message}); one looks like ${EXAMPLE} or ${EXAMPLE.replace('4100', '4101')}/ws`);
  }
}

/** The peer id in a multiaddr's /p2p/ part, if it has one. */
export function peerIdIn(addr: Multiaddr): string | undefined {
  return addr.getComponents().findLast((c) => c.name === 'p2p')?.value;
}

/** A --bootstrap address: a multiaddr that ends in the peer's id. */
export function parseBootstrap(text: string): BootstrapPeer {
  const addr = parseMultiaddr('--bootstrap', text);
  const peerId = peerIdIn(addr);
  if (peerId === undefined) {
    throw new P2PStartError('ERR_P2P_ADDRESS', `--bootstrap: "${text}" has no /p2p/PEERID part; give the full address a node prints in 'parley p2p status', like ${EXAMPLE}/p2p/12D3KooW...`);
  }
  if (parsePeerId(peerId) === undefined) throw new P2PStartError('ERR_P2P_ADDRESS', `--bootstrap: "${peerId}" in "${text}" is not a valid peer id`);
  return { peerId, addr };
}
