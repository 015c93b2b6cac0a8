// End-to-end encryption through the gateway: two matrix-js-sdk clients with their crypto
// on (the Rust crypto, WebAssembly) upload device and one-time keys, claim each other's
// keys, share the room key by to-device messages and talk in an encrypted room; the
// node's store holds only ciphertext. Then the same across two peered nodes, whose key
// relay carries the keys, the claims and the to-device messages.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientEvent, createClient, MatrixEventEvent, RoomEvent, type MatrixClient, type MatrixEvent } from 'matrix-js-sdk';
import { quietLogger, raw, register, roomAppears, type Account } from './helpers/matrix.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { TestNetwork } from './helpers/peer-network.ts';

async function cryptoClient(base: string, account: Account): Promise<MatrixClient> {
  const client = createClient({ baseUrl: base, accessToken: account.accessToken, userId: account.userId, deviceId: account.deviceId, logger: quietLogger });
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise<void>((resolve) => client.on(ClientEvent.Sync, (state) => state === 'PREPARED' && resolve()));
  await client.startClient({ initialSyncLimit: 10 });
  await prepared;
  return client;
}

/** The first event in the room whose decrypted body matches. */
function decrypted(client: MatrixClient, roomId: string, body: string, timeoutMs = 15_000): Promise<MatrixEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${client.getUserId()} did not decrypt "${body}" within ${timeoutMs} ms`)), timeoutMs);
    const check = (event: MatrixEvent): void => {
      if (event.getRoomId() !== roomId || event.getContent().body !== body) return;
      clearTimeout(timer);
      resolve(event);
    };
    client.on(RoomEvent.Timeline, (event) => {
      check(event);
      event.once(MatrixEventEvent.Decrypted, () => check(event));
    });
  });
}

describe('end-to-end encrypted room through the Matrix gateway', () => {
  let node: NodeProcess;
  let base: string;
  let alice: Account;
  let bob: Account;
  let aliceClient: MatrixClient;
  let bobClient: MatrixClient;

  before(async () => {
    node = await startNode(['--matrix', '--server-name', 'e2ee.test', '--matrix-registration', 'open', '--matrix-login-rate', '0']);
    base = node.url.replace(/\/$/, '');
    alice = await register(base, 'alice');
    bob = await register(base, 'bob');
    [aliceClient, bobClient] = await Promise.all([cryptoClient(base, alice), cryptoClient(base, bob)]);
  });

  after(async () => {
    aliceClient?.stopClient();
    bobClient?.stopClient();
    await node?.stop();
  });

  test('keys are uploaded, claimed and shared; messages decrypt on the other side; the store sees ciphertext', async () => {
    const { room_id: roomId } = await aliceClient.createRoom({
      name: 'Secret',
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await roomAppears(bobClient, roomId, 'invite');
    await bobClient.joinRoom(roomId);
    await roomAppears(aliceClient, roomId, 'join');
    const keys = await raw(base, 'POST', '/_matrix/client/v3/keys/query', { device_keys: { [bob.userId]: [] } }, alice.accessToken);
    assert.ok(Object.keys((keys.json.device_keys as Record<string, Record<string, unknown>>)[bob.userId]!).includes(bob.deviceId), 'bob\'s device keys are there');
    const atBob = decrypted(bobClient, roomId, 'only we can read this');
    await aliceClient.sendTextMessage(roomId, 'only we can read this');
    const event = await atBob;
    assert.equal(event.isEncrypted(), true);
    const atAlice = decrypted(aliceClient, roomId, 'and this');
    await bobClient.sendTextMessage(roomId, 'and this');
    await atAlice;
    // What the node stores (and would carry to peers) is the ciphertext.
    const page = await raw(base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, undefined, alice.accessToken);
    const stored = JSON.stringify(page.json.chunk);
    assert.ok(stored.includes('m.room.encrypted'));
    assert.ok(!stored.includes('only we can read this') && !stored.includes('and this'));
  });
});

describe('end-to-end encrypted room across two peered nodes', () => {
  const net = new TestNetwork();
  const clients: MatrixClient[] = [];
  after(async () => {
    for (const client of clients) client.stopClient();
    await net.close();
  });

  test('users of two servers share keys through their nodes and read each other\'s messages', async () => {
    const args = (server: string) => ['--matrix', '--server-name', server, '--matrix-registration', 'open', '--matrix-login-rate', '0'];
    const a = await net.node('A', { args: args('a.test') });
    const b = await net.node('B', { peers: [a.wsUrl], args: args('b.test') });
    await b.process.waitForLogCount('peer link up', 1);
    const [baseA, baseB] = [a.httpUrl.replace(/\/$/, ''), b.httpUrl.replace(/\/$/, '')];
    const alice = await register(baseA, 'alice');
    const bob = await register(baseB, 'bob');
    const [aliceClient, bobClient] = await Promise.all([cryptoClient(baseA, alice), cryptoClient(baseB, bob)]);
    clients.push(aliceClient, bobClient);
    const { room_id: roomId } = await aliceClient.createRoom({
      name: 'Secret across',
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await roomAppears(bobClient, roomId, 'invite', 10_000);
    await bobClient.joinRoom(roomId);
    await roomAppears(aliceClient, roomId, 'join');
    const atBob = decrypted(bobClient, roomId, 'from a.test, sealed', 20_000);
    await aliceClient.sendTextMessage(roomId, 'from a.test, sealed');
    assert.equal((await atBob).isEncrypted(), true);
    const atAlice = decrypted(aliceClient, roomId, 'from b.test, sealed', 20_000);
    await bobClient.sendTextMessage(roomId, 'from b.test, sealed');
    assert.equal((await atAlice).isEncrypted(), true);
  });
});
