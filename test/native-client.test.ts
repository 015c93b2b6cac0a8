// The client SDK (src/client) against real node processes: publish and subscribe
// between clients, resume after being offline through a FileCursorStore (also across a
// node restart), and a live client riding out a node crash with its outbox retried
// without duplicates. Every wait is bounded; nothing sleeps for a fixed time.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyClient } from '../src/client/index.ts';
import type { Message, ParleyClientOptions, Subscription } from '../src/client/index.ts';
import { FileCursorStore } from '../src/client/file-cursor-store.ts';
import { startNode } from './helpers/node-process.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';

const WAIT_MS = 20_000;
const text = (message: Message) => new TextDecoder().decode(message.payload);

/** Rejects after `ms` with a message saying what was awaited. */
function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Collects a subscription's messages until `done` says so (checked per message and on live). */
function collect(sub: Subscription, done: (messages: Message[], live: boolean) => boolean, what: string): Promise<Message[]> {
  const messages: Message[] = [];
  let live = sub.live;
  return within(
    new Promise<Message[]>((resolve, reject) => {
      const check = () => {
        if (done(messages, live)) {
          offMessage();
          offLive();
          resolve(messages);
        }
      };
      const offMessage = sub.on('message', (message) => {
        messages.push(message);
        check();
      });
      const offLive = sub.on('live', () => {
        live = true;
        check();
      });
      sub.once('error', reject);
      queueMicrotask(check);
    }),
    what,
  );
}

function tempFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'parley-sdk-')), name);
}

describe('client SDK against a node', () => {
  const nodes: NodeProcess[] = [];
  const clients: ParleyClient[] = [];
  const start = async (args: readonly string[] = []) => {
    const node = await startNode(args);
    nodes.push(node);
    return node;
  };
  const client = (options: ParleyClientOptions) => {
    const made = new ParleyClient({ requestTimeoutMs: WAIT_MS, ...options });
    clients.push(made);
    return made;
  };

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  });

  test('connect, subscribe, publish and ack between two clients', async () => {
    const node = await start();
    const alice = client({ url: node.wsUrl, uid: 'alice' });
    const bob = client({ url: node.url, uid: 'bob' }); // the http:// URL works too
    await Promise.all([alice.connect(), bob.connect()]);
    assert.equal(alice.node, bob.node);

    const bobSub = bob.subscribe('sdk-talk', { from: 'stored' });
    const aliceSub = alice.subscribe('sdk-talk', { from: 'stored' });
    await collect(bobSub, (_m, live) => live, 'bob live');
    await collect(aliceSub, (_m, live) => live, 'alice live');

    const seen = collect(bobSub, (m) => m.length === 2, 'two messages at bob');
    const ack = await alice.publish('sdk-talk', 'hello bob');
    assert.equal(ack.seq, 1);
    assert.equal(ack.duplicate, false);
    assert.equal(ack.id.byteLength, 32);
    const again = await alice.publish('sdk-talk', 'hello bob', { cid: ack.cid });
    assert.deepEqual({ seq: again.seq, duplicate: again.duplicate }, { seq: 1, duplicate: true }, 'same cid, same message');
    await assert.rejects(alice.publish('sdk-talk', new Uint8Array([0xff, 0x00]), { binary: false }), { code: 'BAD_FRAME' }, 'text must be UTF-8');
    await alice.publish('sdk-talk', 'as text', { binary: false });
    const messages = await seen;
    assert.equal(text(messages[0]!), 'hello bob');
    assert.equal(messages[0]!.from, 'alice');
    assert.equal(messages[0]!.seq, 1);
    assert.deepEqual(messages[0]!.id, ack.id);
    assert.equal(messages[0]!.origin, alice.node);
    assert.equal(messages[1]!.seq, 2);
    assert.equal(messages[1]!.binary, false);
    assert.equal(text(messages[1]!), 'as text');

    const page = await bob.query('sdk-talk', { desc: true, limit: 1 });
    assert.deepEqual(page.messages.map((m) => m.seq), [2]);
    assert.equal(page.first, 1);
  });

  async function publishMany(publisher: ParleyClient, channel: string, count: number): Promise<number[]> {
    const acks = await within(
      Promise.all(Array.from({ length: count }, (_, i) => publisher.publish(channel, `m${i}`))),
      `${count} acks`,
    );
    return acks.map((a) => a.seq);
  }

  test('scrollback walks a channel of 100 back from the newest, and from a seq, each message once', async () => {
    const node = await start();
    const alice = client({ url: node.wsUrl, uid: 'alice' });
    await alice.connect();
    const seqs = await publishMany(alice, 'sdk-scroll', 100);
    assert.deepEqual(seqs, Array.from({ length: 100 }, (_, i) => i + 1));
    const walk = async (options: { before?: number; limit: number }) => {
      const pages: number[][] = [];
      for await (const page of alice.scrollback('sdk-scroll', options)) pages.push(page.messages.map((m) => m.seq));
      return pages;
    };
    const pages = await within(walk({ limit: 30 }), 'scrollback from the newest');
    assert.deepEqual(pages.map((p) => [p[0], p.at(-1)]), [[71, 100], [41, 70], [11, 40], [1, 10]]);
    assert.deepEqual(pages.reverse().flat(), seqs);
    const fromNinety = await within(walk({ before: 100, limit: 10 }), 'scrollback from 100');
    assert.deepEqual(fromNinety[0], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    assert.deepEqual(fromNinety.reverse().flat(), seqs.slice(0, 99));
  });

  /** B reads the channel through its cursor file until it is live; returns what it got. */
  async function readAsB(url: string, cursorFile: string, channel: string, expect: number): Promise<Message[]> {
    const cursors = new FileCursorStore(cursorFile);
    const b = client({ url, uid: 'bob', cursors });
    await b.connect();
    const sub = b.subscribe(channel, { from: 'stored' });
    const messages = await collect(sub, (m, live) => live && m.length >= expect, `${expect} messages at B`);
    await b.close();
    return messages;
  }

  for (const restart of [false, true]) {
    test(`B offline while A publishes 1,000: B resumes from its cursor file and gets each once${restart ? ', across a node restart' : ''}`, async () => {
      const channel = restart ? 'sdk-offline-restart' : 'sdk-offline';
      let node = await start();
      const cursorFile = tempFile('bob-cursors.json');
      const a = client({ url: node.wsUrl, uid: 'alice' });
      await a.connect();
      // B has seen the channel's first message, then goes away.
      await a.publish(channel, 'before');
      const seenBefore = await readAsB(node.wsUrl, cursorFile, channel, 1);
      assert.deepEqual(seenBefore.map(text), ['before']);

      const seqs = await publishMany(a, channel, 1000);
      assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 2));
      await a.close();

      if (restart) {
        assert.equal(await node.stop('SIGTERM'), 0);
        node = await start(['--data', node.dataDir]);
      }
      const messages = await readAsB(node.wsUrl, cursorFile, channel, 1000);
      assert.equal(messages.length, 1000, 'exactly the 1,000, nothing before them, nothing twice');
      assert.deepEqual(messages.map((m) => m.seq), seqs);
      assert.deepEqual(messages.map(text), Array.from({ length: 1000 }, (_, i) => `m${i}`));

      // And once more: nothing new, nothing again.
      const nothing = await readAsB(node.wsUrl, cursorFile, channel, 0);
      assert.deepEqual(nothing, []);
    });
  }

  test('a live client rides out a node crash: reconnects, resubscribes, outbox retried without duplicates', async () => {
    const first = await start();
    const port = first.port;
    const dataDir = first.dataDir;
    const channel = 'sdk-crash';
    const a = client({ url: first.wsUrl, uid: 'alice', backoff: { initialMs: 50, maxMs: 500 } });
    const watcher = client({ url: first.wsUrl, uid: 'watcher', backoff: { initialMs: 50, maxMs: 500 } });
    const events: string[] = [];
    a.on('disconnected', (e) => events.push(`down ${e.code}`));
    a.on('connected', (e) => events.push(e.reconnected ? 'reconnected' : 'connected'));
    await Promise.all([a.connect(), watcher.connect()]);
    const sub = watcher.subscribe(channel, { from: 'stored' });
    await collect(sub, (_m, live) => live, 'watcher live');
    const received = collect(sub, (m) => m.length >= 500, '500 messages at the watcher');

    // A burst; the node is killed (no goodbye) as soon as the first ack is in, so some
    // publishes may be stored without their ack reaching A, others never reach the node;
    // then more publishes while the node is down, which wait in A's outbox.
    const total = 500;
    const burst = 250;
    let acked = 0;
    const down = new Promise((resolve) => a.once('disconnected', resolve));
    let killed: Promise<unknown> | undefined;
    let firstAck!: () => void;
    const firstAcked = new Promise<void>((resolve) => {
      firstAck = resolve;
    });
    const publish = (i: number) =>
      a.publish(channel, `p${i}`).then((ack) => {
        acked++;
        if (killed === undefined) {
          killed = first.stop('SIGKILL');
          firstAck();
        }
        return ack;
      });
    const publishes = Array.from({ length: burst }, (_, i) => publish(i));
    await within(firstAcked, 'the first ack');
    await killed;
    await within(down, 'A to notice the crash');
    const ackedAtCrash = acked;
    for (let i = burst; i < total; i++) publishes.push(publish(i));
    assert.ok(a.pendingPublishes >= total - burst, 'publishes wait in the outbox while the node is down');
    const second = await start(['--listen', `127.0.0.1:${port}`, '--data', dataDir]);
    const acks = await within(Promise.all(publishes), 'every publish acked after the restart');

    const seqs = acks.map((ack) => ack.seq);
    assert.equal(new Set(seqs).size, total, 'no two publishes share a seq');
    assert.deepEqual([...seqs].sort((x, y) => x - y), Array.from({ length: total }, (_, i) => i + 1), 'seqs 1..500, no gaps');
    const duplicates = acks.filter((ack) => ack.duplicate).length;
    const page = await a.query(channel, { limit: 1000 });
    assert.equal(page.messages.length, total, 'stored once each');
    assert.deepEqual(page.messages.map(text), Array.from({ length: total }, (_, i) => `p${i}`), 'in publish order');

    const messages = await received;
    assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1), 'the watcher got each once, in order');
    assert.ok(events.includes('reconnected'), events.join(', '));
    // Worth knowing when reading a failure: how the crash split the burst.
    process.stdout.write(`# crash split: ${ackedAtCrash} acked before the crash, ${total - ackedAtCrash} after, ${duplicates} of them as duplicates\n`);
    await second.stop();
  });

  test('acks lost with the connection: the retry gets the same seq back (dup) and nothing is stored twice', async () => {
    const node = await start();
    const proxy = await startTcpProxy(node.port);
    try {
      const channel = 'sdk-lost-acks';
      const a = client({ url: proxy.url, uid: 'alice', backoff: { initialMs: 20, maxMs: 200 } });
      const watcher = client({ url: node.wsUrl, uid: 'watcher' });
      await Promise.all([a.connect(), watcher.connect()]);
      const sub = watcher.subscribe(channel, { from: 'stored' });
      await collect(sub, (_m, live) => live, 'watcher live');
      const total = 200;
      const stored = collect(sub, (m) => m.length >= total, 'the node to store the burst');

      // The node gets every publish and stores it, but its acks go nowhere...
      proxy.blackHoleReplies();
      const publishes = Array.from({ length: total }, (_, i) => a.publish(channel, `q${i}`));
      await stored;
      assert.equal(a.pendingPublishes, total, 'no ack arrived');
      // ...then the link dies; A reconnects through the healed proxy and retries.
      const reconnected = new Promise((resolve) => a.once('connected', resolve));
      proxy.cutAll();
      proxy.resume();
      await within(reconnected, 'A to reconnect');
      const acks = await within(Promise.all(publishes), 'the retried publishes');

      assert.ok(acks.every((ack) => ack.duplicate), 'every retry was recognised');
      assert.deepEqual(acks.map((ack) => ack.seq), Array.from({ length: total }, (_, i) => i + 1));
      const page = await watcher.query(channel, { limit: 1000 });
      assert.equal(page.messages.length, total, 'stored once each');
      const extra = await watcher.query(channel, { after: total });
      assert.deepEqual(extra.messages, []);
    } finally {
      await proxy.close();
    }
  });
});
