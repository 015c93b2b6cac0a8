// `parley chat --native` end to end: real chat processes on the client SDK against a
// real node, with each other, with Mles chats on the same channel, and across a node
// restart. Printing and flags are the Mles mode's (test/long/cli-chat.test.ts).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runChat } from '../src/cli/chat.ts';
import { ChatProcess, chatsAgainstANode, LIVE_MARKER, TIME_PREFIX } from './helpers/chat-process.ts';
import { startNode } from './helpers/node-process.ts';
import type { NodeProcess } from './helpers/node-process.ts';

describe('parley chat --native against a node', () => {
  const { chat } = chatsAgainstANode(['--native']);

  test('two native chats talk both ways; no echo of your own lines', async () => {
    const alice = chat('alice', 'native-talk');
    await alice.connected();
    const bob = chat('bob', 'native-talk');
    await bob.connected();

    alice.type('hello from alice');
    await bob.waitForLine('stdout', (line) => line === 'alice: hello from alice');
    bob.type('hi alice, ünïcode ✓');
    await alice.waitForLine('stdout', (line) => line === 'bob: hi alice, ünïcode ✓');
    // Ends only after the ack: the line is stored.
    assert.equal(await alice.endInput(), 0);
    assert.equal(await bob.endInput(), 0);
    assert.ok(!alice.stdout.includes('alice: hello from alice'), alice.stdout.join('\n'));
    assert.ok(!bob.stdout.includes('bob: hi alice, ünïcode ✓'), bob.stdout.join('\n'));
  });

  test('a later joiner sees the stored messages, its own earlier lines included; --history limits them', async () => {
    const carol = chat('carol', 'native-history');
    await carol.connected();
    carol.type('first');
    carol.type('second');
    carol.type('third');
    assert.equal(await carol.endInput(), 0);

    const again = chat('carol', 'native-history');
    await again.waitForLine('printed', (line) => LIVE_MARKER.test(line));
    assert.deepEqual(again.stdout, ['carol: first', 'carol: second', 'carol: third']);
    // Stored messages carry the time they were said; the marker ends the history.
    assert.equal(again.printed.length, 4, again.printed.join('\n'));
    for (const line of again.printed.slice(0, 3)) assert.match(line, TIME_PREFIX);
    assert.equal(again.printed[3], '--- earlier messages above, new messages below ---');
    const recent = chat('dave', 'native-history', ['--native', '--history', '2']);
    await recent.waitForLine('stdout', (line) => line === 'carol: third');
    assert.deepEqual(recent.stdout, ['carol: second', 'carol: third']);
    const none = chat('erin', 'native-history', ['--native', '--history', '0']);
    await none.connected();
    assert.deepEqual(none.printed, ['--- no earlier messages ---']);
    again.type('live only');
    await none.waitForLine('stdout', (line) => line === 'carol: live only');
    assert.deepEqual(none.stdout, ['carol: live only']);
    for (const process of [again, recent, none]) assert.equal(await process.endInput(), 0);
  });

  test('a native chat and an Mles chat on one channel see each other', async () => {
    const native = chat('nina', 'native-mixed');
    await native.connected();
    const mles = chat('mel', 'native-mixed', []);
    await mles.connected();

    native.type('from native');
    await mles.waitForLine('stdout', (line) => line === 'nina: from native');
    mles.type('from mles');
    await native.waitForLine('stdout', (line) => line === 'mel: from mles');
    // Mles --raw text frames reach native chats too, shown as the Mles chat shows them.
    const raw = chat('rawley', 'native-mixed', ['--raw']);
    await raw.connected();
    raw.type('plain words');
    await native.waitForLine('stdout', (line) => line === '[text] plain words');
    assert.equal(await raw.endInput(), 0);
    assert.equal(await native.endInput(), 0);
    assert.equal(await mles.endInput(), 0);
  });
});

describe('parley chat --native across a node restart', () => {
  test('reconnects by itself; a line typed while the node is down arrives once', async () => {
    const first = await startNode();
    let second: NodeProcess | undefined;
    const chats: ChatProcess[] = [];
    try {
      const alice = ChatProcess.join(first.wsUrl, 'alice', 'native-restart', ['--native']);
      const bob = ChatProcess.join(first.wsUrl, 'bob', 'native-restart', ['--native']);
      chats.push(alice, bob);
      await alice.connected();
      await bob.connected();
      alice.type('before');
      await bob.waitForLine('stdout', (line) => line === 'alice: before');

      assert.equal(await first.stop('SIGTERM'), 0);
      await alice.waitForLine('stderr', (line) => /^closed 1001: .*; reconnecting in/.test(line));
      alice.type('while down');
      second = await startNode(['--listen', `127.0.0.1:${first.port}`, '--data', first.dataDir]);
      await alice.waitForLine('stderr', (line) => line.startsWith('reconnected to '));
      await bob.waitForLine('stdout', (line) => line === 'alice: while down');
      alice.type('after');
      await bob.waitForLine('stdout', (line) => line === 'alice: after');
      assert.deepEqual(bob.stdout, ['alice: before', 'alice: while down', 'alice: after']);
      assert.equal(await alice.endInput(), 0);
      assert.equal(await bob.endInput(), 0);
    } finally {
      for (const process of chats) process.kill();
      await second?.stop();
      await first.stop();
    }
  });
});

describe('parley chat --native flags and failures', () => {
  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await runChat(argv, { stdin: new PassThrough(), stdout, stderr, env: {} });
    return { code, out, err };
  }

  test('--help documents --native; bad --history exits 2', async () => {
    const help = await run(['--help']);
    assert.match(help.out, /--native +use parley's native protocol/);
    assert.match(help.out, /--history N/);
    const base = ['--url', 'ws://x/', '--uid', 'a', '--channel', 'c'];
    for (const [argv, message] of [
      [[...base, '--history', '5'], /--history needs --native/],
      [[...base, '--native', '--history', 'x'], /--history must be a whole number/],
      [[...base, '--native', '--history=-1'], /--history must be a whole number/],
      [[...base, '--native', '--history', '100001'], /--history must be a whole number/],
    ] as const) {
      const { code, err } = await run([...argv]);
      assert.equal(code, 2, argv.join(' '));
      assert.match(err, message);
    }
  });

  test('a closed port exits 1 with the connection error', async () => {
    const client = ChatProcess.join('ws://127.0.0.1:1/', 'judy', 'native-none', ['--native']);
    try {
      assert.equal(await client.endInput(), 1);
      assert.match(client.stderr.join('\n'), /could not connect to ws:\/\/127\.0\.0\.1:1\//);
    } finally {
      client.kill();
    }
  });
});
