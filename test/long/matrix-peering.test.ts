// Two peered nodes, each with its own Matrix server name, sharing a room through the
// room's parley channel: cross-node invite and join, messages both ways within 2 s,
// renames and display names, concurrent sends, and a partition healed: both nodes end
// with the same events in the same order and the same room state.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventType, Preset, Visibility, type MatrixClient } from 'matrix-js-sdk';
import { nextEvent, raw, register, roomAppears, startClient, syncedUntil, type Account } from '../helpers/matrix.ts';
import { TestNetwork, type NetworkNode } from '../helpers/peer-network.ts';
import type { TcpProxy } from '../helpers/tcp-proxy.ts';

const matrixArgs = (serverName: string) => ['--matrix', '--server-name', serverName, '--matrix-registration', 'open', '--matrix-login-rate', '0', '--matrix-send-rate', '0'];

interface NodeView {
  readonly events: string[];
  readonly state: string;
}

/** A node's room as alice or bob sees it there: every event id by paging back to the creation, and the state. */
async function view(base: string, account: Account, roomId: string): Promise<NodeView> {
  const room = encodeURIComponent(roomId);
  const events: string[] = [];
  let from = '';
  for (;;) {
    const page = await raw(base, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=500${from}`, undefined, account.accessToken);
    events.push(...(page.json.chunk as Array<{ event_id: string }>).map((e) => e.event_id));
    if (page.json.end === undefined) break;
    from = `&from=${page.json.end as string}`;
  }
  const state = (await raw(base, 'GET', `/_matrix/client/v3/rooms/${room}/state`, undefined, account.accessToken)).json as unknown as Array<Record<string, unknown>>;
  const comparable = state.map(({ unsigned: _age, ...event }) => JSON.stringify(event)).sort();
  return { events: events.reverse(), state: comparable.join('\n') };
}

/** Waits until both nodes show the same events (at least `atLeast`) and the same state. */
async function converged(a: [string, Account], b: [string, Account], roomId: string, atLeast: number, timeoutMs = 15_000): Promise<NodeView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [left, right] = await Promise.all([view(a[0], a[1], roomId), view(b[0], b[1], roomId)]);
    if (left.events.length >= atLeast && left.events.join() === right.events.join() && left.state === right.state) return left;
    if (Date.now() > deadline) throw new Error(`the nodes did not converge: ${left.events.length} and ${right.events.length} events, state equal: ${left.state === right.state}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // replication has no event to await over HTTP
  }
}

describe('Matrix rooms across two peered nodes', () => {
  const net = new TestNetwork();
  let nodeA: NetworkNode;
  let nodeB: NetworkNode;
  let proxy: TcpProxy;
  let baseA: string;
  let baseB: string;
  let alice: Account;
  let bob: Account;
  let aliceClient: MatrixClient;
  let bobClient: MatrixClient;
  let roomId: string;

  before(async () => {
    nodeA = await net.node('A', { args: matrixArgs('a.test') });
    proxy = await net.proxyTo(nodeA);
    nodeB = await net.node('B', { peers: [proxy.url], args: matrixArgs('b.test') });
    await nodeB.process.waitForLogCount('peer link up', 1);
    baseA = nodeA.httpUrl.replace(/\/$/, '');
    baseB = nodeB.httpUrl.replace(/\/$/, '');
    alice = await register(baseA, 'alice');
    bob = await register(baseB, 'bob');
    aliceClient = await startClient(baseA, alice);
    bobClient = await startClient(baseB, bob);
  });

  after(async () => {
    aliceClient?.stopClient();
    bobClient?.stopClient();
    await net.close();
  });

  test('an invite crosses nodes; the join and messages go both ways within 2 s', async () => {
    assert.equal(bob.userId, '@bob:b.test');
    roomId = (await aliceClient.createRoom({ name: 'Across', invite: [bob.userId] })).room_id;
    await roomAppears(bobClient, roomId, 'invite', 10_000);
    const joinSeen = nextEvent(aliceClient, (e) => e.getType() === EventType.RoomMember && e.getStateKey() === bob.userId && e.getContent().membership === 'join');
    await bobClient.joinRoom(roomId);
    await joinSeen;
    const bobRoom = await roomAppears(bobClient, roomId, 'join');
    assert.equal(bobRoom.name, 'Across');
    for (const [from, to, text] of [
      [aliceClient, bobClient, 'from a.test'],
      [bobClient, aliceClient, 'from b.test'],
    ] as const) {
      const arrived = nextEvent(to, (e) => e.getContent().body === text, 2000);
      const sentAt = Date.now();
      await from.sendTextMessage(roomId, text);
      await arrived;
      assert.ok(Date.now() - sentAt < 2000, `${text} took ${Date.now() - sentAt} ms`);
    }
  });

  test('a rename and a display name change reach the other node', async () => {
    await aliceClient.setRoomName(roomId, 'Across, renamed');
    await syncedUntil(bobClient, () => bobClient.getRoom(roomId)!.name === 'Across, renamed', 'the new name on B');
    await bobClient.setDisplayName('Bob of B');
    await syncedUntil(aliceClient, () => aliceClient.getRoom(roomId)!.getMember(bob.userId)?.name === 'Bob of B', 'the display name on A');
  });

  test('concurrent sends and renames: the same events, in each sender\'s order, and the same state on both nodes', async () => {
    await aliceClient.setPowerLevel(roomId, bob.userId, 50);
    await converged([baseA, alice], [baseB, bob], roomId, 0);
    const send = async (base: string, account: Account, prefix: string, count: number) => {
      for (let i = 0; i < count; i++) {
        await raw(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${prefix}-${i}`, { msgtype: 'm.text', body: `${prefix} ${i}` }, account.accessToken);
      }
    };
    const rename = (base: string, account: Account, name: string) =>
      raw(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, { name }, account.accessToken);
    await Promise.all([send(baseA, alice, 'a', 40), send(baseB, bob, 'b', 40), rename(baseA, alice, 'named on A'), rename(baseB, bob, 'named on B')]);
    await converged([baseA, alice], [baseB, bob], roomId, 80);
    for (const [base, account] of [
      [baseA, alice],
      [baseB, bob],
    ] as const) {
      const bodies = await bodiesOf(base, account, roomId);
      for (const prefix of ['a', 'b']) {
        const own = bodies.filter((t) => t.startsWith(`${prefix} `)).map((t) => Number(t.slice(2)));
        assert.deepEqual(own, Array.from({ length: 40 }, (_, i) => i), `${prefix}'s messages in the order sent, at ${base}`);
      }
    }
    const [nameA, nameB] = await Promise.all([baseA, baseB].map(async (base) => (await raw(base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, undefined, base === baseA ? alice.accessToken : bob.accessToken)).json.name));
    assert.equal(nameA, nameB, 'one rename wins on both nodes');
  });

  test('the public room directory lists a room of the other node, which joins by alias from there', async () => {
    const square = (await aliceClient.createRoom({ name: 'Town square', preset: Preset.PublicChat, visibility: Visibility.Public, room_alias_name: 'square' })).room_id;
    const deadline = Date.now() + 10_000;
    let listed: Array<{ room_id: string; name?: string; num_joined_members: number }> = [];
    while (!listed.some((r) => r.room_id === square && r.name === 'Town square')) {
      assert.ok(Date.now() < deadline, 'the room reaches the directory on B');
      await new Promise((resolve) => setTimeout(resolve, 100)); // replication has no event to await over HTTP
      listed = (await raw(baseB, 'GET', '/_matrix/client/v3/publicRooms')).json.chunk as typeof listed;
    }
    const joinSeen = nextEvent(aliceClient, (e) => e.getRoomId() === square && e.getType() === EventType.RoomMember && e.getStateKey() === bob.userId, 5000);
    assert.equal((await bobClient.joinRoom('#square:a.test')).roomId, square);
    await joinSeen;
    const visibility = await raw(baseB, 'GET', `/_matrix/client/v3/directory/list/room/${encodeURIComponent(square)}`);
    assert.equal(visibility.json.visibility, 'public');
    const searched = await raw(baseA, 'POST', '/_matrix/client/v3/publicRooms', { filter: { generic_search_term: 'town' } }, alice.accessToken);
    assert.deepEqual((searched.json.chunk as Array<{ room_id: string }>).map((r) => r.room_id), [square]);
  });

  test('a partition: both sides go on; after healing both nodes hold the same room', async () => {
    const down = nodeB.process.waitForLog('peer link down; reconnecting', 10_000);
    proxy.partition();
    await down;
    for (let i = 0; i < 15; i++) {
      await aliceClient.sendTextMessage(roomId, `split a ${i}`);
      await bobClient.sendTextMessage(roomId, `split b ${i}`);
    }
    await Promise.all([aliceClient.setRoomName(roomId, 'split on A'), bobClient.setRoomName(roomId, 'split on B')]);
    const fromBob = nextEvent(aliceClient, (e) => e.getContent().body === 'split b 14', 15_000);
    const fromAlice = nextEvent(bobClient, (e) => e.getContent().body === 'split a 14', 15_000);
    proxy.heal();
    await Promise.all([fromBob, fromAlice]);
    const room = await converged([baseA, alice], [baseB, bob], roomId, 110);
    assert.equal(new Set(room.events).size, room.events.length, 'no event twice');
    const bodies = await bodiesOf(baseA, alice, roomId);
    for (const prefix of ['split a', 'split b']) {
      assert.deepEqual(bodies.filter((t) => t.startsWith(prefix)).map((t) => Number(t.slice(prefix.length + 1))), Array.from({ length: 15 }, (_, i) => i));
    }
  });
});

async function bodiesOf(base: string, account: Account, roomId: string): Promise<string[]> {
  const page = await raw(base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=f&limit=1000`, undefined, account.accessToken);
  return (page.json.chunk as Array<{ content: { body?: string } }>).flatMap((e) => (typeof e.content.body === 'string' ? [e.content.body] : []));
}
