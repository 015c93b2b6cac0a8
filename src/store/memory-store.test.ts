import { MemoryStore } from './memory-store.ts';
import { describeStoreContract } from './store-contract.ts';

describeStoreContract('memory', ({ now }) => new MemoryStore({ nodeId: 'test-node', now }));
