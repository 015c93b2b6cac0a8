// A trusted peer (it holds the peer key and seals its envelopes with its own node key)
// that writes room events, device keys, to-device messages, invite notices, aliases and
// room listings in the name of another server's users: the gateway refuses them, logs and
// counts them, and still takes those of the peer's own users, whether their server is the
// peer's id or a name the peer claimed in `matrix-servers`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OriginWriter } from '../src/envelope/origin-writer.testkit.ts';
import { FakePeer, identity } from './helpers/fake-peer.ts';
import { raw, type Account } from './helpers/matrix.ts';
import { startNetworkNode, type NetworkNode } from './helpers/peer-network.ts';

const REFUSED = "matrix: an entry from a node that does not speak for its sender's server was refused";

async function registerRaw(base: string, username: string): Promise<Account> {
  const { status, json } = await raw(base, 'POST', '/_matrix/client/v3/register', { username, password: 'a long password', auth: { type: 'm.login.dummy' } });
  assert.equal(status, 200, JSON.stringify(json));
  return { userId: json.user_id as string, accessToken: json.access_token as string, deviceId: json.device_id as string };
}

/** Long-polls /sync as `account` until a message with this body is in the room's timeline; returns every body seen. */
async function syncUntil(base: string, account: Account, roomId: string, body: string): Promise<string[]> {
  const bodies: string[] = [];
  let since = '';
  const deadline = Date.now() + 10_000;
  while (!bodies.includes(body)) {
    assert.ok(Date.now() < deadline, `no message "${body}" within 10 s; seen: ${bodies.join(', ')}`);
    const { json } = await raw(base, 'GET', `/_matrix/client/v3/sync?timeout=5000${since}`, undefined, account.accessToken);
    since = `&since=${json.next_batch as string}`;
    const room = (json.rooms as { join: Record<string, { timeline: { events: Array<{ type: string; content: { body?: string } }> } }> }).join[roomId];
    for (const event of room?.timeline.events ?? []) if (event.type === 'm.room.message') bodies.push(event.content.body!);
  }
  return bodies;
}

async function forgedCount(node: NetworkNode): Promise<number> {
  const text = await (await fetch(new URL('/metrics', node.httpUrl))).text();
  return Number(/^parley_matrix_forged_events_total (\d+)$/m.exec(text)?.[1]);
}

describe('Matrix events from a peer that speaks for another server', () => {
  let node: NetworkNode;
  let alice: Account;
  let roomId: string;
  let peer: FakePeer;
  const me = identity();
  const writer = new OriginWriter(me);
  const sent = new Map<string, number>();
  /** Sends the events as the next messages of the peer's origin in the channel. */
  const write = async (channel: string, payloads: ReadonlyArray<{ uid: string; json: unknown }>): Promise<void> => {
    const sub = await peer.next('sub', channel);
    for (const { uid, json } of payloads) {
      const seq = (sent.get(channel) ?? 0) + 1;
      sent.set(channel, seq);
      peer.send({ t: 'msgs', ch: channel, s: sub.s!, e: [writer.envelope(channel, seq, [JSON.stringify(json)], { uid })] });
    }
    await peer.roundTrip();
  };
  let depth = 1000;
  const event = (sender: string, type: string, content: Record<string, unknown>, stateKey?: string) => ({
    uid: sender,
    json: { type, room_id: roomId, sender, content, origin_server_ts: Date.now(), depth: ++depth, ...(stateKey === undefined ? {} : { state_key: stateKey }) },
  });

  before(async () => {
    node = await startNetworkNode('a', { args: ['--matrix', '--server-name', 'a.test', '--matrix-registration', 'open', '--matrix-login-rate', '0', '--matrix-send-rate', '0'] });
    alice = await registerRaw(node.httpUrl, 'alice');
    const created = await raw(node.httpUrl, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat', name: 'guarded' }, alice.accessToken);
    roomId = created.json.room_id as string;
    peer = await FakePeer.linked(node.wsUrl, me);
  });
  after(async () => {
    peer?.ws.close();
    await node?.stop('SIGKILL');
  });

  test('an event in the name of a user of this node is refused; the peer\'s own users are taken', async () => {
    const channel = `matrix/${roomId}`;
    const mallory = `@mallory:${me.nodeId}`;
    await write(channel, [
      event(alice.userId, 'm.room.message', { msgtype: 'm.text', body: 'forged: alice never said this' }),
      event(mallory, 'm.room.member', { membership: 'join' }, mallory),
      event(mallory, 'm.room.message', { msgtype: 'm.text', body: 'mallory speaks for herself' }),
    ]);
    const bodies = await syncUntil(node.httpUrl, alice, roomId, 'mallory speaks for herself');
    assert.ok(!bodies.some((b) => b.startsWith('forged')), `the forged event was shown: ${bodies.join(', ')}`);
    const members = await raw(node.httpUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`, undefined, alice.accessToken);
    assert.deepEqual(Object.keys(members.json.joined as object).sort(), [alice.userId, mallory].sort());
    await node.process.waitForLogCount(REFUSED, 1);
    const [line] = node.process.logged(REFUSED);
    assert.equal(line?.origin, me.nodeId);
    assert.equal(line?.sender, alice.userId);
    assert.equal(await forgedCount(node), 1);
  });

  test('a name the peer claimed is its own: its users\' events wait for the claim; claiming this node\'s name is refused', async () => {
    const channel = `matrix/${roomId}`;
    const bob = '@bob:b.test';
    await write(channel, [event(bob, 'm.room.member', { membership: 'join' }, bob), event(bob, 'm.room.message', { msgtype: 'm.text', body: 'bob of b.test' })]);
    await write('matrix-servers', [{ uid: 'matrix', json: { server_name: 'a.test' } }]);
    const CLAIM_REFUSED = 'matrix: a node claimed a server name it may not have; refused';
    await node.process.waitForLogCount(CLAIM_REFUSED, 1);
    assert.equal(node.process.logged(CLAIM_REFUSED)[0]?.server, 'a.test');
    await write('matrix-servers', [{ uid: 'matrix', json: { server_name: 'b.test' } }]);
    const bodies = await syncUntil(node.httpUrl, alice, roomId, 'bob of b.test');
    assert.ok(bodies.includes('bob of b.test'));
    await write(channel, [event('@carol:a.test', 'm.room.message', { msgtype: 'm.text', body: 'forged again' }), event(bob, 'm.room.message', { msgtype: 'm.text', body: 'bob again' })]);
    const later = await syncUntil(node.httpUrl, alice, roomId, 'bob again');
    assert.ok(!later.includes('forged again'));
    await node.process.waitForLogCount(REFUSED, 2);
    assert.equal(await forgedCount(node), 2);
  });

  test('device keys, to-device messages, invite notices, aliases and listings are taken only from the node that speaks for their server', async () => {
    const bob = '@bob:b.test';
    const deviceKeys = (user: string, device: string) => ({ user_id: user, device_id: device, algorithms: ['m.olm.v1.curve25519-aes-sha2'], keys: { [`ed25519:${device}`]: 'key' }, signatures: {} });
    const uploadOf = (user: string, device: string) => ({ uid: user, json: { user_id: user, device_id: device, device_keys: deviceKeys(user, device) } });
    // Forged: each in the name of a user or alias of a.test, which this node speaks for.
    await write('matrix-devices/a.test', [uploadOf(alice.userId, 'PLANTED')]);
    await write('matrix-devices/b.test', [uploadOf(bob, 'BOBPHONE'), uploadOf(alice.userId, 'ASTRAY')]);
    const toDevice = (sender: string, body: string) => ({ uid: sender, json: { user_id: alice.userId, device_id: alice.deviceId, sender, type: 'm.test', content: { body } } });
    await write('matrix-to-device/a.test', [toDevice(bob, 'bob to-device'), toDevice('@carol:a.test', 'forged to-device')]);
    const forgedRoom = '!forged:a.test';
    const bobsRoom = '!bobs:b.test';
    await write('matrix-inbox/a.test', [
      { uid: alice.userId, json: { room_id: forgedRoom, user_id: alice.userId, sender: alice.userId } },
      { uid: bob, json: { room_id: bobsRoom, user_id: alice.userId, sender: bob } },
    ]);
    await write('matrix-directory', [
      { uid: bob, json: { alias: '#bobs:b.test', room_id: roomId, creator: bob, servers: ['b.test'] } },
      { uid: '@mallory:b.test', json: { alias: '#stolen:a.test', room_id: roomId, creator: '@mallory:b.test', servers: ['b.test'] } },
      { uid: alice.userId, json: { room_id: roomId, visibility: 'public' } },
    ]);
    // Each channel's legitimate entries go before its forged ones (the invite notices aside), so
    // once every forged one is refused, the others have been taken.
    await node.process.waitForLogCount(REFUSED, 8);

    // The legitimate ones are taken: bob's device, his to-device message, his invite notice (the node follows the room) and alias.
    await peer.next('sub', `matrix/${bobsRoom}`);
    assert.ok(!peer.frames.some((f) => f.t === 'sub' && f.ch === `matrix/${forgedRoom}`), 'the node follows the room of a forged invite notice');
    const keys = await raw(node.httpUrl, 'POST', '/_matrix/client/v3/keys/query', { device_keys: { [alice.userId]: [], [bob]: [] } }, alice.accessToken);
    const devices = keys.json.device_keys as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(devices[bob]!), ['BOBPHONE']);
    assert.ok(!('PLANTED' in devices[alice.userId]!) && !('ASTRAY' in devices[alice.userId]!), `planted devices shown: ${Object.keys(devices[alice.userId]!).join(', ')}`);
    const synced = await raw(node.httpUrl, 'GET', '/_matrix/client/v3/sync?timeout=0', undefined, alice.accessToken);
    const toDeviceBodies = (synced.json.to_device as { events: Array<{ sender: string; content: { body: string } }> }).events.map((e) => `${e.sender} ${e.content.body}`);
    assert.deepEqual(toDeviceBodies, [`${bob} bob to-device`]);
    const bobsAlias = await raw(node.httpUrl, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent('#bobs:b.test')}`);
    assert.equal(bobsAlias.json.room_id, roomId);
    assert.equal((await raw(node.httpUrl, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent('#stolen:a.test')}`)).status, 404);
    const listing = await raw(node.httpUrl, 'GET', `/_matrix/client/v3/directory/list/room/${encodeURIComponent(roomId)}`);
    assert.equal(listing.json.visibility, 'private');

    // The forged ones are refused, each logged with its kind, and counted.
    const refused = node.process.logged(REFUSED).slice(2).map((line) => `${line.kind as string} ${line.sender as string}`).sort();
    assert.deepEqual(refused, [
      `alias #stolen:a.test`,
      `device keys ${alice.userId}`,
      `device keys ${alice.userId}`,
      `invite notice ${alice.userId}`,
      `room listing ${alice.userId}`,
      'to-device message @carol:a.test',
    ]);
    assert.ok(node.process.logged(REFUSED).every((line) => line.origin === me.nodeId));
    assert.equal(await forgedCount(node), 8);
  });
});
