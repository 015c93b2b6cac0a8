// `parley chat` end to end: real `parley chat` processes against a real node, talking
// through stdin and stdout as a person at a terminal would. Flag errors are checked
// in-process through runChat.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runChat } from '../../src/cli/chat.ts';
import { ChatProcess, chatsAgainstANode, LIVE_MARKER, TIME_PREFIX } from '../helpers/chat-process.ts';
import { startNode } from '../helpers/node-process.ts';
import type { NodeProcess } from '../helpers/node-process.ts';

describe('parley chat against a node', () => {
  const { node, chat, keep } = chatsAgainstANode();

  test('lines typed into one client are printed by the other, both ways', async () => {
    const alice = chat('alice', 'cli-talk');
    await alice.connected();
    const bob = chat('bob', 'cli-talk');
    await bob.connected();
    // Bob sees alice's header in history; alice gets no live header (Mles 2.5+).
    await bob.waitForLine('stdout', (line) => line === '* alice joined');

    alice.type('hello from alice');
    await bob.waitForLine('stdout', (line) => line === 'alice: hello from alice');
    bob.type('hi alice, ünïcode ✓');
    await alice.waitForLine('stdout', (line) => line === 'bob: hi alice, ünïcode ✓');
    // No echo: a client never prints its own lines.
    assert.ok(!alice.stdout.includes('alice: hello from alice'), alice.stdout.join('\n'));

    assert.equal(await alice.endInput(), 0);
    assert.equal(await bob.endInput(), 0);
  });

  test('a later joiner is shown the history, its own earlier lines included', async () => {
    const carol = chat('carol', 'cli-history');
    await carol.connected();
    carol.type('first');
    carol.type('second');
    const dave = chat('dave', 'cli-history');
    await dave.waitForLine('stdout', (line) => line === 'carol: second');
    assert.equal(await carol.endInput(), 0);

    const again = chat('carol', 'cli-history');
    await again.waitForLine('printed', (line) => LIVE_MARKER.test(line));
    // Mles history has no times; the marker ends it; live lines have the time they came.
    assert.deepEqual(again.printed.slice(0, 5), [
      '* carol joined',
      'carol: first',
      'carol: second',
      '* dave joined',
      '--- earlier messages above, new messages below ---',
    ]);
    dave.type('live now');
    const live = await again.waitForLine('printed', (line) => line.endsWith('dave: live now'));
    assert.match(live, /^\[\d\d:\d\d\] dave: live now$/);
    assert.equal(await again.endInput(), 0);
    assert.equal(await dave.endInput(), 0);
  });

  test('a duplicate uid exits non-zero with the 4409 reason on stderr', async () => {
    const first = chat('erin', 'cli-dup');
    await first.connected();
    // The header is on the wire before the second process has even started.
    const second = chat('erin', 'cli-dup');
    assert.equal(await second.exited, 1);
    assert.ok(
      second.stderr.includes('closed 4409: uid already joined to channel'),
      second.stderr.join('\n'),
    );
    assert.ok(second.stderr.includes('parley chat: the name erin is already in channel cli-dup; choose another --uid'), second.stderr.join('\n'));
    // The first is unaffected and can still talk.
    const frank = chat('frank', 'cli-dup');
    await frank.connected();
    first.type('still here');
    await frank.waitForLine('stdout', (line) => line === 'erin: still here');
    assert.equal(await first.endInput(), 0);
    assert.equal(await frank.endInput(), 0);
  });

  test('--raw sends lines as text frames and prints frames as they are', async () => {
    const listener = chat('gina', 'cli-raw');
    await listener.connected();
    const raw = chat('hank', 'cli-raw', ['--raw']);
    await raw.waitForLine('stdout', (line) => line === '{"uid":"gina","channel":"cli-raw"}');
    raw.type('plain words');
    await listener.waitForLine('stdout', (line) => line === '[text] plain words');
    listener.type('to raw');
    await raw.waitForLine('stdout', (line) => line === '{"uid":"gina","channel":"cli-raw","message":"to raw"}');
    assert.equal(await raw.endInput(), 0);
    assert.equal(await listener.endInput(), 0);
  });

  test('http:// URLs as the node logs them are accepted', async () => {
    const client = keep(ChatProcess.join(node().url, 'ivan', 'cli-http'));
    await client.connected();
    assert.equal(await client.endInput(), 0);
  });

  test('a closed port fails with the connection error and exit 1', async () => {
    const client = keep(ChatProcess.join('ws://127.0.0.1:1/', 'judy', 'cli-none'));
    assert.equal(await client.endInput(), 1);
    assert.match(client.stderr.join('\n'), /ECONNREFUSED/);
  });
});

describe('parley chat across a node restart', () => {
  test('reconnects by itself, prints no replayed line twice, and sends what was typed meanwhile once', async () => {
    const first = await startNode();
    let second: NodeProcess | undefined;
    const chats: ChatProcess[] = [];
    try {
      const alice = ChatProcess.join(first.wsUrl, 'alice', 'cli-restart');
      chats.push(alice);
      await alice.connected();
      await alice.waitForLine('printed', (line) => LIVE_MARKER.test(line));
      const bob = ChatProcess.join(first.wsUrl, 'bob', 'cli-restart');
      chats.push(bob);
      await bob.connected();
      await bob.waitForLine('printed', (line) => LIVE_MARKER.test(line));
      bob.type('before');
      await alice.waitForLine('stdout', (line) => line === 'bob: before');
      alice.type('hello bob');
      await bob.waitForLine('stdout', (line) => line === 'alice: hello bob');

      assert.equal(await first.stop('SIGTERM'), 0);
      for (const chat of [alice, bob]) await chat.waitForLine('stderr', (line) => /^closed 1001: .*; reconnecting in \d+\.\d s$/.test(line));
      alice.type('while down');
      second = await startNode(['--listen', `127.0.0.1:${first.port}`, '--data', first.dataDir]);
      for (const chat of [alice, bob]) await chat.waitForLine('stderr', (line) => line === `reconnected to ${first.wsUrl}`);
      await bob.waitForLine('stdout', (line) => line === 'alice: while down');
      bob.type('after');
      await alice.waitForLine('stdout', (line) => line === 'bob: after');

      // What was printed before the restart is not printed again from the replay.
      const count = (lines: string[], text: string) => lines.filter((line) => line === text).length;
      assert.equal(count(alice.stdout, 'bob: before'), 1, alice.printed.join('\n'));
      assert.equal(count(bob.stdout, 'alice: hello bob'), 1, bob.printed.join('\n'));
      assert.equal(count(bob.stdout, 'alice: while down'), 1, bob.printed.join('\n'));
      assert.equal(count(alice.stdout, 'alice: while down') + count(alice.stdout, 'alice: hello bob'), 0, 'no echo of our own lines');
      assert.equal(alice.printed.filter((line) => LIVE_MARKER.test(line)).length, 1, 'one marker');
      assert.equal(alice.printed[0], '--- no earlier messages ---');
      assert.match(alice.printed.find((line) => line.endsWith('bob: before')) ?? '', TIME_PREFIX);
      assert.equal(await alice.endInput(), 0);
      assert.equal(await bob.endInput(), 0);
    } finally {
      for (const chat of chats) chat.kill();
      await second?.stop();
      await first.stop();
    }
  });
});

describe('parley chat with MLES_KEY on the node', () => {
  let node: NodeProcess;
  const chats: ChatProcess[] = [];

  before(async () => {
    node = await startNode([], { MLES_KEY: 'secret' });
  });

  after(async () => {
    for (const process of chats) process.kill();
    await node.stop();
  });

  test('--key authenticates; a wrong or missing key gets 4401', async () => {
    const good = ChatProcess.join(node.wsUrl, 'alice', 'example', ['--key', 'secret']);
    const fromEnv = ChatProcess.join(node.wsUrl, 'bob', 'example', [], { MLES_KEY: 'secret' });
    const wrong = ChatProcess.join(node.wsUrl, 'carol', 'example', ['--key', 'guess']);
    const none = ChatProcess.join(node.wsUrl, 'dave', 'example');
    chats.push(good, fromEnv, wrong, none);

    await good.connected();
    await fromEnv.connected();
    good.type('authenticated');
    await fromEnv.waitForLine('stdout', (line) => line === 'alice: authenticated');

    for (const refused of [wrong, none]) {
      assert.equal(await refused.exited, 1);
      assert.ok(refused.stderr.includes('closed 4401: auth failed'), refused.stderr.join('\n'));
    }
    assert.equal(await good.endInput(), 0);
    assert.equal(await fromEnv.endInput(), 0);
  });
});

describe('parley chat flags', () => {
  async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await runChat(argv, { stdin: new PassThrough(), stdout, stderr, env });
    return { code, out, err };
  }

  test('--help prints usage and exits 0', async () => {
    const { code, out } = await run(['--help']);
    assert.equal(code, 0);
    assert.match(out, /^Usage: parley chat --url URL --uid NAME --channel NAME/);
    assert.equal((await run(['-h'])).code, 0);
  });

  const bad: Array<[string[], RegExp]> = [
    [[], /missing --url, --uid, --channel/],
    [['--url', 'ws://x/'], /missing --uid, --channel/],
    [['--url', 'ws://x/', '--uid', 'a'], /missing --channel/],
    [['--url', 'ws://x/', '--uid', 'a', '--channel', 'c', '--bogus'], /Unknown option '--bogus'/],
    [['--url', 'ws://x/', '--uid', 'a', '--channel', 'c', 'extra'], /positional/i],
    [['--url'], /argument missing/i],
    [['--url', 'ftp://x/', '--uid', 'a', '--channel', 'c'], /--url must be a ws:\/\//],
    [['--url', 'not a url', '--uid', 'a', '--channel', 'c'], /--url must be/],
    [['--url', 'ws://x/', '--uid', '', '--channel', 'c'], /uid must not be empty/],
    [['--url', 'ws://x/', '--uid', 'a', '--channel', 'ch\u00e4'], /channel must be printable ASCII/],
  ];

  test('bad flags exit 2 with a clear message', async () => {
    for (const [argv, message] of bad) {
      const { code, out, err } = await run(argv);
      assert.equal(code, 2, argv.join(' '));
      assert.equal(out, '');
      assert.match(err, message, argv.join(' '));
      assert.match(err, /Try 'parley chat --help'/);
    }
  });
});
