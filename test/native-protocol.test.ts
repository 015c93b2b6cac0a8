// The native protocol against a real node: the subscribe seam under load, acked and
// idempotent publishes, queries, retention gaps, typed errors, and Mles interop.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mlesAuth } from '../src/access/auth.ts';
import { encodeMap } from '../src/native/frames.ts';
import { MlesTestClient } from './helpers/mles-client.ts';
import { NativeTestClient, type Frame } from './helpers/native-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

const text = (f: Frame) => Buffer.from(f.p as Uint8Array).toString();
const seqs = (frames: Frame[]) => frames.map((f) => f.seq as number);

/** Publishes `count` messages with at most `window` unacked, resolving when all are acked. */
async function publishMany(client: NativeTestClient, channel: string, count: number, prefix: string, window = 64): Promise<void> {
  let acked = 0;
  let sent = 0;
  while (acked < count) {
    while (sent < count && sent - acked < window) {
      client.send({ t: 'pub', ch: channel, cid: `${prefix}-${sent}`, p: Buffer.from(`${prefix}-${sent}`) });
      sent++;
    }
    const want = acked + 1;
    await client.next((f) => f.t === 'ack' && f.cid === `${prefix}-${want - 1}`);
    acked = want;
  }
}

describe('native protocol', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode()));
  after(() => node.stop());

  test('publish is acked with the stored seq; a retry is acked as a duplicate and stored once', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'alice');
    a.send({ t: 'pub', ch: 'acks', cid: 'c1', p: Buffer.from('one') });
    const first = await a.next((f) => f.t === 'ack' && f.cid === 'c1');
    assert.equal(first.seq, 1);
    assert.equal(first.dup, false);
    assert.equal((first.id as Uint8Array).length, 32);
    a.send({ t: 'pub', ch: 'acks', cid: 'c1', p: Buffer.from('one'), retry: true });
    const again = await a.next((f) => f.t === 'ack' && f.cid === 'c1' && f.dup === true);
    assert.equal(again.seq, 1);
    a.send({ t: 'query', qid: 'q', ch: 'acks' });
    const page = await a.next((f) => f.t === 'page');
    assert.equal((page.msgs as Frame[]).length, 1);
    await a.close();
  });

  test('a subscriber joining mid-stream with a cursor sees every seq once, in order, across the seam', async () => {
    const channel = 'seam';
    const publishers = await Promise.all([0, 1, 2].map((i) => NativeTestClient.connect(node.wsUrl, `pub${i}`)));
    const running = publishers.map((p, i) => publishMany(p, channel, 1500, `p${i}`));
    const early = await NativeTestClient.connect(node.wsUrl, 'early');
    await early.next(() => true, 10_000, 0); // welcome
    // Join while the publishers are mid-stream, from the very start of the channel.
    await publishers[0]!.next((f) => f.t === 'ack' && (f.seq as number) > 500);
    const late = await NativeTestClient.connect(node.wsUrl, 'late');
    late.send({ t: 'sub', ch: channel, after: 0 });
    await Promise.all(running);
    await late.next((f) => f.t === 'msg' && f.seq === 4500, 20_000);
    const got = seqs(late.messages(channel));
    assert.deepEqual(got, Array.from({ length: 4500 }, (_, i) => i + 1));
    const live = late.frames.findIndex((f) => f.t === 'live');
    assert.ok(live > 0, 'went live after the replay');
    await Promise.all([...publishers, early, late].map((c) => c.close()));
  });

  test('messages stored together reach a subscriber together: one WebSocket message, cut at 256 KiB', async () => {
    const reader = await NativeTestClient.connect(node.wsUrl, 'together-reader');
    reader.send({ t: 'sub', ch: 'together' });
    await reader.next((f) => f.t === 'live');
    const writer = await NativeTestClient.connect(node.wsUrl, 'together-writer');
    // Corked: the 200 publishes leave in one TCP write, so the node reads, stores and
    // fans them out in one turn.
    const socket = (writer.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    for (let i = 0; i < 200; i++) writer.send({ t: 'pub', ch: 'together', cid: `t${i}`, p: Buffer.from(`t${i}`) });
    socket.uncork();
    await reader.next((f) => f.t === 'msg' && f.seq === 200);
    assert.deepEqual(reader.messages('together').map(text), Array.from({ length: 200 }, (_, i) => `t${i}`));
    const carrying = reader.wsMessages.filter((m) => m.frames > 0).slice(2); // after welcome and live
    assert.ok(carrying.length < 20, `200 messages came in ${carrying.length} WebSocket messages`);

    // Large ones: a WebSocket message holds several only while it stays within 256 KiB.
    reader.wsMessages.length = 0;
    socket.cork();
    for (let i = 0; i < 10; i++) writer.send({ t: 'pub', ch: 'together', cid: `b${i}`, p: Buffer.alloc(100 * 1024, i) });
    socket.uncork();
    await reader.next((f) => f.t === 'msg' && f.seq === 210, 10_000);
    const big = reader.messages('together').slice(200);
    assert.deepEqual(seqs(big), Array.from({ length: 10 }, (_, i) => 201 + i));
    for (const [i, m] of big.entries()) assert.ok(Buffer.from(m.p as Uint8Array).equals(Buffer.alloc(100 * 1024, i)), `message ${201 + i}`);
    for (const m of reader.wsMessages) assert.ok(m.frames === 1 || m.bytes <= 256 * 1024, `${m.frames} frames in ${m.bytes} bytes`);
    assert.ok(reader.wsMessages.some((m) => m.frames === 2), 'two 100 KiB messages share a WebSocket message');
    await Promise.all([reader.close(), writer.close()]);
  });

  test('a replay of large messages arrives whole and in order', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'big');
    // 40 KiB each: several messages per replay buffer, and a page spans many buffers.
    for (let i = 0; i < 12; i++) a.send({ t: 'pub', ch: 'large', cid: `l${i}`, p: Buffer.alloc(40 * 1024, i) });
    await a.next((f) => f.t === 'ack' && f.cid === 'l11');
    const b = await NativeTestClient.connect(node.wsUrl, 'reader');
    b.send({ t: 'sub', ch: 'large', after: 0 });
    assert.equal((await b.next((f) => f.t === 'live')).last, 12);
    const got = b.messages('large');
    assert.deepEqual(seqs(got), Array.from({ length: 12 }, (_, i) => i + 1));
    for (const [i, m] of got.entries()) assert.ok(Buffer.from(m.p as Uint8Array).equals(Buffer.alloc(40 * 1024, i)), `message ${i + 1}`);
    await Promise.all([a.close(), b.close()]);
  });

  test('a replay bigger than the send buffer waits for the client instead of dropping it', async () => {
    const small = await startNode(['--max-buffered', String(4 * 1024 * 1024), '--history-bytes', String(1024 * 1024)]);
    try {
      const a = await NativeTestClient.connect(small.wsUrl, 'big');
      for (let i = 0; i < 12; i++) a.send({ t: 'pub', ch: 'huge', cid: `h${i}`, p: Buffer.alloc(900 * 1024, i) });
      await a.next((f) => f.t === 'ack' && f.cid === 'h11', 20_000);
      const b = await NativeTestClient.connect(small.wsUrl, 'reader');
      // b stops reading while the node replays 10.8 MB to it, more than its send buffer.
      const socket = (b.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.pause();
      b.send({ t: 'sub', ch: 'huge', after: 0 });
      // A round trip on another connection: the node has taken b's sub by then.
      a.send({ t: 'query', qid: 'q', ch: 'huge', limit: 1 });
      await a.next((f) => f.t === 'page' && f.qid === 'q');
      socket.resume();
      assert.equal((await b.next((f) => f.t === 'live', 20_000)).last, 12);
      assert.deepEqual(seqs(b.messages('huge')), Array.from({ length: 12 }, (_, i) => i + 1));
      // Looked up by id, the same 10.8 MB come in pages of at most 4 MiB.
      b.send({ t: 'query', qid: 'by-id', ch: 'huge', ids: b.messages('huge').map((m) => m.id) });
      const page = await b.next((f) => f.qid === 'by-id');
      assert.deepEqual([seqs(page.msgs as Frame[]), page.last], [[1, 2, 3, 4], false]);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await small.stop();
    }
  });

  test('a cursor replays exactly what came after it, then live messages follow', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'a');
    await publishMany(a, 'cursor', 10, 'm');
    const b = await NativeTestClient.connect(node.wsUrl, 'b');
    b.send({ t: 'sub', ch: 'cursor', after: 7 });
    const live = await b.next((f) => f.t === 'live');
    assert.equal(live.last, 10);
    assert.deepEqual(b.messages('cursor').map(text), ['m-7', 'm-8', 'm-9']);
    await publishMany(a, 'cursor', 1, 'late');
    await b.next((f) => f.t === 'msg' && f.seq === 11);
    const fresh = await NativeTestClient.connect(node.wsUrl, 'c');
    fresh.send({ t: 'sub', ch: 'cursor' });
    assert.equal((await fresh.next((f) => f.t === 'live')).last, 11);
    assert.equal(fresh.messages('cursor').length, 0, 'without a cursor, only what comes next');
    await Promise.all([a.close(), b.close(), fresh.close()]);
  });

  test('native and Mles clients on one channel see each other', async () => {
    const mles = await MlesTestClient.join(node.wsUrl, { uid: 'mles-user', channel: 'mixed' });
    const native = await NativeTestClient.connect(node.wsUrl, 'native-user');
    native.send({ t: 'sub', ch: 'mixed' });
    await native.next((f) => f.t === 'live');
    mles.send(Buffer.from('from mles'));
    const fromMles = await native.next((f) => f.t === 'msg');
    assert.equal(text(fromMles), 'from mles');
    assert.equal(fromMles.from, 'mles-user');
    assert.equal(fromMles.bin, true);
    native.send({ t: 'pub', ch: 'mixed', cid: 'n1', p: Buffer.from('from native') });
    native.send({ t: 'pub', ch: 'mixed', cid: 'n2', p: Buffer.from('as text'), bin: false });
    await mles.waitForText('as text');
    assert.deepEqual(mles.received.slice(-2), [
      { binary: true, data: Buffer.from('from native') },
      { binary: false, data: Buffer.from('as text') },
    ]);
    await Promise.all([mles.close(), native.close()]);
  });

  test('queries page through a channel in both directions and by id', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'q');
    await publishMany(a, 'pages', 25, 'x');
    a.send({ t: 'query', qid: 'q1', ch: 'pages', limit: 10 });
    const p1 = await a.next((f) => f.qid === 'q1');
    assert.deepEqual(seqs(p1.msgs as Frame[]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(p1.last, false);
    assert.equal(p1.next, 10);
    a.send({ t: 'query', qid: 'q2', ch: 'pages', after: 20, limit: 10 });
    const p2 = await a.next((f) => f.qid === 'q2');
    assert.deepEqual(seqs(p2.msgs as Frame[]), [21, 22, 23, 24, 25]);
    assert.equal(p2.last, true);
    a.send({ t: 'query', qid: 'q3', ch: 'pages', before: 5, desc: true, limit: 2 });
    const p3 = await a.next((f) => f.qid === 'q3');
    assert.deepEqual(seqs(p3.msgs as Frame[]), [4, 3]);
    assert.equal(p3.next, 3);
    const ids = (p1.msgs as Frame[]).slice(0, 2).map((m) => m.id);
    a.send({ t: 'query', qid: 'q4', ch: 'pages', ids: [...ids, Buffer.alloc(32)] });
    const p4 = await a.next((f) => f.qid === 'q4');
    assert.deepEqual(seqs(p4.msgs as Frame[]), [1, 2]);
    await a.close();
  });

  test('before without after pages back from it, oldest first, and walking back gets every message once', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'scroller');
    await publishMany(a, 'scroll', 100, 's');
    const query = async (fields: Frame): Promise<Frame> => {
      const qid = `b${a.frames.length}`;
      a.send({ t: 'query', qid, ch: 'scroll', ...fields });
      return a.next((f) => f.qid === qid);
    };
    const newest = await query({ before: 100, limit: 10 });
    assert.deepEqual(seqs(newest.msgs as Frame[]), [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    assert.deepEqual([newest.last, newest.next], [false, 90]);
    const desc = await query({ before: 100, limit: 10, desc: true });
    assert.deepEqual(seqs(desc.msgs as Frame[]), seqs(newest.msgs as Frame[]).reverse(), 'desc: the same page, newest first');
    const seen: number[] = [];
    let page = await query({ before: 101, limit: 30 });
    for (;;) {
      seen.unshift(...seqs(page.msgs as Frame[]));
      if (page.last === true) break;
      page = await query({ before: page.next, limit: 30 });
    }
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(page.next, undefined);
    await a.close();
  });

  test('bad frames, cursors and queries get typed errors and the connection goes on', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'errors');
    await publishMany(a, 'e', 3, 'e');
    const expectError = async (frame: Frame | Buffer, code: string) => {
      const from = a.frames.length;
      a.ws.send(Buffer.isBuffer(frame) ? frame : encodeMap(frame));
      const error = await a.next((f) => f.t === 'err', 5000, from);
      assert.equal(error.code, code, JSON.stringify(frame));
      return error;
    };
    await expectError(Buffer.from([0xff, 0x00]), 'BAD_FRAME');
    await expectError({ t: 'launch' }, 'BAD_FRAME');
    await expectError({ t: 'pub', ch: 'e', p: Buffer.from('no cid') }, 'BAD_FRAME');
    await expectError({ t: 'hello', uid: 'again' }, 'ALREADY_HELLO');
    await expectError({ t: 'sub', ch: 'e', after: -3 }, 'BAD_CURSOR');
    await expectError({ t: 'sub', ch: 'e', after: 'latest' }, 'BAD_CURSOR');
    const unknown = await expectError({ t: 'sub', ch: 'e', after: 99 }, 'UNKNOWN_CURSOR');
    assert.equal(unknown.ch, 'e');
    await expectError({ t: 'unsub', ch: 'never' }, 'NOT_SUBSCRIBED');
    await expectError({ t: 'query', qid: 'big', ch: 'e', limit: 1001 }, 'LIMIT_TOO_LARGE');
    await expectError({ t: 'query', qid: 'mixed', ch: 'e', after: 1, ids: [] }, 'BAD_QUERY');
    a.send({ t: 'sub', ch: 'e', after: 0 });
    await a.next((f) => f.t === 'live' && f.ch === 'e');
    await expectError({ t: 'sub', ch: 'e', after: 0 }, 'ALREADY_SUBSCRIBED');
    a.send({ t: 'unsub', ch: 'e' });
    await a.next((f) => f.t === 'unsubbed');
    const metrics = await (await fetch(new URL('/metrics', node.url))).text();
    assert.match(metrics, /parley_native_errors_total\{code="BAD_CURSOR"\} 2/);
    await a.close();
  });

  test('without MLES_KEY a given auth must be right on every frame, not only the first', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'alice');
    a.send({ t: 'query', qid: 'right', ch: 'open', auth: mlesAuth('alice', 'open', undefined) });
    await a.next((f) => f.t === 'page' && f.qid === 'right');
    a.send({ t: 'query', qid: 'wrong', ch: 'open', auth: mlesAuth('bob', 'open', undefined) });
    assert.equal((await a.next((f) => f.qid === 'wrong')).code, 'AUTH_FAILED');
    a.send({ t: 'query', qid: 'none', ch: 'open' });
    await a.next((f) => f.t === 'page' && f.qid === 'none');
    await a.close();
  });

  test('the first frame must be a binary hello', async () => {
    const text = new NativeTestClient(node.wsUrl);
    await new Promise((resolve) => text.ws.once('open', resolve));
    text.ws.send('{"t":"hello"}');
    assert.deepEqual(await text.closed, { code: 4400, reason: 'bad hello: native protocol frames are binary CBOR' });
    const early = new NativeTestClient(node.wsUrl);
    await new Promise((resolve) => early.ws.once('open', resolve));
    early.send({ t: 'sub', ch: 'x' });
    assert.equal((await early.closed).code, 4400);
    assert.equal(early.frames[0]?.code, 'NOT_HELLO');
  });
});

describe('native auth', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode([], { MLES_KEY: 'secret' })));
  after(() => node.stop());

  test('each channel needs the Mles auth of the uid once per connection', async () => {
    const alice = await NativeTestClient.connect(node.wsUrl, 'alice');
    alice.send({ t: 'sub', ch: 'example' });
    assert.equal((await alice.next((f) => f.t === 'err')).code, 'AUTH_FAILED');
    alice.send({ t: 'sub', ch: 'example', auth: 'afa46b8689dae7a5' });
    await alice.next((f) => f.t === 'live');
    alice.send({ t: 'pub', ch: 'example', cid: '1', p: Buffer.from('no auth needed again') });
    await alice.next((f) => f.t === 'ack');
    alice.send({ t: 'pub', ch: 'other', cid: '2', p: Buffer.from('x'), auth: 'afa46b8689dae7a5' });
    const refused = await alice.next((f) => f.t === 'err' && f.cid === '2');
    assert.equal(refused.code, 'AUTH_FAILED');
    await alice.close();
  });
});

describe('retention', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--retain-count', '5', '--retention-interval', '1s'])));
  after(() => node.stop());

  test('removes old messages, and a stale cursor gets GAP with the first stored seq', async () => {
    const a = await NativeTestClient.connect(node.wsUrl, 'a');
    await publishMany(a, 'short', 12, 'r');
    // Retention runs in the background; each pass logs what it removed.
    let page: Frame = {};
    for (let pass = 0; pass < 5; pass++) {
      const removed = node.waitForLog('retention removed messages');
      removed.catch(() => {}); // left unawaited once the channel is trimmed
      a.send({ t: 'query', qid: `p${pass}`, ch: 'short' });
      page = await a.next((f) => f.qid === `p${pass}`);
      if (page.first === 8) break;
      await removed; // something is still over the limit, so a pass will remove it
    }
    assert.equal(page.first, 8);
    assert.deepEqual(seqs(page.msgs as Frame[]), [8, 9, 10, 11, 12]);
    a.send({ t: 'sub', ch: 'short', after: 3 });
    const gap = await a.next((f) => f.t === 'err');
    assert.deepEqual([gap.code, gap.first, gap.last], ['GAP', 8, 12]);
    a.send({ t: 'sub', ch: 'short', after: 7 });
    await a.next((f) => f.t === 'live');
    assert.deepEqual(seqs(a.messages('short')), [8, 9, 10, 11, 12]);
    await a.close();
  });
});
