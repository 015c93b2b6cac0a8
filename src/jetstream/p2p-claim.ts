// Which node of a cluster runs --p2p. The libp2p peer id comes from the node key, which
// every node of a cluster shares: two nodes running libp2p would be one peer id at two
// addresses, and the network would take each for the other (dials, DHT records and
// gossip meshes go to whichever answered last). So one node holds the P2P claim, a key in
// the cluster's node bucket, and renews it; another node started with --p2p stops with
// the reason. A claim not renewed for STALE_MS is free (its holder was killed), and a
// node restarted from the holder's data directory takes its claim back at once.

import type { KV, KvEntry } from '@nats-io/kv';

const KEY = 'p2p-host';
const RENEW_MS = 5000;
const STALE_MS = 20_000;

export class P2PClaimError extends Error {}

/** Who holds the claim: the node's own key id (its data directory's), and its host name. */
export interface P2PHolder {
  readonly node: string;
  readonly host: string;
}

export interface P2PClaim {
  /** Stops renewing and frees the claim for another node. */
  release(): Promise<void>;
}

function holderOf(entry: KvEntry): P2PHolder | undefined {
  try {
    const value = entry.json<Partial<P2PHolder>>();
    return typeof value.node === 'string' && typeof value.host === 'string' ? { node: value.node, host: value.host } : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the claim for `me`, or throws a P2PClaimError naming the node that holds it. */
export async function claimP2P(kv: KV, me: P2PHolder, onLost: (reason: string) => void): Promise<P2PClaim> {
  const value = JSON.stringify(me);
  let revision: number | undefined;
  for (let attempt = 0; attempt < 3 && revision === undefined; attempt++) {
    const entry = await kv.get(KEY);
    const holder = entry === null || entry.operation !== 'PUT' ? undefined : holderOf(entry);
    const age = entry === null ? 0 : Date.now() - entry.created.getTime();
    if (entry !== null && holder !== undefined && holder.node !== me.node && age < STALE_MS) {
      throw new P2PClaimError(
        `--p2p runs on one node of a NATS cluster only, and the node on ${holder.host} (key ${holder.node}) runs it ` +
          `(renewed ${Math.round(age / 1000)} s ago). The nodes of a cluster share one node key, so a second libp2p host would have the same peer id. ` +
          `Start this node without --p2p: what the P2P node receives reaches every node through the stream. A claim its node no longer renews lapses after ${STALE_MS / 1000} s.`,
      );
    }
    try {
      revision = entry === null ? await kv.create(KEY, value) : await kv.update(KEY, value, entry.revision);
    } catch {
      // Another node wrote meanwhile: look again.
    }
  }
  if (revision === undefined) throw new P2PClaimError('--p2p: could not take the P2P claim in the NATS bucket (other nodes kept writing it); start this node again');
  let held = revision;
  const renew = setInterval(() => {
    kv.update(KEY, value, held).then(
      (next) => (held = next),
      (error: unknown) => onLost(`renewing the P2P claim failed: ${(error as Error).message}`),
    );
  }, RENEW_MS);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      await kv.delete(KEY, { previousSeq: held }).catch(() => undefined);
    },
  };
}
