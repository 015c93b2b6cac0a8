// For tests: a node that receives envelopes as a link does (src/network/link.ts): its
// intake checks them, the messages taken are appended to a real store as replicas, and
// the intake is told what the store committed.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeIdOf, type NodeIdentity } from '../identity/node-identity.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { AppendResult, Store } from '../store/store.ts';
import { replicaRequest, ReplicaIntake, type VerifiedMessage } from './intake.ts';
import { SealChecker } from './seal.ts';

export function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

/** Both stores, by name: tests that need a store run against each. */
export const STORE_KINDS: ReadonlyArray<readonly [string, (nodeId: string) => Store]> = [
  ['memory', (nodeId) => new MemoryStore({ nodeId })],
  ['sqlite', (nodeId) => new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'parley-intake-')), 'store.db'), nodeId, synchronous: 'NORMAL' })],
];

export class ReceivingNode {
  readonly identity: NodeIdentity;
  readonly store: Store;
  readonly intake: ReplicaIntake;

  constructor(makeStore: (nodeId: string) => Store, checker = new SealChecker()) {
    this.identity = identity();
    this.store = makeStore(this.identity.nodeId);
    this.intake = new ReplicaIntake(this.store, checker);
  }

  /** Stores verified messages as replicas, in one batch, and tells the intake what was committed. */
  commit(messages: readonly VerifiedMessage[]): AppendResult[] {
    const results = this.store.append(messages.map(replicaRequest));
    for (const result of results) this.intake.stored(result);
    return results;
  }

  close(): void {
    this.store.close();
  }
}
