// Signals a running node may get besides SIGTERM and SIGINT: a hangup (an ssh session
// that drops) and SIGUSR2 stop it gracefully, with nothing lost; SIGUSR1 must not open a
// V8 inspector that any local user could attach to.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MlesTestClient } from '../helpers/mles-client.ts';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';

async function storedTexts(node: NodeProcess, channel: string): Promise<string[]> {
  const response = await fetch(new URL(`/v1/channels/${channel}/messages`, node.url));
  const body = (await response.json()) as { messages: Array<{ payload: string }> };
  return body.messages.map((m) => Buffer.from(m.payload, 'base64').toString());
}

describe('signals', () => {
  for (const signal of ['SIGHUP', 'SIGUSR2'] as const) {
    test(`${signal} shuts the node down gracefully, and what it stored is there after a restart`, async () => {
      const node = await startNode();
      const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'kept' });
      const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'kept' });
      a.send(`sent before ${signal}`);
      await b.waitForText(`sent before ${signal}`);

      assert.equal(await node.stop(signal), 0);
      assert.deepEqual(await b.closed, { code: 1001, reason: 'node shutting down' });
      assert.equal(node.logged('shutting down')[0]?.signal, signal);
      assert.equal(node.logged('stopped').length, 1);
      // Each client is closed, not refused: the log says so, with why.
      const closes = node.logged('connection closed');
      assert.equal(closes.length, 2);
      for (const close of closes) assert.equal(close.reason, 'node shutting down');
      assert.deepEqual(node.logged('connection refused'), []);

      const again = await startNode(['--data', node.dataDir]);
      try {
        assert.ok((await storedTexts(again, 'kept')).includes(`sent before ${signal}`));
      } finally {
        await again.stop();
      }
    });
  }

  test('SIGUSR1 opens no inspector, and the node goes on serving', async () => {
    const node = await startNode();
    try {
      // Node announces an inspector on stderr ("Debugger listening on ws://127.0.0.1:9229/...",
      // or "Starting inspector on ... failed" when the port is taken).
      const inspector = new Promise<string>((resolve) => {
        node.child.stderr!.on('data', (chunk: Buffer) => {
          if (/debugger|inspector/i.test(chunk.toString())) resolve(`inspector: ${chunk.toString().trim()}`);
        });
      });
      const ignored = node.waitForLog('SIGUSR1 ignored: this node opens no inspector').then(() => 'ignored');
      node.child.kill('SIGUSR1');
      assert.equal(await Promise.race([inspector, ignored]), 'ignored');
      assert.deepEqual(node.stderr.filter((line) => /debugger|inspector/i.test(line)), []);
      assert.ok((await fetch(new URL('/healthz', node.url))).ok);
      assert.equal(node.child.exitCode, null, 'still running');
    } finally {
      assert.equal(await node.stop('SIGTERM'), 0);
    }
  });
});
