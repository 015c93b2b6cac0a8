// End-to-end encryption through the gateway: two matrix-js-sdk clients with their crypto
// on (the Rust crypto, WebAssembly) upload device and one-time keys, claim each other's
// keys, share the room key by to-device messages and talk in an encrypted room; the
// node's store holds only ciphertext. (Across two peered nodes: long/matrix-e2ee-peering.test.ts.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MatrixClient } from 'matrix-js-sdk';
import { cryptoClient, decrypted, raw, register, roomAppears, type Account } from './helpers/matrix.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

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

