// What the operator chooses for the peer-to-peer mode (the --p2p flags), in one place:
// the node's config keeps it, the host and the replication read their parts.

/** How the libp2p host runs. */
export interface P2PHostSettings {
  /** Multiaddrs to listen on (`/ip4/0.0.0.0/tcp/4100`, `.../ws`, `/p2p-circuit`). */
  readonly listen: readonly string[];
  /** Multiaddrs to advertise instead of the listening ones (a public address, a DNS name). */
  readonly announce: readonly string[];
  /** Peers to keep connected to, each ending in /p2p/PEERID. */
  readonly bootstrap: readonly string[];
  /** Find and dial peers on the LAN with mDNS. */
  readonly mdns: boolean;
  /** Swarm key file (private network); undefined: an open network. */
  readonly secretFile: string | undefined;
  /** Serve as a circuit relay (v2) for other nodes. */
  readonly relay: boolean;
  /** Names this node claims in the DHT (find by name). */
  readonly names: readonly string[];
}

/** The whole mode: the host, and which channels the node carries and lists. */
export interface P2PSettings extends P2PHostSettings {
  /** Channels this node stores even without clients. */
  readonly channels: readonly string[];
  /** Channels this node lists in the network's directory, with what they are about. */
  readonly public: readonly { readonly channel: string; readonly about: string }[];
}
