import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Member } from '../hub/hub.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { StoredMessage } from '../store/store.ts';
import { OriginBinding } from './origin-binding.ts';

const SELF = 'a'.repeat(32);
const PEER = 'b'.repeat(32);

function message(origin: string, channel: string, payload: unknown, seq = 1): StoredMessage {
  return { channel, seq, id: new Uint8Array(32), ts: 0, origin, originSeq: seq, uid: 'matrix', binary: false, payload: Buffer.from(JSON.stringify(payload)) };
}

function binding(serverName: string) {
  const members: Member[] = [];
  const published: string[] = [];
  const hub = {
    subscribe: (member: Member) => void members.push(member),
    leave: () => {},
    publish: (request: { channel: string; payload: Uint8Array }) => void published.push(`${request.channel} ${Buffer.from(request.payload).toString()}`),
  };
  const made = new OriginBinding({ hub, store: new MemoryStore({ nodeId: SELF }), serverName, log: pino({ level: 'silent' }) });
  made.start();
  const claim = (origin: string, name: string) => members[0]!.deliver({ message: message(origin, 'matrix-servers', { server_name: name }) });
  return { made, claim, published };
}

test('an entry is taken from the node that speaks for its server, refused from another, and waits for an unclaimed name', () => {
  const { made, claim, published } = binding('a.test');
  assert.deepEqual(published, ['matrix-servers {"server_name":"a.test"}']);
  const taken: string[] = [];
  const admit = (origin: string, server: string, what: string) => made.admit(message(origin, 'matrix-directory', {}), server, { kind: 'alias', sender: what }, () => taken.push(what));
  admit(SELF, 'a.test', 'own name');
  admit(PEER, PEER, 'peer id');
  admit(PEER, 'a.test', 'forged name');
  admit(SELF, PEER, 'another node id');
  admit(PEER, 'b.test', 'waits for b.test');
  admit(SELF, 'b.test', 'waits, then forged');
  assert.deepEqual(taken, ['own name', 'peer id']);
  assert.equal(made.forged(), 2);
  claim(PEER, 'a.test'); // refused: this node holds its own name
  claim(PEER, 'b.test');
  assert.deepEqual(taken, ['own name', 'peer id', 'waits for b.test']);
  assert.equal(made.forged(), 3);
  made.refuse(message(PEER, 'matrix-inbox/a.test', {}), { kind: 'invite notice', sender: '@x:b.test' }, 'wrong server');
  assert.equal(made.forged(), 4);
});

test('a node whose server name is its id claims nothing; one that takes another node\'s id cannot start', () => {
  assert.deepEqual(binding(SELF).published, []);
  assert.throws(() => binding(PEER), /cannot be used: .* is the id of another node/);
});
