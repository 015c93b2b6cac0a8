// The HTTP query API against a real node, with Mles and native traffic in the store.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mlesAuth } from '../src/access/auth.ts';
import { MlesTestClient } from './helpers/mles-client.ts';
import { NativeTestClient } from './helpers/native-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

interface ApiMessage {
  seq: number;
  id: string;
  ts: number;
  uid: string;
  binary: boolean;
  payload: string;
  encoding?: string;
}
interface ApiPage {
  messages: ApiMessage[];
  first: number;
  newest: number;
  last: boolean;
  next?: number;
}

describe('GET /v1/channels/{channel}/messages', () => {
  let node: NodeProcess;
  before(async () => {
    node = await startNode();
    const mles = await MlesTestClient.join(node.wsUrl, { uid: 'm', channel: 'api' });
    const native = await NativeTestClient.connect(node.wsUrl, 'n');
    native.send({ t: 'sub', ch: 'api', after: 0 });
    await native.next((f) => f.t === 'live');
    mles.send('text from mles');
    await native.next((f) => f.t === 'msg' && f.seq === 1);
    for (let i = 0; i < 149; i++) native.send({ t: 'pub', ch: 'api', cid: `c${i}`, p: Buffer.from([i]) });
    await native.next((f) => f.t === 'ack' && f.cid === 'c148');
    await Promise.all([mles.close(), native.close()]);
  });
  after(() => node.stop());

  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(new URL(path, node.url));
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    return { status: response.status, body: await response.json() };
  };

  test('pages oldest first with default limit 100, payloads in base64, headers not listed', async () => {
    const { status, body } = await get('/v1/channels/api/messages');
    assert.equal(status, 200);
    const page = body as ApiPage;
    assert.equal(page.messages.length, 100);
    assert.equal(page.first, 1);
    assert.equal(page.last, false);
    const [first, second] = page.messages;
    assert.deepEqual({ ...first!, id: first!.id.length, ts: typeof first!.ts }, {
      seq: 1,
      id: 64,
      ts: 'number',
      uid: 'm',
      binary: false,
      payload: Buffer.from('text from mles').toString('base64'),
    });
    assert.equal(second!.uid, 'n');
    assert.equal(second!.payload, Buffer.from([0]).toString('base64'));
    const rest = (await get(`/v1/channels/api/messages?after=${page.next}&limit=1000`)).body as ApiPage;
    assert.deepEqual(rest.messages.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => 101 + i));
    assert.equal(rest.last, true);
  });

  test('after and before bound the range', async () => {
    const page = (await get('/v1/channels/api/messages?after=10&before=14')).body as ApiPage;
    assert.deepEqual(page.messages.map((m) => m.seq), [11, 12, 13]);
    assert.equal(page.last, true);
  });

  test('before without after pages back from it, oldest first, and walking back gets every message once', async () => {
    const writer = await NativeTestClient.connect(node.wsUrl, 'w');
    for (let i = 1; i <= 100; i++) writer.send({ t: 'pub', ch: 'scroll', cid: `s${i}`, p: Buffer.from(String(i)) });
    await writer.next((f) => f.t === 'ack' && f.cid === 's100');
    await writer.close();
    const newest = (await get('/v1/channels/scroll/messages?before=100&limit=10')).body as ApiPage;
    assert.deepEqual(newest.messages.map((m) => m.seq), [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    assert.deepEqual(newest.messages.map((m) => Buffer.from(m.payload, 'base64').toString()), newest.messages.map((m) => String(m.seq)));
    assert.deepEqual([newest.first, newest.newest, newest.last, newest.next], [1, 100, false, 90]);
    const seen: number[] = [];
    let page = (await get('/v1/channels/scroll/messages?before=101&limit=30')).body as ApiPage;
    for (;;) {
      seen.unshift(...page.messages.map((m) => m.seq));
      if (page.last) break;
      page = (await get(`/v1/channels/scroll/messages?before=${page.next}&limit=30`)).body as ApiPage;
    }
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(page.next, undefined);
  });

  test('a page is cut at 4 MiB of payloads, and paging on gets the rest', async () => {
    const writer = await NativeTestClient.connect(node.wsUrl, 'w');
    for (let i = 0; i < 10; i++) writer.send({ t: 'pub', ch: 'bulky', cid: `b${i}`, p: Buffer.alloc(900 * 1024, i) });
    await writer.next((f) => f.t === 'ack' && f.cid === 'b9');
    await writer.close();
    const first = (await get('/v1/channels/bulky/messages?limit=1000')).body as ApiPage;
    assert.deepEqual(first.messages.map((m) => m.seq), [1, 2, 3, 4]);
    assert.deepEqual([first.last, first.next], [false, 4]);
    const seen = [...first.messages];
    for (let page = first; !page.last; ) {
      page = (await get(`/v1/channels/bulky/messages?limit=1000&after=${page.next}`)).body as ApiPage;
      seen.push(...page.messages);
    }
    assert.deepEqual(seen.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(seen.every((m, i) => Buffer.from(m.payload, 'base64').equals(Buffer.alloc(900 * 1024, i))));
  });

  test('a channel nothing was ever stored in gives an empty list and newest 0', async () => {
    assert.deepEqual(await get('/v1/channels/empty/messages'), { status: 200, body: { messages: [], first: 1, newest: 0, last: true } });
  });

  test('newest is the newest seq, also on an empty page of a channel with messages', async () => {
    const past = (await get('/v1/channels/api/messages?after=150')).body as ApiPage;
    assert.deepEqual([past.messages.length, past.newest, past.last], [0, 150, true]);
    assert.equal(((await get('/v1/channels/api/messages?limit=1')).body as ApiPage).newest, 150);
  });

  test('encoding=text gives UTF-8 payloads as text, the others in base64 with encoding base64', async () => {
    const writer = await NativeTestClient.connect(node.wsUrl, 'w');
    const payloads = [Buffer.from('grüße 👋'), Buffer.from([0xff, 0x00, 0x80]), Buffer.from('')];
    payloads.forEach((p, i) => writer.send({ t: 'pub', ch: 'mixed', cid: `x${i}`, p }));
    await writer.next((f) => f.t === 'ack' && f.cid === 'x2');
    await writer.close();
    const page = (await get('/v1/channels/mixed/messages?encoding=text')).body as ApiPage;
    assert.deepEqual(page.messages.map((m) => [m.payload, m.encoding]), [['grüße 👋', 'text'], ['/wCA', 'base64'], ['', 'text']]);
    const plain = (await get('/v1/channels/mixed/messages')).body as ApiPage;
    assert.deepEqual(plain.messages.map((m) => [m.payload, m.encoding]), payloads.map((p) => [p.toString('base64'), undefined]));
    assert.deepEqual(await get('/v1/channels/mixed/messages?encoding=hex'), { status: 400, body: { error: 'encoding must be base64 or text' } });
  });

  test('malformed parameters get 400 with an error', async () => {
    assert.deepEqual(await get('/v1/channels/api/messages?limit=5000'), { status: 400, body: { error: 'limit must be at most 1000' } });
    assert.deepEqual(await get('/v1/channels/api/messages?after=soon'), { status: 400, body: { error: 'after must be a whole number >= 0' } });
    assert.deepEqual(await get('/v1/channels/api/messages?limt=1'), {
      status: 400,
      body: { error: 'unknown parameter "limt"; known: after, before, limit, uid, auth, encoding' },
    });
    assert.equal((await get('/v1/nothing')).status, 404);
  });

  test('GET /v1/channels lists the channels with messages by name, with counts and newest, paged', async () => {
    interface ChannelList {
      channels: Array<{ channel: string; count: number; newest: number }>;
      next?: string;
    }
    const all = await get('/v1/channels');
    assert.equal(all.status, 200);
    assert.deepEqual((all.body as ChannelList).channels, [
      { channel: 'api', count: 150, newest: 150 },
      { channel: 'bulky', count: 10, newest: 10 },
      { channel: 'mixed', count: 3, newest: 3 },
      { channel: 'scroll', count: 100, newest: 100 },
    ]);
    assert.equal((all.body as ChannelList).next, undefined);
    const first = (await get('/v1/channels?limit=2')).body as ChannelList;
    assert.deepEqual([first.channels.map((c) => c.channel), first.next], [['api', 'bulky'], 'bulky']);
    const second = (await get(`/v1/channels?limit=2&after=${first.next}`)).body as ChannelList;
    assert.deepEqual([second.channels.map((c) => c.channel), second.next], [['mixed', 'scroll'], undefined]);
    assert.deepEqual(await get('/v1/channels?limit=1001'), { status: 400, body: { error: 'limit must be at most 1000' } });
  });

  test('without MLES_KEY a given auth must still be right', async () => {
    assert.equal((await get(`/v1/channels/api/messages?uid=x&auth=${mlesAuth('x', 'api', undefined)}`)).status, 200);
    assert.equal((await get('/v1/channels/api/messages?uid=x&auth=0000')).status, 401);
  });
});

describe('POST /v1/channels/{channel}/messages', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--max-message', '1024'])));
  after(() => node.stop());

  interface Posted {
    seq: number;
    id: string;
    ts: number;
    duplicate: boolean;
  }
  const post = async (path: string, body: string | Buffer, contentType = 'text/plain'): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(new URL(path, node.url), { method: 'POST', body: typeof body === 'string' ? body : Uint8Array.from(body), headers: { 'content-type': contentType } });
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    return { status: response.status, body: await response.json() };
  };

  test('a posted message is stored, listed by GET, and reaches an Mles member of the channel', async () => {
    const mles = await MlesTestClient.join(node.wsUrl, { uid: 'm', channel: 'posted' });
    const text = await post('/v1/channels/posted/messages?uid=alice', 'hello over http');
    assert.equal(text.status, 201);
    const first = text.body as Posted;
    assert.deepEqual([first.seq, first.id.length, typeof first.ts, first.duplicate], [1, 64, 'number', false]);
    const bytes = await post('/v1/channels/posted/messages?uid=alice', Buffer.from([0xff, 0x00]), 'application/octet-stream');
    assert.deepEqual([bytes.status, (bytes.body as Posted).seq], [201, 2]);
    const received = await mles.waitFor(2);
    assert.deepEqual(received.map((r) => [r.binary, r.data.toString('hex')]), [
      [false, Buffer.from('hello over http').toString('hex')],
      [true, 'ff00'],
    ]);
    await mles.close();
    const page = (await fetch(new URL('/v1/channels/posted/messages?encoding=text', node.url)).then((r) => r.json())) as ApiPage;
    assert.deepEqual(page.messages.map((m) => [m.seq, m.id, m.uid, m.binary, m.payload]), [
      [1, first.id, 'alice', false, 'hello over http'],
      [2, (bytes.body as Posted).id, 'alice', true, '/wA='],
    ]);
  });

  test('the same cid from the same uid gets the first result with duplicate: true', async () => {
    const first = (await post('/v1/channels/once/messages?uid=alice&cid=c1', 'one')).body as Posted;
    const again = await post('/v1/channels/once/messages?uid=alice&cid=c1', 'one');
    assert.equal(again.status, 201);
    assert.deepEqual(again.body, { ...first, duplicate: true });
    const other = (await post('/v1/channels/once/messages?uid=bob&cid=c1', 'one')).body as Posted;
    assert.deepEqual([other.seq, other.duplicate], [2, false]);
    const page = (await fetch(new URL('/v1/channels/once/messages', node.url)).then((r) => r.json())) as ApiPage;
    assert.equal(page.messages.length, 2);
  });

  test('refuses bad names, a missing uid, a wrong auth and a body over --max-message', async () => {
    assert.deepEqual(await post('/v1/channels/x/messages', 'hi'), { status: 400, body: { error: 'uid is required' } });
    assert.equal((await post('/v1/channels/x/messages?uid=a%01b', 'hi')).status, 400);
    assert.equal((await post('/v1/channels/a%01b/messages?uid=u', 'hi')).status, 400);
    assert.equal((await post('/v1/channels/x/messages?uid=u&auth=0000', 'hi')).status, 401);
    const auth = mlesAuth('u', 'x', undefined);
    assert.equal((await post(`/v1/channels/x/messages?uid=u&auth=${auth}`, 'hi')).status, 201, 'without MLES_KEY a right auth is fine');
    assert.equal((await post('/v1/channels/x/messages?uid=u', Buffer.alloc(1024, 1), 'application/octet-stream')).status, 201);
    assert.deepEqual(await post('/v1/channels/x/messages?uid=u', Buffer.alloc(1025, 1), 'application/octet-stream'), {
      status: 413,
      body: { error: "the message is larger than this node's limit of 1024 bytes" },
    });
    assert.equal((await post('/v1/channels/x/messages?uid=u', Buffer.from([0xff]))).status, 400, 'text/plain must be UTF-8');
    const elsewhere = await fetch(new URL('/v1/channels', node.url), { method: 'POST', body: 'x' });
    assert.deepEqual([elsewhere.status, elsewhere.headers.get('allow')], [405, 'GET, HEAD']);
    await elsewhere.text();
  });
});

describe('HTTP query auth with MLES_KEY', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode([], { MLES_KEY: 'secret' })));
  after(() => node.stop());

  test('needs uid and the auth of uid and channel', async () => {
    const status = async (query: string) => (await fetch(new URL(`/v1/channels/example/messages${query}`, node.url))).status;
    assert.equal(await status(''), 401);
    assert.equal(await status('?uid=alice'), 401);
    assert.equal(await status('?uid=alice&auth=6f862a3096e7c765'), 401);
    assert.equal(await status('?uid=alice&auth=afa46b8689dae7a5'), 200);
    assert.equal(await status('?uid=alice&auth=0afa46b8689dae7a5'), 200, 'a leading zero does not matter');
    assert.equal(await status(`?uid=alice&auth=${'afa46b8689dae7a5'.padStart(64, '0')}`), 200);
    assert.equal(await status(`?uid=alice&auth=${'afa46b8689dae7a5'.padStart(65, '0')}`), 400);
  });

  test('a POST needs the auth of uid and channel', async () => {
    const status = async (query: string) =>
      (await fetch(new URL(`/v1/channels/example/messages${query}`, node.url), { method: 'POST', body: 'hi', headers: { 'content-type': 'text/plain' } })).status;
    assert.equal(await status('?uid=alice'), 401);
    assert.equal(await status('?uid=alice&auth=6f862a3096e7c765'), 401);
    assert.equal(await status('?uid=alice&auth=afa46b8689dae7a5'), 201);
  });

  test('listing channels is refused with 403: it would give their names away', async () => {
    const response = await fetch(new URL('/v1/channels', node.url));
    assert.equal(response.status, 403);
    assert.match(((await response.json()) as { error: string }).error, /listing channels is off on a node with an MLES_KEY/);
  });
});
