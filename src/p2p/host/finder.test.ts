import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { CID } from 'multiformats/cid';
import { FindQueryError } from './errors.ts';
import { Finder, type RoutedPeer } from './finder.ts';
import { nodeIdOfPeer } from './peer-identity.ts';
import { nameCid, nodeCid } from './records.ts';

async function newPeer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

const addr = (text: string) => ({ toString: () => text });

function finder(providers: Map<string, RoutedPeer[]>, routed: Map<string, RoutedPeer>, names: string[] = []) {
  const asked: string[] = [];
  const f = new Finder({
    self: () => ({ nodeId: 'f'.repeat(32), peerId: 'self', addrs: ['/ip4/1.1.1.1/tcp/4100/p2p/self'], names }),
    async *findProviders(cid: CID) {
      asked.push(`providers ${cid.toString()}`);
      yield* providers.get(cid.toString()) ?? [];
    },
    async findPeer(peer: PeerId) {
      asked.push(`peer ${peer.toString()}`);
      const found = routed.get(peer.toString());
      if (found === undefined) throw Object.assign(new Error('not found'), { name: 'NotFoundError' });
      return found;
    },
    hasPeers: () => true,
  });
  return { f, asked };
}

test('a node id is found from its record, only from the peer whose key has that id, with addresses from peer routing', async () => {
  const [liar, owner] = [await newPeer(), await newPeer()];
  const nodeId = nodeIdOfPeer(owner)!;
  const { f } = finder(
    new Map([[nodeCid(nodeId).toString(), [{ id: liar, multiaddrs: [addr('/ip4/6.6.6.6/tcp/1')] }, { id: owner, multiaddrs: [] }]]]),
    new Map([[owner.toString(), { id: owner, multiaddrs: [addr('/ip4/2.2.2.2/tcp/4100'), addr('/ip4/2.2.2.2/tcp/4100')] }]]),
  );
  assert.deepEqual(await f.find(nodeId), [{ nodeId, peerId: owner.toString(), addrs: [`/ip4/2.2.2.2/tcp/4100/p2p/${owner}`] }]);
});

test('a name lists every node that claims it, each with its node id; this node too when it claims it', async () => {
  const [one, two] = [await newPeer(), await newPeer()];
  const providers = new Map([[nameCid('alice').toString(), [{ id: one, multiaddrs: [addr(`/ip4/3.3.3.3/tcp/4100/p2p/${one}`)] }, { id: two, multiaddrs: [addr('/ip4/4.4.4.4/tcp/4100')] }, { id: one, multiaddrs: [] }]]]);
  const { f } = finder(providers, new Map(), ['alice']);
  const found = await f.find('alice');
  assert.deepEqual(found.map((n) => n.nodeId), ['f'.repeat(32), nodeIdOfPeer(one), nodeIdOfPeer(two)]);
  assert.deepEqual(found[2]!.addrs, [`/ip4/4.4.4.4/tcp/4100/p2p/${two}`]);
  assert.deepEqual(await finder(new Map(), new Map()).f.find('bob'), []);
});

test('a peer id goes to peer routing; this node finds itself without asking; a bad query throws FindQueryError', async () => {
  const peer = await newPeer();
  const { f, asked } = finder(new Map(), new Map([[peer.toString(), { id: peer, multiaddrs: [addr('/ip4/5.5.5.5/tcp/4100/p2p-circuit')] }]]));
  assert.deepEqual(await f.find(peer.toString()), [{ nodeId: nodeIdOfPeer(peer), peerId: peer.toString(), addrs: [`/ip4/5.5.5.5/tcp/4100/p2p-circuit/p2p/${peer}`] }]);
  assert.deepEqual(await f.find((await newPeer()).toString()), []);
  asked.length = 0;
  assert.equal((await f.find('f'.repeat(32)))[0]!.peerId, 'self');
  assert.deepEqual(asked, []);
  await assert.rejects(f.find(''), FindQueryError);
});
