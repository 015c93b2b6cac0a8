// The node key of a cluster of parley nodes on one stream. Every node numbers and ids
// the messages it applies as the same origin, so they must hold the same key: it is one
// node of the wider network. The first node to start puts its key in a JetStream
// key-value bucket beside the stream; every other node takes it from there. Whoever can
// read that bucket can speak for the cluster to its peers: give parley its own NATS
// account or permissions (docs/scaling.md).

import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { identityOf, type NodeIdentity } from '../identity/node-identity.ts';

const KEY = 'node-key';

/** The bucket of a stream's cluster key. */
export function identityBucket(stream: string): string {
  return `${stream}_NODE`;
}

/** The cluster's identity: `local` when this node is the first, else the one stored. */
export async function clusterIdentity(connection: NatsConnection, stream: string, replicas: number, local: NodeIdentity): Promise<{ identity: NodeIdentity; stored: boolean }> {
  const kv = await new Kvm(connection).create(identityBucket(stream), { replicas, history: 1 });
  const pem = local.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  try {
    await kv.create(KEY, pem);
    return { identity: local, stored: true };
  } catch (error) {
    const entry = await kv.get(KEY);
    if (entry === null || entry.operation !== 'PUT') throw error;
    return { identity: identityOf(`the node key in NATS bucket ${identityBucket(stream)}`, entry.string()), stored: false };
  }
}
