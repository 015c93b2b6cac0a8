// ParleyClient against the fake node (fake-node.testkit.ts): the frames it sends, resume after
// reconnects, retries that cannot duplicate, and every error path, deterministically.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mlesAuth } from '../access/auth.ts';
import type { ReceivedClientFrame } from '../native/frames.ts';
import { ParleyClient } from './client.ts';
import type { ParleyClientOptions } from './client.ts';
import { MemoryCursorStore } from './cursor-store.ts';
import { ParleyError } from './errors.ts';
import { FakeNode } from './fake-node.testkit.ts';
import type { FakeSocket } from './fake-node.testkit.ts';
import type { Message } from './wire.ts';

const text = (message: Message) => new TextDecoder().decode(message.payload);

function setup(options: Partial<ParleyClientOptions> = {}, node = new FakeNode()) {
  const client = new ParleyClient({
    url: 'ws://fake.invalid/',
    uid: 'alice',
    WebSocket: node.WebSocket,
    backoff: { initialMs: 1, maxMs: 5, jitter: 0 },
    requestTimeoutMs: 2000,
    ...options,
  });
  return { node, client };
}

function framesOf<T extends ReceivedClientFrame['t']>(socket: FakeSocket, type: T): Array<Extract<ReceivedClientFrame, { t: T }>> {
  return socket.frames.filter((f): f is Extract<ReceivedClientFrame, { t: T }> => f.t === type);
}

/** Takes `count` messages from a subscription's iterator (bounded). */
async function take(iterator: AsyncIterator<Message>, count: number): Promise<Message[]> {
  const out: Message[] = [];
  const deadline = AbortSignal.timeout(2000);
  while (out.length < count) {
    const next = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(new Error(`only ${out.length}/${count} messages`)), { once: true })),
    ]);
    if (next.done) throw new Error(`ended after ${out.length}/${count}`);
    out.push(next.value);
  }
  return out;
}

test('connects with hello, publishes with a cid and resolves on the ack', async () => {
  const { node, client } = setup();
  const connected: unknown[] = [];
  client.on('connected', (event) => connected.push(event));
  await client.connect();
  assert.equal(client.state, 'connected');
  assert.equal(client.node, 'fake-node');
  assert.deepEqual(connected, [{ node: 'fake-node', max: 1024 * 1024, reconnected: false }]);
  const socket = node.last;
  assert.equal(socket.url, 'ws://fake.invalid/');
  assert.equal(socket.protocols, 'parley.v1');
  assert.equal(socket.binaryType, 'arraybuffer');
  assert.deepEqual(socket.frames[0], { t: 'hello', uid: 'alice' });

  const ack = await client.publish('room', 'hi');
  assert.equal(ack.seq, 1);
  assert.equal(ack.duplicate, false);
  assert.equal(ack.channel, 'room');
  const [pub] = framesOf(socket, 'pub');
  assert.ok(pub);
  assert.equal(pub.cid, ack.cid);
  assert.equal(pub.retry, false);
  assert.equal(pub.bin, true);
  assert.equal(pub.auth, undefined);
  const second = await client.publish('room', new Uint8Array([1]), { binary: false, cid: 'mine' });
  assert.equal(second.cid, 'mine');
  assert.equal(framesOf(socket, 'pub')[1]?.bin, false);
  assert.equal(client.pendingPublishes, 0);
  await client.close();
  assert.equal(client.state, 'closed');
});

test('with a key every channel frame carries its auth', async () => {
  const { node, client } = setup({ key: 'secret' });
  await client.connect();
  const sub = client.subscribe('room');
  await client.publish('room', 'x');
  await client.query('other');
  await node.until(() => framesOf(node.last, 'sub').length === 1);
  assert.equal(framesOf(node.last, 'sub')[0]?.auth, mlesAuth('alice', 'room', 'secret'));
  assert.equal(framesOf(node.last, 'pub')[0]?.auth, mlesAuth('alice', 'room', 'secret'));
  assert.equal(framesOf(node.last, 'query')[0]?.auth, mlesAuth('alice', 'other', 'secret'));
  await sub.close();
  await client.close();
});

test("from 'stored' replays history, then live; the cursor follows what the app consumed", async () => {
  const node = new FakeNode();
  node.store('room', 'one');
  node.store('room', 'two');
  const cursors = new MemoryCursorStore();
  const { client } = setup({ cursors }, node);
  await client.connect();
  const sub = client.subscribe('room', { from: 'stored' });
  const lives: number[] = [];
  sub.on('live', (event) => lives.push(event.last));
  const iterator = sub[Symbol.asyncIterator]();
  const first = await take(iterator, 2);
  assert.deepEqual(first.map(text), ['one', 'two']);
  assert.equal(framesOf(node.last, 'sub')[0]?.after, 0);
  // 'two' was handed out but its loop body has not finished: the cursor is at 'one'.
  assert.equal(cursors.get('room'), 1);
  node.store('room', 'three');
  const [three] = await take(iterator, 1);
  assert.equal(three && text(three), 'three');
  assert.equal(cursors.get('room'), 2);
  assert.deepEqual(lives, [2]);
  assert.equal(sub.live, true);
  await iterator.return?.();
  assert.equal(cursors.get('room'), 3, 'leaving the loop commits the last message');
  assert.ok(sub.closed);
  assert.deepEqual(node.last.frames.at(-1), { t: 'unsub', ch: 'room' });
  await client.close();
});

test("from 'now' sends no cursor, then resumes after the live point", async () => {
  const node = new FakeNode();
  node.store('room', 'old');
  const cursors = new MemoryCursorStore();
  const { client } = setup({ cursors }, node);
  await client.connect();
  const sub = client.subscribe('room');
  await node.until(() => sub.live, 'live');
  assert.equal(framesOf(node.last, 'sub')[0]?.after, undefined);
  assert.equal(cursors.get('room'), 1, 'the live point is the cursor');
  // Published while we are away: must arrive after the reconnect.
  node.last.drop(1006);
  node.store('room', 'while away');
  const seen: string[] = [];
  sub.on('message', (m) => seen.push(text(m)));
  await node.until(() => seen.length === 1, 'message after reconnect');
  assert.deepEqual(seen, ['while away']);
  assert.equal(framesOf(node.last, 'sub')[0]?.after, 1);
  await client.close();
});

test('a stored cursor wins over from; {after} and {last} start where asked', async () => {
  const node = new FakeNode();
  for (let i = 1; i <= 10; i++) node.store('room', `m${i}`);
  const { client } = setup({ cursors: new MemoryCursorStore([['room', 7]]) }, node);
  await client.connect();
  const a = client.subscribe('room', { from: 'stored' });
  assert.deepEqual((await take(a[Symbol.asyncIterator](), 3)).map(text), ['m8', 'm9', 'm10']);
  const b = client.subscribe('other', { from: { after: 0 } });
  const c = client.subscribe('room2', { from: { last: 3 } });
  for (let i = 1; i <= 5; i++) node.store('room2', `r${i}`);
  // room2's {last: 3} was resolved before or after these were stored; either way it
  // starts with the newest three the query saw.
  const got = await take(c[Symbol.asyncIterator](), 1);
  assert.ok(got[0] !== undefined);
  await b.close();
  await client.close();

  const node2 = new FakeNode();
  for (let i = 1; i <= 2500; i++) node2.store('big', `b${i}`);
  const { client: client2 } = setup({}, node2);
  await client2.connect();
  const last = client2.subscribe('big', { from: { last: 1200 } });
  const messages = await take(last[Symbol.asyncIterator](), 1200);
  assert.equal(messages[0]?.seq, 1301);
  assert.equal(messages.at(-1)?.seq, 2500);
  assert.equal(framesOf(node2.last, 'query').length, 2, 'paged through two queries');
  const empty = client2.subscribe('empty', { from: { last: 5 } });
  await node2.until(() => empty.live, 'live');
  assert.equal(framesOf(node2.last, 'sub').find((f) => f.ch === 'empty')?.after, 0);
  await client2.close();
});

test('reconnects with backoff: hello again, resubscribe after the last seq, no duplicates', async () => {
  const { node, client } = setup();
  await client.connect();
  const sub = client.subscribe('room', { from: 'stored' });
  const seen: number[] = [];
  sub.on('message', (m) => seen.push(m.seq));
  node.store('room', 'a');
  node.store('room', 'b');
  await node.until(() => seen.length === 2);
  const events: string[] = [];
  client.on('disconnected', (e) => events.push(`down ${e.code} ${e.reconnectInMs}`));
  client.on('connected', (e) => events.push(`up ${e.reconnected}`));
  node.last.drop(1001, 'node shutting down');
  await node.until(() => events.includes('up true'), 'reconnect');
  assert.deepEqual(events, ['down 1001 1', 'up true']);
  assert.deepEqual(node.last.frames.slice(0, 2), [{ t: 'hello', uid: 'alice' }, { t: 'sub', ch: 'room', auth: undefined, after: 2, presence: false }]);
  // A node that replays too much (at or below the cursor) is deduplicated.
  node.last.push({ t: 'msg', ...node.channels.get('room')![1]! });
  node.store('room', 'c');
  await node.until(() => seen.length === 3);
  assert.deepEqual(seen, [1, 2, 3]);
  await client.close();
});

test('unacked publishes are re-sent after a reconnect with the same cid and retry: true', async () => {
  const { node, client } = setup();
  await client.connect();
  const sub = client.subscribe('room', { from: 'stored' });
  const seen: string[] = [];
  sub.on('message', (m) => seen.push(text(m)));
  await node.until(() => sub.live);
  // The node stores the first publish, the second is lost on the way, and the
  // connection dies before either ack.
  const doomed = node.last;
  node.intercept = (socket, frame) => {
    if (frame.t !== 'pub' || socket !== doomed) return 'handle';
    if (framesOf(socket, 'pub').length === 1) {
      const message = node.store('room', new TextDecoder().decode(frame.p), socket.uid);
      node.cids.set(`${socket.uid}\nroom\n${frame.cid}`, message.seq);
      queueMicrotask(() => socket.drop(1006));
    }
    return 'drop';
  };
  const first = client.publish('room', 'stored before the drop');
  const second = client.publish('room', 'never reached the node');
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.duplicate, true, 'the retry found the stored message');
  assert.equal(a.seq, 1);
  assert.equal(b.duplicate, false);
  assert.equal(b.seq, 2);
  const resent = framesOf(node.last, 'pub');
  assert.deepEqual(resent.map((f) => [f.cid, f.retry]), [[a.cid, true], [b.cid, true]]);
  await node.until(() => seen.length === 2);
  assert.deepEqual(seen, ['stored before the drop', 'never reached the node']);
  assert.equal(node.channels.get('room')?.length, 2, 'stored once each');
  await client.close();
});

test('a publish marked retry (a cid from before a restart) says retry: true from its first send', async () => {
  const { node, client } = setup();
  await client.connect();
  const ack = await client.publish('room', 'again', { cid: 'from-last-run', retry: true });
  assert.equal(ack.cid, 'from-last-run');
  assert.equal(framesOf(node.last, 'pub')[0]?.retry, true);
  await client.close();
});

test('publishes made while disconnected wait in the outbox and go out first-sent: retry false', async () => {
  const node = new FakeNode({ autoAccept: false });
  const { client } = setup({ retryFirstConnect: true }, node);
  const connecting = client.connect();
  const ack = client.publish('room', 'queued');
  assert.equal(client.pendingPublishes, 1);
  node.last.accept();
  await connecting;
  assert.equal((await ack).seq, 1);
  assert.equal(framesOf(node.last, 'pub')[0]?.retry, false);
  await client.close();
});

test('GAP ends the subscription by default, or is skipped with a gap event', async () => {
  const node = new FakeNode();
  node.intercept = (socket, frame) => {
    if (frame.t === 'sub' && frame.after === 3) {
      socket.push({ t: 'err', code: 'GAP', msg: 'retention', ch: frame.ch, first: 10, last: 12 });
      return 'drop';
    }
    return 'handle';
  };
  for (let i = 1; i <= 12; i++) node.store('a', `a${i}`);
  for (let i = 1; i <= 12; i++) node.store('b', `b${i}`);
  const errors: ParleyError[] = [];
  const { client } = setup({ cursors: new MemoryCursorStore([['a', 3], ['b', 3]]) }, node);
  client.on('error', (e) => errors.push(e));
  await client.connect();
  const failing = client.subscribe('a');
  const error = await failing[Symbol.asyncIterator]().next().catch((e: unknown) => e);
  assert.ok(error instanceof ParleyError);
  assert.equal(error.code, 'GAP');
  assert.equal(error.first, 10);
  assert.ok(failing.closed);
  assert.equal(errors.length, 1, 'reported on the client too: the subscription had no error listener');

  const skipping = client.subscribe('b', { onGap: 'skip' });
  const gaps: unknown[] = [];
  skipping.on('gap', (g) => gaps.push(g));
  const got = await take(skipping[Symbol.asyncIterator](), 3);
  assert.deepEqual(got.map(text), ['b10', 'b11', 'b12']);
  assert.deepEqual(gaps, [{ channel: 'b', after: 3, first: 10 }]);
  assert.deepEqual(framesOf(node.last, 'sub').filter((f) => f.ch === 'b').map((f) => f.after), [3, 9]);
  // The failed channel can be subscribed again.
  client.subscribe('a', { onGap: 'skip' });
  await client.close();
});

test("from 'stored' without a cursor skips what retention removed, silently", async () => {
  const node = new FakeNode();
  for (let i = 1; i <= 5; i++) node.store('room', `m${i}`);
  // Retention removed 1 and 2; the fake node answers after: 0 with GAP, as the node does.
  node.intercept = (socket, frame) => {
    if (frame.t === 'sub' && frame.after !== undefined && frame.after + 1 < 3) {
      socket.push({ t: 'err', code: 'GAP', msg: 'retention', ch: frame.ch, first: 3, last: 5 });
      return 'drop';
    }
    return 'handle';
  };
  const { client } = setup({}, node);
  const errors: ParleyError[] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  const sub = client.subscribe('room', { from: 'stored' });
  const gaps: unknown[] = [];
  sub.on('gap', (g) => gaps.push(g));
  const got = await take(sub[Symbol.asyncIterator](), 3);
  assert.deepEqual(got.map(text), ['m3', 'm4', 'm5']);
  assert.deepEqual(gaps, []);
  assert.deepEqual(errors, []);
  await client.close();
});

test('UNKNOWN_CURSOR fails, or restarts the channel from 0', async () => {
  const node = new FakeNode();
  node.store('room', 'fresh 1');
  node.store('room', 'fresh 2');
  const cursors = new MemoryCursorStore([['room', 50], ['other', 50]]);
  const { client } = setup({ cursors }, node);
  await client.connect();
  const failing = client.subscribe('other');
  const errors: ParleyError[] = [];
  failing.on('error', (e) => errors.push(e));
  await node.until(() => errors.length === 1);
  assert.equal(errors[0]?.code, 'UNKNOWN_CURSOR');

  const sub = client.subscribe('room', { onUnknownCursor: 'restart' });
  const restarts: unknown[] = [];
  sub.on('restart', (r) => restarts.push(r));
  const seen: string[] = [];
  sub.on('message', (m) => seen.push(text(m)));
  await node.until(() => seen.length === 2);
  assert.deepEqual(seen, ['fresh 1', 'fresh 2']);
  assert.deepEqual(restarts, [{ channel: 'room', after: 50 }]);
  assert.equal(cursors.get('room'), 2);
  await client.close();
});

test('other subscribe errors end the subscription with their code', async () => {
  const node = new FakeNode();
  node.intercept = (socket, frame) => {
    if (frame.t === 'sub') {
      socket.push({ t: 'err', code: 'AUTH_FAILED', msg: 'auth missing or wrong', ch: frame.ch });
      return 'drop';
    }
    return 'handle';
  };
  const { client } = setup({}, node);
  client.on('error', () => {});
  await client.connect();
  const sub = client.subscribe('secret');
  await assert.rejects(sub[Symbol.asyncIterator]().next(), (e: unknown) => e instanceof ParleyError && e.code === 'AUTH_FAILED' && e.channel === 'secret');
  assert.throws(() => client.subscribe('bad\nname'), RangeError);
  await client.close();
});

test('publish errors reject with the node code; STORE_FAILED is retried with the same cid', async () => {
  const node = new FakeNode();
  let failures = 0;
  node.intercept = (socket, frame) => {
    if (frame.t === 'pub' && frame.ch === 'locked') {
      socket.push({ t: 'err', code: 'AUTH_FAILED', msg: 'auth', ch: frame.ch, cid: frame.cid });
      return 'drop';
    }
    if (frame.t === 'pub' && frame.ch === 'flaky' && failures++ === 0) {
      socket.push({ t: 'err', code: 'STORE_FAILED', msg: 'disk', ch: frame.ch, cid: frame.cid });
      return 'drop';
    }
    return 'handle';
  };
  const { client } = setup({}, node);
  await client.connect();
  await assert.rejects(client.publish('locked', 'x'), (e: unknown) => e instanceof ParleyError && e.code === 'AUTH_FAILED' && e.cid !== undefined);
  const ack = await client.publish('flaky', 'y');
  assert.equal(ack.seq, 1);
  const pubs = framesOf(node.last, 'pub').filter((f) => f.ch === 'flaky');
  assert.deepEqual(pubs.map((f) => [f.cid, f.retry]), [[ack.cid, false], [ack.cid, true]]);
  assert.equal(client.pendingPublishes, 0);
  await client.close();
});

test('publish limits: TOO_LARGE for the node, OUTBOX_FULL, TIMEOUT and ABORTED empty the outbox', async () => {
  const node = new FakeNode({ max: 100 });
  const { client } = setup({ outbox: { maxMessages: 2 }, requestTimeoutMs: 50 }, node);
  await client.connect();
  await assert.rejects(client.publish('room', new Uint8Array(200)), (e: unknown) => e instanceof ParleyError && e.code === 'TOO_LARGE');
  assert.equal(framesOf(node.last, 'pub').length, 0, 'never sent');
  node.intercept = (_socket, frame) => (frame.t === 'pub' ? 'drop' : 'handle');
  const a = client.publish('room', 'a');
  const controller = new AbortController();
  const b = client.publish('room', 'b', { signal: controller.signal, timeoutMs: 0 });
  await assert.rejects(client.publish('room', 'c'), (e: unknown) => e instanceof ParleyError && e.code === 'OUTBOX_FULL');
  controller.abort();
  await assert.rejects(b, (e: unknown) => e instanceof ParleyError && e.code === 'ABORTED');
  await assert.rejects(a, (e: unknown) => e instanceof ParleyError && e.code === 'TIMEOUT');
  assert.equal(client.pendingPublishes, 0);
  assert.throws(() => client.publish('room', 'x', { cid: '' }), RangeError);
  await client.close();
});

test('queries resolve with their page, are re-sent after a reconnect, and reject on err', async () => {
  const node = new FakeNode();
  for (let i = 1; i <= 5; i++) node.store('room', `m${i}`);
  const { client } = setup({}, node);
  await client.connect();
  const page = await client.query('room', { after: 1, limit: 2 });
  assert.deepEqual(page.messages.map(text), ['m2', 'm3']);
  assert.equal(page.last, false);
  assert.equal(page.next, 3);
  assert.equal(page.first, 1);
  const desc = await client.query('room', { desc: true, limit: 10 });
  assert.deepEqual(desc.messages.map((m) => m.seq), [5, 4, 3, 2, 1]);
  assert.equal(desc.last, true);

  // Lost with its connection: asked again after the reconnect.
  let swallowed = false;
  node.intercept = (socket, frame) => {
    if (frame.t === 'query' && !swallowed) {
      swallowed = true;
      queueMicrotask(() => socket.drop(1006));
      return 'drop';
    }
    if (frame.t === 'query' && frame.ch === 'bad') {
      socket.push({ t: 'err', code: 'BAD_QUERY', msg: 'ids with a range', ch: frame.ch, qid: frame.qid });
      return 'drop';
    }
    return 'handle';
  };
  assert.equal((await client.query('room', { after: 4 })).messages.length, 1);
  await assert.rejects(client.query('bad'), (e: unknown) => e instanceof ParleyError && e.code === 'BAD_QUERY' && e.qid !== undefined);
  assert.throws(() => client.query('room', { limit: 1001 }), RangeError);
  await client.close();
});

test('scrollback pages back from the newest, or from a seq, each page oldest first, each message once', async () => {
  const node = new FakeNode();
  for (let i = 1; i <= 25; i++) node.store('room', `m${i}`);
  const { client } = setup({}, node);
  await client.connect();
  const pages = async (options: Parameters<ParleyClient['scrollback']>[1]) => {
    const out: Array<{ seqs: number[]; last: boolean; next: number | undefined }> = [];
    for await (const page of client.scrollback('room', options)) out.push({ seqs: page.messages.map((m) => m.seq), last: page.last, next: page.next });
    return out;
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  assert.deepEqual(await pages({ limit: 10 }), [
    { seqs: range(16, 25), last: false, next: 16 },
    { seqs: range(6, 15), last: false, next: 6 },
    { seqs: range(1, 5), last: true, next: undefined },
  ]);
  assert.deepEqual(await pages({ before: 10, limit: 3 }), [
    { seqs: [7, 8, 9], last: false, next: 7 },
    { seqs: [4, 5, 6], last: false, next: 4 },
    { seqs: [1, 2, 3], last: true, next: undefined },
  ]);
  assert.deepEqual(await pages({ before: 1 }), [], 'nothing below the first message');
  // Leaving the loop asks for no more pages.
  const asked = () => framesOf(node.last, 'query').length;
  const before = asked();
  for await (const page of client.scrollback('room', { limit: 5 })) {
    assert.deepEqual(page.messages.map(text), ['m21', 'm22', 'm23', 'm24', 'm25']);
    break;
  }
  assert.equal(asked() - before, 1);
  // The node's own rule agrees: before without after is the newest page below it.
  assert.deepEqual((await client.query('room', { before: 10, limit: 3 })).messages.map((m) => m.seq), [7, 8, 9]);
  assert.throws(() => client.scrollback('room', { limit: 0 }), RangeError);
  assert.throws(() => client.scrollback('room', { before: -1 }), RangeError);
  assert.throws(() => client.scrollback('', {}), RangeError);
  await client.close();
  await assert.rejects(client.scrollback('room').next(), (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
});

test('a refused hello or a 44xx close stops the client with REFUSED', async () => {
  const node = new FakeNode();
  node.intercept = (socket, frame) => {
    if (frame.t === 'hello') {
      socket.push({ t: 'err', code: 'BAD_FRAME', msg: 'uid must be printable' });
      queueMicrotask(() => socket.drop(4400, 'bad hello'));
      return 'drop';
    }
    return 'handle';
  };
  const { client } = setup({}, node);
  const errors: ParleyError[] = [];
  client.on('error', (e) => errors.push(e));
  const pending = client.publish('room', 'x');
  const error = await client.connect().catch((e: unknown) => e);
  assert.ok(error instanceof ParleyError && error.code === 'REFUSED', String(error));
  assert.match(error.message, /BAD_FRAME: uid must be printable/);
  await assert.rejects(pending, (e: unknown) => e instanceof ParleyError && e.code === 'REFUSED');
  assert.equal(client.state, 'closed');
  assert.equal(errors[0]?.code, 'REFUSED');
  assert.equal(node.history.length, 1, 'no reconnect');

  const node2 = new FakeNode();
  const { client: client2 } = setup({}, node2);
  client2.on('error', () => {});
  await client2.connect();
  node2.last.drop(4401, 'auth failed');
  await node2.until(() => client2.state === 'closed');
  assert.equal(node2.history.length, 1);
});

test('a failed first connection rejects CONNECT_FAILED, unless retryFirstConnect', async () => {
  const node = new FakeNode({ autoAccept: false });
  const { client } = setup({}, node);
  const attempt = client.connect();
  node.last.drop(1006);
  await assert.rejects(attempt, (e: unknown) => e instanceof ParleyError && e.code === 'CONNECT_FAILED' && e.closeCode === 1006);
  assert.equal(client.state, 'idle');
  // connect() may be called again.
  const again = client.connect();
  node.last.accept();
  await again;
  await client.close();

  const node2 = new FakeNode({ autoAccept: false });
  const { client: client2 } = setup({ retryFirstConnect: true }, node2);
  const retried = client2.connect();
  node2.last.drop(1006);
  await node2.until(() => node2.history.length === 2, 'second attempt');
  node2.last.accept();
  await retried;
  await client2.close();
});

test('no welcome in time closes and retries; a wrong subprotocol is not accepted', async () => {
  const node = new FakeNode();
  let silent = true;
  node.intercept = (_socket, frame) => (frame.t === 'hello' && silent ? ((silent = false), 'drop') : 'handle');
  const { client } = setup({ connectTimeoutMs: 30, retryFirstConnect: true }, node);
  await client.connect();
  assert.equal(node.history.length, 2);
  await client.close();

  const node2 = new FakeNode({ autoAccept: false });
  const { client: client2 } = setup({}, node2);
  const attempt = client2.connect();
  node2.last.accept('mles-websocket');
  await assert.rejects(attempt, (e: unknown) => e instanceof ParleyError && e.code === 'CONNECT_FAILED');
});

test('close() rejects what is pending with CLOSED, ends iterators, and is idempotent', async () => {
  const node = new FakeNode();
  node.intercept = (_socket, frame) => (frame.t === 'pub' || frame.t === 'query' ? 'drop' : 'handle');
  const { client } = setup({}, node);
  await client.connect();
  const sub = client.subscribe('room');
  const next = sub[Symbol.asyncIterator]().next();
  const pub = client.publish('room', 'x');
  const query = client.query('room');
  await Promise.all([client.close(), client.close()]);
  await assert.rejects(pub, (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
  await assert.rejects(query, (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
  assert.deepEqual(await next, { value: undefined, done: true });
  await assert.rejects(client.publish('room', 'y'), (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
  await assert.rejects(client.connect(), (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
  assert.throws(() => client.subscribe('room'), (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
  assert.equal(node.sockets.size, 0, 'socket closed');
});

test('await using disposes the client', async () => {
  const node = new FakeNode();
  {
    await using client = setup({}, node).client;
    await client.connect();
  }
  assert.equal(node.sockets.size, 0);
});

test('subscribing a channel twice is refused; unsubscribe then subscribe waits for unsubbed', async () => {
  const node = new FakeNode();
  const { client } = setup({}, node);
  await client.connect();
  const first = client.subscribe('room', { from: 'stored' });
  assert.throws(() => client.subscribe('room'), (e: unknown) => e instanceof ParleyError && e.code === 'ALREADY_SUBSCRIBED');
  await node.until(() => first.live);
  let held: FakeSocket | undefined;
  node.intercept = (socket, frame) => {
    if (frame.t === 'unsub') {
      held = socket;
      return 'drop';
    }
    return 'handle';
  };
  const closing = first.close();
  const second = client.subscribe('room', { from: 'stored' });
  await node.until(() => held !== undefined);
  await Promise.resolve();
  assert.equal(framesOf(node.last, 'sub').length, 1, 'the new sub waits for unsubbed');
  node.intercept = undefined;
  held?.subscribed.delete('room');
  held?.push({ t: 'unsubbed', ch: 'room' });
  await closing;
  await node.until(() => second.live);
  assert.equal(framesOf(node.last, 'sub').length, 2);
  await client.close();
});

test('listeners get messages in order; a listener added later gets what was queued', async () => {
  const node = new FakeNode();
  for (let i = 1; i <= 3; i++) node.store('room', `m${i}`);
  const cursors = new MemoryCursorStore();
  const { client } = setup({ cursors }, node);
  await client.connect();
  const sub = client.subscribe('room', { from: 'stored' });
  await node.until(() => sub.live);
  assert.equal(cursors.get('room'), undefined, 'nothing processed yet');
  const seen: string[] = [];
  sub.on('message', (m) => seen.push(text(m)));
  await node.until(() => seen.length === 3);
  assert.deepEqual(seen, ['m1', 'm2', 'm3']);
  assert.equal(cursors.get('room'), 3);
  await client.close();
});

test('a cursor store that fails is reported as CURSOR_STORE', async () => {
  const node = new FakeNode();
  node.store('room', 'm1');
  const { client } = setup(
    {
      cursors: {
        get: () => undefined,
        set: () => Promise.reject(new Error('disk full')),
      },
    },
    node,
  );
  const errors: ParleyError[] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  const sub = client.subscribe('room', { from: 'stored' });
  sub.on('message', () => {});
  await node.until(() => errors.length > 0);
  assert.equal(errors[0]?.code, 'CURSOR_STORE');
  assert.match(errors[0]?.message ?? '', /disk full/);
  await client.close();
});

test('invalid frames from the node are reported, and the session goes on', async () => {
  const node = new FakeNode();
  const { client } = setup({}, node);
  const errors: ParleyError[] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  node.last.pushText('hello?');
  node.last.push({ t: 'msg', ch: 'room' });
  assert.deepEqual(errors.map((e) => e.code), ['PROTOCOL', 'PROTOCOL']);
  assert.equal((await client.publish('room', 'still fine')).seq, 1);
  await client.close();
});

test('constructor validates url and uid', () => {
  const node = new FakeNode();
  assert.throws(() => new ParleyClient({ url: 'ftp://x/', uid: 'a', WebSocket: node.WebSocket }), RangeError);
  assert.throws(() => new ParleyClient({ url: 'nope', uid: 'a', WebSocket: node.WebSocket }), RangeError);
  assert.throws(() => new ParleyClient({ url: 'ws://x/', uid: '', WebSocket: node.WebSocket }), RangeError);
  assert.equal(new ParleyClient({ url: 'https://x.example/', uid: 'a', WebSocket: node.WebSocket }).url, 'wss://x.example/');
});

test('presence: the sub asks for it; members and presence frames become events of the subscription', async () => {
  const node = new FakeNode();
  const { client } = setup({}, node);
  await client.connect();
  const sub = client.subscribe('room', { presence: true });
  const seen: string[] = [];
  sub.on('members', (m) => seen.push(`members ${m.uids.join(',')} ${m.count} ${m.elsewhere}`));
  sub.on('presence', (p) => seen.push(`${p.uid} ${p.here ? 'arrived' : 'left'} in ${p.channel}`));
  await node.until(() => sub.live, 'live');
  assert.equal(framesOf(node.last, 'sub')[0]?.presence, true);
  node.last.push({ t: 'members', ch: 'room', uids: ['alice', 'bob'], count: 2, elsewhere: true });
  node.last.push({ t: 'presence', ch: 'room', uid: 'carol', here: true });
  node.last.push({ t: 'presence', ch: 'other', uid: 'dave', here: true });
  node.last.push({ t: 'presence', ch: 'room', uid: 'bob', here: false });
  await node.until(() => seen.length === 3, 'events');
  assert.deepEqual(seen, ['members alice,bob 2 true', 'carol arrived in room', 'bob left in room']);
  const plain = client.subscribe('quiet');
  await node.until(() => plain.live, 'live');
  assert.equal(framesOf(node.last, 'sub').find((f) => f.ch === 'quiet')?.presence, false);
  await client.close();
});

test('listPublic sends the auth computed with the key (not the key), resolves on listed, is sent again after a reconnect, and rejects on err', async () => {
  const { node, client } = setup();
  await client.connect();
  let lost = false;
  node.intercept = (socket, frame) => {
    if (frame.t !== 'public') return 'handle';
    if (!lost) {
      lost = true;
      queueMicrotask(() => socket.drop(1006));
    } else if (frame.auth === mlesAuth('alice', frame.ch, 'operator-key')) {
      socket.push({ t: 'listed', qid: frame.qid, ch: frame.ch, about: frame.about });
    } else {
      socket.push({ t: 'err', code: 'NOT_ALLOWED', msg: 'auth is wrong', ch: frame.ch, qid: frame.qid });
    }
    return 'drop';
  };
  assert.deepEqual(await client.listPublic('lobby', { about: 'Say hello', key: 'operator-key' }), { channel: 'lobby', about: 'Say hello' });
  const sent = framesOf(node.last, 'public')[0]!;
  assert.deepEqual({ ...sent, qid: undefined }, { t: 'public', qid: undefined, ch: 'lobby', about: 'Say hello', auth: mlesAuth('alice', 'lobby', 'operator-key') });
  await assert.rejects(client.listPublic('lobby', { key: 'guess' }), (e: unknown) => e instanceof ParleyError && e.code === 'NOT_ALLOWED' && e.channel === 'lobby');
  assert.throws(() => client.listPublic('lobby', { key: 'k', about: 'x'.repeat(281) }), RangeError);
  await client.close();
  await assert.rejects(client.listPublic('lobby', { key: 'k' }), (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
});

test('unlistPublic sends the auth computed with the key, resolves on unlisted, is sent again after a reconnect, and rejects on err', async () => {
  const { node, client } = setup();
  await client.connect();
  let lost = false;
  node.intercept = (socket, frame) => {
    if (frame.t !== 'unpublic') return 'handle';
    if (!lost) {
      lost = true;
      queueMicrotask(() => socket.drop(1006));
    } else if (frame.ch === 'town') {
      socket.push({ t: 'err', code: 'NOT_LISTED', msg: 'listed by --public', ch: frame.ch, qid: frame.qid });
    } else {
      socket.push({ t: 'unlisted', qid: frame.qid, ch: frame.ch });
    }
    return 'drop';
  };
  await client.unlistPublic('lobby', { key: 'operator-key' });
  const sent = framesOf(node.last, 'unpublic')[0]!;
  assert.deepEqual({ ...sent, qid: undefined }, { t: 'unpublic', qid: undefined, ch: 'lobby', auth: mlesAuth('alice', 'lobby', 'operator-key') });
  await assert.rejects(client.unlistPublic('town', { key: 'operator-key' }), (e: unknown) => e instanceof ParleyError && e.code === 'NOT_LISTED' && e.channel === 'town');
  await client.close();
  await assert.rejects(client.unlistPublic('lobby', { key: 'k' }), (e: unknown) => e instanceof ParleyError && e.code === 'CLOSED');
});
