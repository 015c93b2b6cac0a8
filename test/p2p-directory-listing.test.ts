// A native client lists a channel in the network's directory of public channels, with
// the right the node's DIRECTORY_KEY gives: real `parley serve --p2p` processes, the
// client SDK over a real WebSocket.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyClient, ParleyError } from '../src/client/index.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { startP2PNode, type P2PNode } from './helpers/p2p-node.ts';

const KEY = 'operators-only-3f9c1a';
const nodes: NodeProcess[] = [];
const clients: ParleyClient[] = [];
after(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
});

async function p2pNode(args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<P2PNode> {
  const started = await startP2PNode(args, {}, env);
  nodes.push(started);
  return started;
}

async function client(node: NodeProcess, uid: string): Promise<ParleyClient> {
  const c = new ParleyClient({ url: node.wsUrl, uid, requestTimeoutMs: 20_000 });
  clients.push(c);
  await c.connect();
  return c;
}

type Directory = { channels: Array<{ channel: string; about: string; node: string }> };
async function directory(node: NodeProcess): Promise<Directory['channels']> {
  return ((await (await fetch(new URL('v1/directory', node.url))).json()) as Directory).channels;
}

async function refusal(promise: Promise<unknown>): Promise<ParleyError> {
  const error = await promise.then(
    () => assert.fail('the listing was accepted'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ParleyError, String(error));
  return error;
}

let a: P2PNode;
let b: P2PNode;

test('a client with the DIRECTORY_KEY lists a channel; the other node lists it as announced by the first', async () => {
  a = await p2pNode([], { DIRECTORY_KEY: KEY });
  b = await p2pNode(['--bootstrap', a.addrs[0]!]);
  await b.waitForPeer(a.peerId);
  const operator = await client(a, 'op');
  const listed = await operator.listPublic('lobby', { about: 'Say hello', key: KEY });
  assert.deepEqual(listed, { channel: 'lobby', about: 'Say hello' });
  await b.waitForLogWhere('p2p directory lists a public channel', (line) => line.channel === 'lobby' && line.node === a.nodeId, 15_000);
  const entry = (await directory(b)).find((c) => c.channel === 'lobby');
  assert.deepEqual(entry && { channel: entry.channel, about: entry.about, node: entry.node }, { channel: 'lobby', about: 'Say hello', node: a.nodeId });
  // What is said there is found from the other node (a query there syncs the channel from its peers first).
  await operator.publish('lobby', 'welcome');
  const page = await (await client(b, 'reader')).query('lobby');
  assert.deepEqual(page.messages.map((m) => new TextDecoder().decode(m.payload)), ['welcome']);
});

test('a wrong key, or a node with no DIRECTORY_KEY, refuses with NOT_ALLOWED and lists nothing', async () => {
  const guest = await client(a, 'guest');
  const wrong = await refusal(guest.listPublic('spam', { key: 'guessed' }));
  assert.equal(wrong.code, 'NOT_ALLOWED');
  assert.equal(wrong.channel, 'spam');
  assert.match(wrong.message, /DIRECTORY_KEY.*auth is wrong/);
  // A node that was given no DIRECTORY_KEY lets no one list, whatever the key.
  const none = await refusal((await client(b, 'op')).listPublic('spam', { key: KEY }));
  assert.equal(none.code, 'NOT_ALLOWED');
  assert.match(none.message, /lets no client list channels.*DIRECTORY_KEY/);
  assert.equal((await directory(a)).some((c) => c.channel === 'spam'), false);
  assert.equal((await directory(b)).some((c) => c.channel === 'spam'), false);
});

test('a node without --p2p refuses with NO_DIRECTORY', async () => {
  const plain = await startNode(['--memory'], { DIRECTORY_KEY: KEY });
  nodes.push(plain);
  const error = await refusal((await client(plain, 'op')).listPublic('lobby', { key: KEY }));
  assert.equal(error.code, 'NO_DIRECTORY');
  assert.match(error.message, /--p2p/);
});

test('a restarted node goes on announcing the channels its clients listed', async () => {
  await a.stop('SIGTERM');
  const again = await p2pNode(['--data', a.dataDir], { DIRECTORY_KEY: KEY });
  // Announced within a second of starting, into its own directory as into its peers'.
  const deadline = Date.now() + 10_000;
  let entry: Directory['channels'][number] | undefined;
  while ((entry = (await directory(again)).find((c) => c.channel === 'lobby')) === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100)); // the listing has no event to await over HTTP
  }
  assert.deepEqual(entry && { about: entry.about, node: entry.node }, { about: 'Say hello', node: again.nodeId });
});

test('a client takes a channel off the directory: the other node drops it at once, and a restart does not list it again', async () => {
  const c = await p2pNode(['--public', 'town'], { DIRECTORY_KEY: KEY });
  const d = await p2pNode(['--bootstrap', c.addrs[0]!]);
  await d.waitForPeer(c.peerId);
  const operator = await client(c, 'op');
  await operator.listPublic('agora', { about: 'Talk', key: KEY });
  await d.waitForLogWhere('p2p directory lists a public channel', (line) => line.channel === 'agora' && line.node === c.nodeId, 15_000);

  await operator.unlistPublic('agora', { key: KEY });
  await d.waitForLogWhere('p2p directory: a node no longer lists a channel', (line) => line.channel === 'agora' && line.node === c.nodeId, 15_000);
  assert.equal((await directory(d)).some((e) => e.channel === 'agora' && e.node === c.nodeId), false);
  assert.equal((await directory(c)).some((e) => e.channel === 'agora'), false);
  // Asking again (a request sent again after a reconnect) is answered the same way.
  await operator.unlistPublic('agora', { key: KEY });

  // What the operator made public with --public is the operator's to remove; the right is checked first.
  const flagged = await refusal(operator.unlistPublic('town', { key: KEY }));
  assert.equal(flagged.code, 'NOT_LISTED');
  assert.match(flagged.message, /--public/);
  assert.equal((await refusal(operator.unlistPublic('town', { key: 'guessed' }))).code, 'NOT_ALLOWED');

  await c.stop('SIGTERM');
  const again = await p2pNode(['--data', c.dataDir, '--public', 'town'], { DIRECTORY_KEY: KEY });
  const deadline = Date.now() + 10_000;
  while (!(await directory(again)).some((e) => e.channel === 'town') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100)); // the listing has no event to await over HTTP
  }
  assert.deepEqual((await directory(again)).map((e) => e.channel), ['town'], 'agora is not announced again');
});
