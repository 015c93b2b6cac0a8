// NativeSession through the fake transport (websocket/fake-socket.testkit.ts): real
// WebSocket frames carrying CBOR over an in-memory socket pair, a real Hub over a
// MemoryStore. Hello and welcome, publish and ack, subscribe (live, and replay then
// live), and the answers to bad frames.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../hub/hub.ts';
import { mlesAuth } from '../access/auth.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { OP_TEXT } from '../websocket/frame.ts';
import { fakeConnection, testConnectionContext, type FakeWsClient } from '../websocket/fake-socket.testkit.ts';
import { decodeMaps, encodeMap, PROTOCOL_VERSION } from './frames.ts';
import { ChannelPresence } from '../hub/presence.ts';
import { NativeSession, sharedRunFrames, type NativeContext } from './session.ts';

type Frame = Record<string, unknown>;

/** A native client on the fake transport: CBOR frames out, the node's frames back one by one. */
class Client {
  readonly ws: FakeWsClient;
  readonly #frames: Frame[] = [];

  constructor(ws: FakeWsClient) {
    this.ws = ws;
  }

  send(frame: Frame): void {
    // Any map: the tests also send frames the schema forbids.
    this.ws.sendBinary(encodeMap(frame));
  }

  /** The next node frame (a WebSocket message may carry several, as a CBOR sequence). */
  async next(): Promise<Frame> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      const message = await this.ws.message();
      assert.ok(message.binary, 'native frames are binary');
      const maps = decodeMaps(message.data);
      assert.ok(maps !== undefined, 'a CBOR map or a sequence of them');
      this.#frames.push(...maps);
    }
  }

  /** The next frame, checked to have these fields (others may be there too). */
  async expect(fields: Frame): Promise<Frame> {
    const frame = await this.next();
    assert.deepEqual(pick(frame, Object.keys(fields)), fields);
    return frame;
  }

  async hello(uid: string): Promise<Frame> {
    this.send({ t: 'hello', uid });
    return this.expect({ t: 'welcome' });
  }
}

const pick = (frame: Frame, keys: readonly string[]): Frame => Object.fromEntries(keys.map((k) => [k, frame[k]]));
const text = (bytes: unknown): string => Buffer.from(bytes as Uint8Array).toString();

function setup(options: { mlesKey?: string } = {}) {
  const session = testConnectionContext();
  const store = new MemoryStore({ nodeId: 'node-a' });
  const hub = new Hub({ store, afterBatch: session.outbound.flush });
  const ctx: NativeContext = { ...session, hub, store, presence: new ChannelPresence(), runFrames: sharedRunFrames(), nodeId: 'node-a', mlesKey: options.mlesKey };
  const connect = (): Client => {
    const { server, client } = fakeConnection();
    new NativeSession(server, Buffer.alloc(0), 'test', ctx);
    return new Client(client);
  };
  return { hub, store, ctx, closed: session.closedSessions, connect };
}

test('hello is answered with welcome: version, node id and the largest message', async () => {
  const { connect, ctx } = setup();
  const alice = connect();
  const welcome = await alice.hello('alice');
  assert.deepEqual(welcome, { t: 'welcome', v: PROTOCOL_VERSION, node: 'node-a', max: ctx.maxMessage });
  alice.send({ t: 'hello', uid: 'alice' });
  await alice.expect({ t: 'err', code: 'ALREADY_HELLO' });
});

test('pub is stored and acked with its seq and id; the same cid again is a dup', async () => {
  const { connect, store } = setup();
  const alice = connect();
  await alice.hello('alice');
  alice.send({ t: 'pub', ch: 'room', cid: 'c1', p: Buffer.from('one') });
  alice.send({ t: 'pub', ch: 'room', cid: 'c2', p: Buffer.from('two'), bin: false });
  const ack1 = await alice.expect({ t: 'ack', ch: 'room', cid: 'c1', seq: 1, dup: false });
  await alice.expect({ t: 'ack', ch: 'room', cid: 'c2', seq: 2, dup: false });
  const [stored] = store.readByIds('room', [ack1.id as Uint8Array]);
  assert.ok(stored !== undefined, 'the ack carries the stored message\'s id');
  assert.deepEqual([stored.seq, stored.ts, stored.uid, text(stored.payload)], [1, ack1.ts, 'alice', 'one']);
  alice.send({ t: 'pub', ch: 'room', cid: 'c1', p: Buffer.from('one'), retry: true });
  await alice.expect({ t: 'ack', cid: 'c1', seq: 1, dup: true });
  assert.equal(store.bounds('room').last, 2);
});

test('sub without a cursor goes live at once and gets what is published after, its own publishes too', async () => {
  const { connect } = setup();
  const [alice, bob] = [connect(), connect()];
  await alice.hello('alice');
  await bob.hello('bob');
  bob.send({ t: 'sub', ch: 'room' });
  await bob.expect({ t: 'live', ch: 'room', last: 0 });
  alice.send({ t: 'pub', ch: 'room', cid: 'a1', p: Buffer.from('hello bob') });
  await alice.expect({ t: 'ack', seq: 1 });
  const msg = await bob.expect({ t: 'msg', ch: 'room', seq: 1, from: 'alice', o: 'node-a', bin: true });
  assert.equal(text(msg.p), 'hello bob');
  bob.send({ t: 'pub', ch: 'room', cid: 'b1', p: Buffer.from('hi'), bin: false });
  // The publisher's own subscription gets the message too; the ack follows the fan-out.
  await bob.expect({ t: 'msg', seq: 2, from: 'bob', bin: false });
  await bob.expect({ t: 'ack', cid: 'b1', seq: 2 });
  bob.send({ t: 'unsub', ch: 'room' });
  await bob.expect({ t: 'unsubbed', ch: 'room' });
});

test('sub after a cursor replays what follows it, then goes live, with no gap and no duplicate', async () => {
  const { connect } = setup();
  const alice = connect();
  await alice.hello('alice');
  for (let i = 1; i <= 3; i++) alice.send({ t: 'pub', ch: 'room', cid: `c${i}`, p: Buffer.from(`m${i}`) });
  for (let i = 1; i <= 3; i++) await alice.expect({ t: 'ack', seq: i });
  const bob = connect();
  await bob.hello('bob');
  bob.send({ t: 'sub', ch: 'room', after: 1 });
  assert.equal(text((await bob.expect({ t: 'msg', seq: 2 })).p), 'm2');
  assert.equal(text((await bob.expect({ t: 'msg', seq: 3 })).p), 'm3');
  await bob.expect({ t: 'live', ch: 'room', last: 3 });
  alice.send({ t: 'pub', ch: 'room', cid: 'c4', p: Buffer.from('m4') });
  assert.equal(text((await bob.expect({ t: 'msg', seq: 4 })).p), 'm4');
  bob.send({ t: 'sub', ch: 'room', after: 9 });
  await bob.expect({ t: 'err', code: 'ALREADY_SUBSCRIBED', ch: 'room' });
  bob.send({ t: 'sub', ch: 'other', after: 9 });
  await bob.expect({ t: 'err', code: 'UNKNOWN_CURSOR', ch: 'other' });
});

test('bad frames after hello get an error frame and the connection stays; before hello they close it', async () => {
  const { connect, ctx, closed } = setup({ mlesKey: 'k' });
  const alice = connect();
  await alice.hello('alice');
  alice.ws.sendBinary(Buffer.from([0xff, 0x00, 0x13]));
  await alice.expect({ t: 'err', code: 'BAD_FRAME' });
  alice.send({ t: 'pub', ch: 'room', cid: 'x' });
  await alice.expect({ t: 'err', code: 'BAD_FRAME', cid: 'x' });
  alice.send({ t: 'pub', ch: 'room', cid: 'y', p: Buffer.from('no auth') });
  await alice.expect({ t: 'err', code: 'AUTH_FAILED', ch: 'room', cid: 'y' });
  alice.send({ t: 'pub', ch: 'room', cid: 'z', p: Buffer.from('with auth'), auth: mlesAuth('alice', 'room', 'k') });
  await alice.expect({ t: 'ack', cid: 'z', seq: 1 });
  alice.send({ t: 'unsub', ch: 'room' });
  await alice.expect({ t: 'err', code: 'NOT_SUBSCRIBED', ch: 'room' });
  assert.equal(ctx.stats.nativeErrors.get('BAD_FRAME'), 2);

  const notHello = connect();
  notHello.send({ t: 'sub', ch: 'room' });
  await notHello.expect({ t: 'err', code: 'NOT_HELLO' });
  assert.deepEqual(await notHello.ws.closed(), { code: 4400, reason: 'bad hello: the first frame must be hello' });

  const textFrame = connect();
  textFrame.ws.sendFrame(OP_TEXT, Buffer.from('{"t":"hello"}'));
  assert.deepEqual(await textFrame.ws.closed(), { code: 4400, reason: 'bad hello: native protocol frames are binary CBOR' });
  await Promise.all([notHello.ws.ended, textFrame.ws.ended]);
  await closed.count(2);
  assert.equal(ctx.stats.rejected.get('BAD_HELLO'), 2);
});

test('sub with presence: members first (elsewhere when the uid is already there), then arrivals and departures', async () => {
  const { connect } = setup();
  const [alice, bob, bob2] = [connect(), connect(), connect()];
  await alice.hello('alice');
  await bob.hello('bob');
  await bob2.hello('bob');
  alice.send({ t: 'sub', ch: 'room', presence: true });
  await alice.expect({ t: 'members', ch: 'room', uids: ['alice'], count: 1, elsewhere: false });
  await alice.expect({ t: 'live', ch: 'room' });
  bob.send({ t: 'sub', ch: 'room' });
  await bob.expect({ t: 'live', ch: 'room' });
  await alice.expect({ t: 'presence', ch: 'room', uid: 'bob', here: true });
  // A second connection of bob's: no news for alice; bob2 learns it shares the name.
  bob2.send({ t: 'sub', ch: 'room', after: 0, presence: true });
  await bob2.expect({ t: 'members', ch: 'room', uids: ['alice', 'bob'], count: 2, elsewhere: true });
  bob.send({ t: 'unsub', ch: 'room' });
  await bob.expect({ t: 'unsubbed' });
  bob2.ws.close(1000);
  await alice.expect({ t: 'presence', ch: 'room', uid: 'bob', here: false });
  alice.send({ t: 'sub', ch: 'room', presence: 'yes' });
  await alice.expect({ t: 'err', code: 'BAD_FRAME', msg: 'the frame is not a CBOR map of a known type with valid fields: presence must be true or false' });
});
