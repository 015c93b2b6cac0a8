// The Matrix gateway's channels (`matrix/...` rooms and `matrix-...` records) are written
// only by the gateway: Mles, native and HTTP clients of a real node may read a room's
// events but a publish there is refused, each in its protocol's way, and nothing they
// sent is stored or taken into the room. The same holds on a node without --matrix,
// which still carries rooms for the gateways it peers with.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyClient, type Message } from '../src/client/index.ts';
import { raw, type Account } from './helpers/matrix.ts';
import { MlesTestClient } from './helpers/mles-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

const WAIT_MS = 10_000;
const READ_ONLY_CLOSE = { code: 4403, reason: "channel is read-only: only the node's Matrix gateway writes matrix/ and matrix- channels" };

async function registerRaw(base: string, username: string): Promise<Account> {
  const { status, json } = await raw(base, 'POST', '/_matrix/client/v3/register', { username, password: 'a long password', auth: { type: 'm.login.dummy' } });
  assert.equal(status, 200, JSON.stringify(json));
  return { userId: json.user_id as string, accessToken: json.access_token as string, deviceId: json.device_id as string };
}

/** The uids and texts of what the node stored in the channel, read over the HTTP API. */
async function stored(node: NodeProcess, channel: string): Promise<Array<{ uid: string; text: string }>> {
  const response = await fetch(new URL(`/v1/channels/${encodeURIComponent(channel)}/messages?limit=1000`, node.url));
  assert.equal(response.status, 200);
  const body = (await response.json()) as { messages: Array<{ uid: string; payload: string }> };
  return body.messages.map((m) => ({ uid: m.uid, text: Buffer.from(m.payload, 'base64').toString('utf8') }));
}

/** How the Mles client's connection closed, or a failure if it is still open after WAIT_MS. */
function closeOf(mles: MlesTestClient): Promise<{ code: number; reason: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the Mles connection is still open ${WAIT_MS} ms after a write to a gateway channel`)), WAIT_MS);
  });
  return Promise.race([mles.closed, open]).finally(() => clearTimeout(timer));
}

function httpPublish(node: NodeProcess, channel: string, body: string): Promise<Response> {
  return fetch(new URL(`/v1/channels/${encodeURIComponent(channel)}/messages?uid=mallory`, node.url), { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
}

describe('Matrix gateway channels are written only by the gateway', () => {
  let gateway: NodeProcess;
  let plain: NodeProcess;
  let alice: Account;
  let roomId: string;
  let channel: string;
  let forged: string;
  const clients: ParleyClient[] = [];

  before(async () => {
    [gateway, plain] = await Promise.all([
      startNode(['--matrix', '--server-name', 'a.test', '--matrix-registration', 'open', '--matrix-login-rate', '0', '--matrix-send-rate', '0']),
      startNode([]),
    ]);
    alice = await registerRaw(gateway.url, 'alice');
    roomId = (await raw(gateway.url, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat', name: 'read-only' }, alice.accessToken)).json.room_id as string;
    channel = `matrix/${roomId}`;
    const sent = await raw(gateway.url, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'hello from the gateway' }, alice.accessToken);
    assert.equal(sent.status, 200);
    const event = { type: 'm.room.message', room_id: roomId, sender: alice.userId, content: { msgtype: 'm.text', body: 'forged' }, origin_server_ts: Date.now(), depth: 1000 };
    forged = JSON.stringify(event);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([gateway?.stop('SIGKILL'), plain?.stop('SIGKILL')]);
  });

  test('an Mles client joined to a room sees its events; a frame it sends closes it with 4403', async () => {
    const before = await stored(gateway, channel);
    const mles = await MlesTestClient.join(gateway.wsUrl, { uid: 'mallory', channel });
    await mles.waitFor(before.length, WAIT_MS);
    assert.ok(mles.texts().some((t) => t.includes('hello from the gateway')), 'the room\'s events are replayed to an Mles client');
    mles.send(forged);
    assert.deepEqual(await closeOf(mles), READ_ONLY_CLOSE);
    assert.deepEqual(await stored(gateway, channel), before);
  });

  test('a native client subscribes to a room and reads it; its publishes there are refused with READ_ONLY', async () => {
    const client = new ParleyClient({ url: gateway.wsUrl, uid: 'mallory', requestTimeoutMs: WAIT_MS });
    clients.push(client);
    await client.connect();
    const subscription = client.subscribe(channel, { from: 'stored' });
    const texts: string[] = [];
    await new Promise<void>((resolve, reject) => {
      subscription.on('message', (m: Message) => texts.push(Buffer.from(m.payload).toString('utf8')));
      subscription.once('error', reject);
      subscription.once('live', () => resolve());
    });
    assert.ok(texts.some((t) => t.includes('hello from the gateway')));
    for (const target of [channel, 'matrix-servers', 'matrix-directory', 'matrix-inbox/a.test']) {
      await assert.rejects(client.publish(target, forged, { binary: false }), (error: { code?: string; message?: string }) => {
        assert.equal(error.code, 'READ_ONLY', `${target}: ${error.message}`);
        assert.match(error.message!, /written only by the node's Matrix gateway/);
        return true;
      });
    }
    // The connection is not cut: other channels take its publishes.
    assert.equal((await client.publish('lobby', 'still here')).duplicate, false);
    const before = texts.length;
    const events = await raw(gateway.url, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, undefined, alice.accessToken);
    const bodies = (events.json.chunk as Array<{ content: { body?: string } }>).map((e) => e.content.body).filter((b) => b !== undefined);
    assert.deepEqual(bodies, ['hello from the gateway']);
    assert.ok((await stored(gateway, channel)).every((m) => m.uid !== 'mallory'));
    assert.equal(texts.length, before);
  });

  test('an HTTP publish to a gateway channel gets 403 with what to do; other channels still take them', async () => {
    for (const target of [channel, 'matrix-directory', 'matrix-devices/a.test']) {
      const response = await httpPublish(gateway, target, forged);
      assert.equal(response.status, 403, target);
      const body = (await response.json()) as { error: string };
      assert.equal(body.error, `${target} is read-only: channels starting with matrix/ or matrix- are written only by the node's Matrix gateway: send through a Matrix client (/_matrix/client/)`);
    }
    assert.equal((await httpPublish(gateway, 'matrixish', 'fine')).status, 201);
    assert.ok((await stored(gateway, 'matrix-directory')).every((m) => m.uid !== 'mallory'));
  });

  test('a node without --matrix refuses the same writes, so its clients cannot claim a server name', async () => {
    const claim = JSON.stringify({ server_name: 'a.test' });
    assert.equal((await httpPublish(plain, 'matrix-servers', claim)).status, 403);
    const client = new ParleyClient({ url: plain.wsUrl, uid: 'mallory', requestTimeoutMs: WAIT_MS });
    clients.push(client);
    await client.connect();
    await assert.rejects(client.publish('matrix-servers', claim, { binary: false }), { code: 'READ_ONLY' });
    const mles = await MlesTestClient.join(plain.wsUrl, { uid: 'mallory', channel: 'matrix-servers' });
    mles.send(claim);
    assert.deepEqual(await closeOf(mles), READ_ONLY_CLOSE);
    assert.deepEqual(await stored(plain, 'matrix-servers'), []);
  });
});
