// Matrix over the peer-to-peer mode: two `parley serve --p2p --matrix` nodes, no
// WebSocket peering. A public room made on one is announced in the p2p directory of
// public channels, so the other lists it in /publicRooms (the same list), and a user
// there joins it by its alias and talks across.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Preset, Visibility, type MatrixClient } from 'matrix-js-sdk';
import { nextEvent, raw, register, startClient, type Account } from '../helpers/matrix.ts';
import { startP2PNode, type P2PNode } from '../helpers/p2p-node.ts';

const matrixArgs = (serverName: string) => ['--matrix', '--server-name', serverName, '--matrix-registration', 'open', '--matrix-login-rate', '0'];

describe('Matrix rooms over the peer-to-peer mode', () => {
  let a: P2PNode;
  let b: P2PNode;
  let aliceClient: MatrixClient;
  let bobClient: MatrixClient;
  let alice: Account;
  let bob: Account;

  before(async () => {
    a = await startP2PNode(matrixArgs('a.test'));
    b = await startP2PNode(['--bootstrap', a.addrs[0]!, ...matrixArgs('b.test')]);
    alice = await register(a.url.replace(/\/$/, ''), 'alice');
    bob = await register(b.url.replace(/\/$/, ''), 'bob');
    aliceClient = await startClient(a.url.replace(/\/$/, ''), alice);
    bobClient = await startClient(b.url.replace(/\/$/, ''), bob);
  });

  after(async () => {
    aliceClient?.stopClient();
    bobClient?.stopClient();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('a public room is in the p2p directory and in /publicRooms on the other node, which joins it and talks', async () => {
    const roomId = (await aliceClient.createRoom({ name: 'Over gossip', preset: Preset.PublicChat, visibility: Visibility.Public, room_alias_name: 'gossip' })).room_id;
    const baseB = b.url.replace(/\/$/, '');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const listed = (await raw(baseB, 'GET', '/_matrix/client/v3/publicRooms')).json.chunk as Array<{ room_id: string; name?: string }>;
      const directory = (await (await fetch(new URL('v1/directory', b.url))).json()) as { channels: Array<{ channel: string; about: string; node: string }> };
      const announced = directory.channels.some((c) => c.channel === `matrix/${roomId}` && c.about === 'Over gossip' && c.node === a.nodeId);
      if (announced && listed.some((r) => r.room_id === roomId && r.name === 'Over gossip')) break;
      assert.ok(Date.now() < deadline, `B lists the room in both directories: ${JSON.stringify(listed)} ${JSON.stringify(directory)}`);
      await new Promise((resolve) => setTimeout(resolve, 200)); // gossip has no event to await over HTTP
    }
    assert.equal((await bobClient.joinRoom('#gossip:a.test')).roomId, roomId);
    const arrived = nextEvent(aliceClient, (e) => e.getContent().body === 'hello over gossip', 10_000);
    await bobClient.sendTextMessage(roomId, 'hello over gossip');
    await arrived;
  });
});
