// Mles v2 behaviour of a real node process, as MLES.md describes the reference:
// verbatim fan-out without echo, one order per channel, duplicate uids, history
// replay, auth, and the prompt refusals parley adds.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { mlesAuth } from '../src/access/auth.ts';
import { MlesTestClient } from './helpers/mles-client.ts';
import { clientFrame, rawUpgrade } from './helpers/raw-ws.ts';
import { encodeFrame, OP_BINARY, OP_TEXT } from '../src/websocket/frame.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

describe('relay', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--limit', '5'])));
  after(() => node.stop());

  test('forwards text and binary frames verbatim to the others, never back to the sender', async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'verbatim' });
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'verbatim' });
    const c = await MlesTestClient.join(node.wsUrl, { uid: 'c', channel: 'verbatim' });
    const outsider = await MlesTestClient.join(node.wsUrl, { uid: 'x', channel: 'elsewhere' });
    await b.waitFor(1); // a's header from history
    await c.waitFor(2);
    const binary = Buffer.from([0, 1, 2, 255, 0xa1, 0x63]);
    a.send('hello text');
    a.send(binary);
    const seenByB = await b.waitFor(3);
    const seenByC = await c.waitFor(4);
    assert.deepEqual(seenByB.slice(1), [
      { binary: false, data: Buffer.from('hello text') },
      { binary: true, data: binary },
    ]);
    assert.deepEqual(seenByC.slice(2), seenByB.slice(1));
    // a got no echo: b's header is not broadcast live either, so a has nothing at all.
    c.send('ping from c');
    await a.waitFor(1);
    assert.deepEqual(a.texts(), ['ping from c']);
    assert.equal(outsider.received.length, 0);
    await Promise.all([a.close(), b.close(), c.close(), outsider.close()]);
  });

  test('every member sees one order per channel', async () => {
    const senders = await Promise.all(['s1', 's2', 's3'].map((uid) => MlesTestClient.join(node.wsUrl, { uid, channel: 'order' })));
    const watchers = await Promise.all(['w1', 'w2'].map((uid) => MlesTestClient.join(node.wsUrl, { uid, channel: 'order' })));
    // A probe that every watcher receives live proves they have all joined.
    senders[0]!.send('probe');
    await Promise.all(watchers.map((w) => w.waitForText('probe')));
    for (let i = 0; i < 100; i++) senders.forEach((s, n) => s.send(`s${n + 1}-${i}`));
    const expected = 300;
    const data = (w: MlesTestClient) => w.texts().filter((t) => /^s\d-/.test(t));
    await Promise.all(
      watchers.map(async (w) => {
        while (data(w).length < expected) await w.waitFor(w.received.length + 1);
      }),
    );
    const orders = watchers.map(data);
    assert.deepEqual(orders[0], orders[1]);
    assert.equal(new Set(orders[0]).size, expected);
    await Promise.all([...senders, ...watchers].map((c) => c.close()));
  });

  test('frames pipelined right behind the header are relayed in order', async () => {
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'pipeline' });
    const a = new MlesTestClient(node.wsUrl);
    await a.opened();
    a.send(JSON.stringify({ uid: 'a', channel: 'pipeline' }));
    for (let i = 0; i < 10; i++) a.send(`m${i}`);
    await b.waitFor(10);
    assert.deepEqual(b.texts(), Array.from({ length: 10 }, (_, i) => `m${i}`));
    await Promise.all([a.close(), b.close()]);
  });

  test('a header and frames sent in the same packet as the upgrade request are handled', async () => {
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'eager' });
    const socket = await rawUpgrade(node.port, Buffer.concat([clientFrame(OP_TEXT, '{"uid":"eager","channel":"eager"}'), clientFrame(OP_TEXT, 'right away')]));
    await b.waitForText('right away');
    socket.destroy();
    await b.close();
  });

  test('refuses a second connection with a joined uid; the first is unaffected', async () => {
    const first = await MlesTestClient.join(node.wsUrl, { uid: 'dup', channel: 'dups' });
    const other = await MlesTestClient.join(node.wsUrl, { uid: 'other', channel: 'dups' });
    const second = await MlesTestClient.join(node.wsUrl, { uid: 'dup', channel: 'dups' });
    assert.deepEqual(await second.closed, { code: 4409, reason: 'uid already joined to channel' });
    other.send('still here');
    await first.waitForText('still here');
    await first.close();
    const again = await MlesTestClient.join(node.wsUrl, { uid: 'dup', channel: 'dups' });
    other.send('welcome back');
    await again.waitForText('welcome back');
    await Promise.all([again.close(), other.close()]);
  });

  test('history replays headers and frames, bounded by --limit, and outlives members', async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'hist', extra: 'kept' });
    for (let i = 1; i <= 3; i++) a.send(`a${i}`);
    await a.close();
    // a's header and three frames are stored; the channel is now empty.
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'hist' });
    const replay = await b.waitFor(4);
    assert.deepEqual(replay.map((r) => r.binary), [false, false, false, false]);
    assert.deepEqual(JSON.parse(replay[0]!.data.toString()), { uid: 'a', channel: 'hist', extra: 'kept' });
    assert.deepEqual(b.texts().slice(1), ['a1', 'a2', 'a3']);
    await b.close();
    // a rejoins and sees its own earlier frames.
    const again = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'hist' });
    await again.waitFor(5);
    assert.deepEqual(again.texts().slice(1, 4), ['a1', 'a2', 'a3']);
    assert.equal(JSON.parse(again.texts()[4]!).uid, 'b');
    // That join stored a sixth entry: the limit of 5 dropped the oldest, a's first header.
    const c = await MlesTestClient.join(node.wsUrl, { uid: 'c', channel: 'hist' });
    await c.waitFor(5);
    assert.deepEqual(c.texts().slice(0, 3), ['a1', 'a2', 'a3']);
    assert.deepEqual(c.texts().slice(3).map((t) => JSON.parse(t).uid), ['b', 'a']);
    await c.close();
    await again.close();
  });
});

describe('MlesTalk-style clients', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode()));
  after(() => node.stop());

  // MlesTalk sends base64 uid/channel values with no auth, then binary CBOR frames of
  // {uid, channel, message}; on reconnect it looks for its own frames in the history
  // to decide what to re-send, and treats every text frame as a join header.
  test('base64 names, binary CBOR frames, and own frames in the replay after a reconnect', async () => {
    const uid = Buffer.from('alice\u00ff').toString('base64'); // "YWxpY2XDvw==": has + / = in general
    const channel = Buffer.from([0xfb, 0xff, 0x01, 0x02]).toString('base64'); // "+/8BAg=="
    const cbor = (text: string) => Buffer.concat([Buffer.from([0xa3, 0x63]), Buffer.from('uid'), Buffer.from(text)]);
    const alice = await MlesTestClient.join(node.wsUrl, { uid, channel });
    const bob = await MlesTestClient.join(node.wsUrl, { uid: 'Ym9i', channel });
    alice.send(cbor('one'));
    alice.send(cbor('two'));
    await bob.waitFor(3);
    assert.deepEqual(bob.received.slice(1), [
      { binary: true, data: cbor('one') },
      { binary: true, data: cbor('two') },
    ]);
    await alice.close();
    const again = await MlesTestClient.join(node.wsUrl, { uid, channel });
    await again.waitFor(4);
    // History: alice's first header, bob's header, then alice's own two frames.
    assert.deepEqual(again.received.map((r) => r.binary), [false, false, true, true]);
    assert.deepEqual(JSON.parse(again.texts()[0]!), { uid, channel });
    assert.deepEqual(JSON.parse(again.texts()[1]!), { uid: 'Ym9i', channel });
    assert.deepEqual(again.received[2]!.data, cbor('one'));
    assert.deepEqual(again.received[3]!.data, cbor('two'));
    await Promise.all([again.close(), bob.close()]);
  });
});

describe('closing', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode()));
  after(() => node.stop());

  test('a client that joins and closes at once still gets the history first', async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'quick' });
    a.send('one');
    a.send('two');
    await a.close();
    for (let i = 0; i < 10; i++) {
      const quick = new MlesTestClient(node.wsUrl);
      await quick.opened();
      quick.send(JSON.stringify({ uid: `q${i}`, channel: 'quick' }));
      quick.ws.close(1000);
      assert.equal((await quick.closed).code, 1000);
      assert.deepEqual(quick.texts().slice(0, 3), ['{"uid":"a","channel":"quick"}', 'one', 'two'], `try ${i}`);
    }
  });
});

describe('auth with MLES_KEY', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode([], { MLES_KEY: 'secret' })));
  after(() => node.stop());

  test('accepts the right auth and never replays it to others', async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'alice', channel: 'example', auth: 'afa46b8689dae7a5' });
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'bob', channel: 'example', auth: '6F862A3096E7C765' });
    const [header] = await b.waitFor(1);
    assert.deepEqual(JSON.parse(header!.data.toString()), { uid: 'alice', channel: 'example' });
    a.send('hi bob');
    await b.waitFor(2);
    await Promise.all([a.close(), b.close()]);
  });

  test('refuses a missing or wrong auth with 4401', async () => {
    for (const auth of [undefined, null, 'afa46b8689dae7a6', mlesAuth('alice', 'example', undefined), 'not hex']) {
      const client = await MlesTestClient.join(node.wsUrl, { uid: 'alice', channel: 'example', auth });
      assert.deepEqual(await client.closed, { code: 4401, reason: 'auth failed' }, String(auth));
    }
  });
});

describe('auth without MLES_KEY', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode()));
  after(() => node.stop());

  test('no auth passes; a present auth must be the unkeyed hash', async () => {
    const none = await MlesTestClient.join(node.wsUrl, { uid: 'alice', channel: 'example' });
    const right = await MlesTestClient.join(node.wsUrl, { uid: 'bob', channel: 'example', auth: mlesAuth('bob', 'example', undefined) });
    const wrong = await MlesTestClient.join(node.wsUrl, { uid: 'carol', channel: 'example', auth: 'afa46b8689dae7a5' });
    assert.equal((await wrong.closed).code, 4401);
    none.send('x');
    await right.waitFor(2);
    await Promise.all([none.close(), right.close()]);
  });
});

describe('bad input', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--header-timeout', '1', '--max-message', '1024', '--rate-limit', '1000'])));
  after(() => node.stop());

  const badHeaders: Array<[string, string]> = [
    ['not json', 'bad header: header is not JSON'],
    ['[1,2]', 'bad header: header must be a JSON object'],
    ['{"uid":5,"channel":"c"}', 'bad header: uid must be a string'],
    ['{"uid":"","channel":"c"}', 'bad header: uid must not be empty'],
    ['{"uid":"a","channel":""}', 'bad header: channel must not be empty'],
    ['{"uid":"é","channel":"c"}', 'bad header: uid must be printable ASCII'],
    ['{"uid":"a","channel":"c","auth":7}', 'bad header: auth must be a string or null'],
  ];

  test('a bad header closes 4400 with the reason', async () => {
    for (const [text, reason] of badHeaders) {
      const client = new MlesTestClient(node.wsUrl);
      await client.opened();
      client.send(text);
      assert.deepEqual(await client.closed, { code: 4400, reason }, text);
    }
  });

  test('a binary first frame is not a header', async () => {
    const client = new MlesTestClient(node.wsUrl);
    await client.opened();
    client.send(Buffer.from('{"uid":"a","channel":"c"}'), true);
    assert.deepEqual(await client.closed, { code: 4400, reason: 'bad header: header must be a text frame' });
  });

  test('a header over 8 KiB is refused (it would be stored and replayed to every joiner)', async () => {
    const roomy = await startNode(['--max-message', String(1 << 20)]);
    try {
      const client = new MlesTestClient(roomy.wsUrl);
      await client.opened();
      client.send(JSON.stringify({ uid: 'a', channel: 'c', padding: 'x'.repeat(100_000) }));
      assert.deepEqual(await client.closed, { code: 4400, reason: 'bad header: header over 8192 bytes' });
      // Up to the bound, unknown fields still pass (clients add their own).
      const fine = await MlesTestClient.join(roomy.wsUrl, { uid: 'b', channel: 'c', padding: 'x'.repeat(6000) });
      fine.send('hello');
      const later = await MlesTestClient.join(roomy.wsUrl, { uid: 'later', channel: 'c' });
      const [header] = await later.waitFor(2);
      assert.equal(JSON.parse(header!.data.toString()).padding.length, 6000);
      await Promise.all([fine.close(), later.close()]);
    } finally {
      await roomy.stop();
    }
  });

  test('no header in time closes 4408', async () => {
    const client = new MlesTestClient(node.wsUrl);
    assert.deepEqual(await client.closed, { code: 4408, reason: 'no header in time' });
  });

  test('an oversize frame closes 1009 and leaves the others alone', async () => {
    const big = await MlesTestClient.join(node.wsUrl, { uid: 'big', channel: 'size' });
    const other = await MlesTestClient.join(node.wsUrl, { uid: 'other', channel: 'size' });
    const listener = await MlesTestClient.join(node.wsUrl, { uid: 'listener', channel: 'size' });
    big.send(Buffer.alloc(2048));
    assert.equal((await big.closed).code, 1009);
    other.send('fine');
    await listener.waitFor(3);
    assert.equal(listener.texts().at(-1), 'fine');
    await Promise.all([other.close(), listener.close()]);
  });

  test('a missing subprotocol gets 426, a foreign one 400, both with a reason', async () => {
    for (const [protocols, status] of [[[], 426], [['mqtt'], 400]] as const) {
      const ws = new WebSocket(node.wsUrl, [...protocols]);
      const [response] = await new Promise<[import('node:http').IncomingMessage]>((resolve, reject) => {
        ws.on('unexpected-response', (_req, res) => resolve([res]));
        ws.on('open', () => reject(new Error('upgrade should have been refused')));
      });
      assert.equal(response.statusCode, status);
      let body = '';
      for await (const chunk of response) body += String(chunk);
      assert.match(body, /mles-websocket/);
    }
  });

  test('a malformed upgrade gets 400 and a WebSocket version other than 13 gets 426, each saying why', async () => {
    const upgrade = async (headers: string): Promise<string> => {
      const socket = connect(node.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: mles-websocket\r\n${headers}\r\n`);
      let response = '';
      for await (const chunk of socket) response += String(chunk);
      return response;
    };
    const badKey = await upgrade('Sec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n');
    assert.match(badKey, /^HTTP\/1\.1 400 /);
    assert.match(badKey, /Sec-WebSocket-Key must be 16 bytes in base64/);
    const oldVersion = await upgrade('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n');
    assert.match(oldVersion, /^HTTP\/1\.1 426 /);
    assert.match(oldVersion, /\r\nSec-WebSocket-Version: 13\r\n/);
  });

  test('frames that break RFC 6455 close with 1002 and the reason', async () => {
    const socket = await rawUpgrade(node.port, Buffer.concat([clientFrame(OP_TEXT, '{"uid":"rfc","channel":"rfc"}'), encodeFrame(OP_BINARY, Buffer.from([0]))]));
    let response = Buffer.alloc(0);
    for await (const chunk of socket) response = Buffer.concat([response, chunk as Buffer]);
    const close = Buffer.concat([Buffer.from([0x88, 2 + 28, 0x03, 0xea]), Buffer.from('client frames must be masked')]);
    assert.ok(response.subarray(response.length - close.length).equals(close), response.toString('latin1'));
  });

  test('the node still serves well-behaved clients afterwards', async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'after' });
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'after' });
    a.send('ok');
    await b.waitFor(2);
    const metrics = await (await fetch(new URL('/metrics', node.url))).text();
    assert.match(metrics, /parley_rejected_total\{reason="BAD_HEADER"\} 8/);
    assert.match(metrics, /parley_rejected_total\{reason="HEADER_TIMEOUT"\} 1/);
    assert.match(metrics, /parley_rejected_total\{reason="TOO_BIG"\} 1/);
    assert.match(metrics, /parley_rejected_total\{reason="NO_SUBPROTOCOL"\} 1/);
    assert.match(metrics, /parley_rejected_total\{reason="PROTOCOL_ERROR"\} 1/);
    assert.match(metrics, /parley_rejected_total\{reason="BAD_VERSION"\} 1/);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('connection floods', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--rate-limit', '5'])));
  after(() => node.stop());

  test('new connections past --rate-limit per minute get 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const ws = new WebSocket(node.wsUrl, 'mles-websocket');
      statuses.push(
        await new Promise<number>((resolve) => {
          ws.on('open', () => {
            ws.close();
            resolve(101);
          });
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        }),
      );
    }
    assert.deepEqual(statuses, [101, 101, 101, 101, 101, 429, 429]);
  });
});
