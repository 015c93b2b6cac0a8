// End-to-end encryption across two peered nodes: users of two servers, each client with
// its crypto on, share keys through their nodes' key relay (device and one-time keys,
// claims, to-device messages) and read each other's messages in an encrypted room.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { MatrixClient } from 'matrix-js-sdk';
import type { Account } from '../helpers/matrix.ts';
import { cryptoClient, decrypted, register, roomAppears } from '../helpers/matrix.ts';
import { TestNetwork } from '../helpers/peer-network.ts';

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
    // A room key goes to the devices the sender knows when it sends: wait until each side's
    // node has relayed the other's device keys and each client has them.
    await knowsDevice(aliceClient, bob);
    await knowsDevice(bobClient, alice);
    const atBob = decrypted(bobClient, roomId, 'from a.test, sealed', 20_000);
    await aliceClient.sendTextMessage(roomId, 'from a.test, sealed');
    assert.equal((await atBob).isEncrypted(), true);
    const atAlice = decrypted(aliceClient, roomId, 'from b.test, sealed', 20_000);
    await bobClient.sendTextMessage(roomId, 'from b.test, sealed');
    assert.equal((await atAlice).isEncrypted(), true);
  });
});

async function knowsDevice(client: MatrixClient, of: Account, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const devices = await client.getCrypto()!.getUserDeviceInfo([of.userId], true);
    if (devices.get(of.userId)?.has(of.deviceId) === true) return;
    assert.ok(Date.now() < deadline, `${client.getUserId()} does not know ${of.userId}'s device within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the relay has no event a client can await
  }
}
