// MlesSession through the fake transport (websocket/fake-socket.testkit.ts): real
// WebSocket frames over an in-memory socket pair, a real Hub over a MemoryStore. Joins,
// history replay, refusals with their close codes, relay between members.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type Delivery } from '../hub/hub.ts';
import { nextDelivery } from '../hub/hub.testkit.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { fakeConnection, ServerClosedError, testConnectionContext, type FakeWsClient } from '../websocket/fake-socket.testkit.ts';
import { REFUSALS } from '../websocket/refusals.ts';
import { mlesAuth } from '../access/auth.ts';
import { MlesChannels } from './channels.ts';
import { MemoryJoinHeaders } from './join-headers.ts';
import { MlesSession, type MlesContext } from './session.ts';

function setup(options: { mlesKey?: string; headerTimeoutMs?: number } = {}) {
  const session = testConnectionContext(options.headerTimeoutMs === undefined ? {} : { headerTimeoutMs: options.headerTimeoutMs });
  const store = new MemoryStore({ nodeId: 'node-a' });
  const hub = new Hub({ store, afterBatch: session.outbound.flush });
  const headers = new MemoryJoinHeaders({ firstSeq: (channel) => store.bounds(channel).first });
  const channels = new MlesChannels({ hub, store, headers, historyLimit: 100, historyBytes: 1024 * 1024 });
  const ctx: MlesContext = { ...session, hub, channels, mlesKey: options.mlesKey };
  const connect = (): { client: FakeWsClient; connection: MlesSession } => {
    const { server, client } = fakeConnection();
    return { client, connection: new MlesSession(server, Buffer.alloc(0), 'test', ctx) };
  };
  /** Resolves with the next message the hub commits to `channel`. */
  const committed = (channel: string): Promise<Delivery> => nextDelivery(hub, channel);
  return { hub, store, ctx, closed: session.closedSessions, connect, committed };
}

const header = (uid: string, channel: string, extra: Record<string, unknown> = {}) => JSON.stringify({ uid, channel, ...extra });

test('a joiner gets the channel\'s history: earlier headers and messages in order, without auth, then live frames', async () => {
  const { hub, store, connect, committed } = setup({ mlesKey: 'k' });
  const alice = connect();
  alice.client.sendText(header('alice', 'room', { auth: mlesAuth('alice', 'room', 'k') }));
  const stored = committed('room');
  alice.client.sendText('hi all');
  alice.client.sendBinary(Buffer.from([0, 1, 2]));
  assert.equal(Buffer.from((await stored).message.payload).toString(), 'hi all');
  assert.equal(store.bounds('room').last, 2, 'both messages were committed in one turn');
  assert.equal(alice.connection.uid, 'alice');

  const bob = connect();
  bob.client.sendText(header('bob', 'room', { auth: mlesAuth('bob', 'room', 'k') }));
  assert.deepEqual(JSON.parse(await bob.client.text()), { uid: 'alice', channel: 'room' }, 'the header is replayed without its auth');
  assert.equal(await bob.client.text(), 'hi all');
  assert.deepEqual(await bob.client.message(), { binary: true, data: Buffer.from([0, 1, 2]) });
  assert.equal(bob.client.queued, 0, 'bob does not get his own header back');

  // Live: alice's next frame reaches bob, and not alice herself (her next frame is bob's).
  alice.client.sendText('and now?');
  assert.equal(await bob.client.text(), 'and now?');
  bob.client.sendBinary(Buffer.from('back'));
  assert.deepEqual(await alice.client.message(), { binary: true, data: Buffer.from('back') }, 'no echo of her own frame came first');
  assert.equal(hub.stats().members, 2);
});

test('relays between members of a channel only, as the frame type it came in', async () => {
  const { hub, store, connect, committed } = setup();
  const [alice, bob, carol] = [connect(), connect(), connect()];
  // Alice's join is done once her first message is committed (a connection's frames are
  // handled in order); bob joins after that, so he gets it as history.
  const first = committed('one');
  alice.client.sendText(header('alice', 'one'));
  alice.client.sendText('alice here');
  await first;
  bob.client.sendText(header('bob', 'one'));
  carol.client.sendText(header('carol', 'two'));
  assert.deepEqual(JSON.parse(await bob.client.text()), { uid: 'alice', channel: 'one' });
  assert.equal(await bob.client.text(), 'alice here');
  bob.client.sendText('bob here');
  assert.equal(await alice.client.text(), 'bob here', 'bob had joined: his frame reached alice');
  alice.client.sendBinary(Buffer.from('binary from alice'));
  alice.client.sendText('text from alice');
  assert.deepEqual(await bob.client.message(), { binary: true, data: Buffer.from('binary from alice') });
  assert.deepEqual(await bob.client.message(), { binary: false, data: Buffer.from('text from alice') });
  const stored = committed('two');
  carol.client.sendText('for channel two');
  assert.equal(Buffer.from((await stored).message.payload).toString(), 'for channel two');
  // Carol's channel has no one else: bob's next frame is alice's, and carol got none of them.
  alice.client.sendText('still one');
  assert.equal(await bob.client.text(), 'still one');
  assert.equal(carol.client.queued, 0);
});

test('a bad header is refused with 4400 and its reason, and the connection ends', async () => {
  const { ctx, closed, connect, hub } = setup();
  const cases: Array<[(c: FakeWsClient) => void, string]> = [
    [(c) => c.sendText('{not json'), 'bad header: header is not JSON'],
    [(c) => c.sendBinary(Buffer.from(header('a', 'b'))), 'bad header: header must be a text frame'],
    [(c) => c.sendText(header('', 'room')), 'bad header: uid must not be empty'],
  ];
  for (const [send, reason] of cases) {
    const { client } = connect();
    send(client);
    assert.deepEqual(await client.closed(), { code: REFUSALS.BAD_HEADER.close, reason });
    await client.ended;
  }
  await closed.count(cases.length);
  assert.equal(ctx.stats.rejected.get('BAD_HEADER'), cases.length);
  assert.equal(hub.stats().members, 0);
});

test('a wrong auth is refused with 4401, a second join of a uid with 4409, a silent client with 4408', async () => {
  const { connect, hub, committed } = setup({ mlesKey: 'secret', headerTimeoutMs: 20 });
  const mallory = connect();
  mallory.client.sendText(header('mallory', 'room', { auth: mlesAuth('mallory', 'room', 'guess') }));
  assert.deepEqual(await mallory.client.closed(), { code: 4401, reason: 'auth failed' });

  const first = connect();
  const joined = committed('room');
  first.client.sendText(header('alice', 'room', { auth: mlesAuth('alice', 'room', 'secret') }));
  first.client.sendText('joined');
  await joined;
  const second = connect();
  second.client.sendText(header('alice', 'room', { auth: mlesAuth('alice', 'room', 'secret') }));
  assert.deepEqual(await second.client.closed(), { code: 4409, reason: 'uid already joined to channel' });
  assert.equal(hub.stats().members, 1, 'the first alice stays');

  const silent = connect();
  assert.deepEqual(await silent.client.closed(), { code: 4408, reason: 'no header in time' });
  // The first alice joined in time: the deadline did not close her, and she can still publish.
  const stored = committed('room');
  first.client.sendText('still here');
  assert.equal((await stored).message.uid, 'alice');
  assert.equal(first.client.queued, 0);
  assert.equal(hub.stats().members, 1);
});

test('a client that closes gets the close echoed, and leaves its channel', async () => {
  const { closed, connect, hub } = setup();
  const { client } = connect();
  client.sendText(header('alice', 'room'));
  client.close(1000, 'bye');
  await assert.rejects(client.message(), (error: unknown) => error instanceof ServerClosedError && error.close.code === 1000);
  await client.ended;
  await closed.count(1);
  assert.equal(hub.stats().members, 0);
});
