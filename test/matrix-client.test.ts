// The Matrix gateway against the real matrix-js-sdk and a real `parley serve --matrix`
// process: accounts, rooms, invites, messages, txnId de-duplication, back-pagination,
// limited syncs, display names, aliases, power levels, errors, and a restart of the
// node with the clients resuming. One node (restarted once) serves the whole file.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Direction, type MatrixClient } from 'matrix-js-sdk';
import { raw, register, nextEvent, roomAppears, startClient, syncedUntil, type Account } from './helpers/matrix.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { freePort } from './helpers/pebble.ts';

const SERVER = 'parley.test';

describe('Matrix gateway with matrix-js-sdk', () => {
  let node: NodeProcess;
  let port: number;
  let base: string;
  let args: string[];
  let alice: Account;
  let bob: Account;
  let aliceClient: MatrixClient;
  let bobClient: MatrixClient;
  let roomId: string;
  let carol: string | undefined;
  /** A user of the node who is not in the planning room. */
  const carolToken = (): string => carol!;

  before(async () => {
    port = await freePort();
    args = ['--listen', `127.0.0.1:${port}`, '--matrix', '--server-name', SERVER, '--matrix-registration', 'open', '--matrix-login-rate', '0', '--matrix-send-rate', '0'];
    node = await startNode(args);
    base = `http://127.0.0.1:${port}`;
    alice = await register(base, 'alice');
    bob = await register(base, 'bob');
    aliceClient = await startClient(base, alice);
    bobClient = await startClient(base, bob);
  });

  after(async () => {
    aliceClient?.stopClient();
    bobClient?.stopClient();
    await node?.stop();
  });

  test('versions and well-known name what is served', async () => {
    const versions = await raw(base, 'GET', '/_matrix/client/versions');
    assert.equal(versions.status, 200);
    assert.ok((versions.json.versions as string[]).includes('v1.1'));
    const wellKnown = await raw(base, 'GET', '/.well-known/matrix/client');
    assert.equal((wellKnown.json['m.homeserver'] as { base_url: string }).base_url, base);
  });

  test('accounts: ids on the server name, both login styles, whoami, devices, logout', async () => {
    assert.equal(alice.userId, `@alice:${SERVER}`);
    const byIdentifier = await raw(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'secret password' });
    assert.equal(byIdentifier.status, 200);
    assert.equal(byIdentifier.json.user_id, alice.userId);
    assert.equal(typeof byIdentifier.json.device_id, 'string');
    const legacy = await raw(base, 'POST', '/_matrix/client/r0/login', { type: 'm.login.password', user: alice.userId, password: 'secret password', device_id: 'LAPTOP' });
    assert.equal(legacy.json.device_id, 'LAPTOP');
    const wrong = await raw(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'alice', password: 'nope' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.json.errcode, 'M_FORBIDDEN');
    const token = legacy.json.access_token as string;
    const whoami = await raw(base, 'GET', `/_matrix/client/v3/account/whoami?access_token=${encodeURIComponent(token)}`);
    assert.deepEqual(whoami.json, { user_id: alice.userId, device_id: 'LAPTOP', is_guest: false });
    const devices = await raw(base, 'GET', '/_matrix/client/v3/devices', undefined, token);
    assert.ok((devices.json.devices as Array<{ device_id: string }>).some((d) => d.device_id === 'LAPTOP'));
    assert.equal((await raw(base, 'POST', '/_matrix/client/v3/logout', {}, token)).status, 200);
    const after = await raw(base, 'GET', '/_matrix/client/v3/account/whoami', undefined, token);
    assert.equal(after.status, 401);
    assert.equal(after.json.errcode, 'M_UNKNOWN_TOKEN');
    // logout/all ends every session of the user: a fresh account, so alice's clients go on.
    const carolAccount = await register(base, 'carol');
    const second = await raw(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'carol', password: 'secret password' });
    await raw(base, 'POST', '/_matrix/client/v3/logout/all', {}, second.json.access_token as string);
    assert.equal((await raw(base, 'GET', '/_matrix/client/v3/account/whoami', undefined, carolAccount.accessToken)).json.errcode, 'M_UNKNOWN_TOKEN');
    carol = (await raw(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'carol', password: 'secret password' })).json.access_token as string;
    const guest = await raw(base, 'POST', '/_matrix/client/v3/register?kind=guest', {});
    assert.equal(guest.status, 200);
    assert.match(guest.json.user_id as string, new RegExp(`:${SERVER.replace('.', '\\.')}$`));
    const taken = await raw(base, 'POST', '/_matrix/client/v3/register', { username: 'alice', password: 'x', auth: { type: 'm.login.dummy' } });
    assert.equal(taken.json.errcode, 'M_USER_IN_USE');
    const invalid = await raw(base, 'POST', '/_matrix/client/v3/register', { username: 'Not Valid!', password: 'x', auth: { type: 'm.login.dummy' } });
    assert.equal(invalid.json.errcode, 'M_INVALID_USERNAME');
    const firstRequest = await raw(base, 'POST', '/_matrix/client/r0/register', { username: 'dave', password: 'x', auth: { type: 'm.login.dummy' } });
    assert.equal(firstRequest.status, 200, 'the dummy stage is taken on the first request, without a session');
    assert.equal(typeof firstRequest.json.device_id, 'string');
  });

  test('create, invite, join, and messages both ways through long-polls', async () => {
    const created = await aliceClient.createRoom({ name: 'Planning', topic: 'what next', invite: [bob.userId], is_direct: false });
    roomId = created.room_id;
    assert.match(roomId, new RegExp(`^!.+:${SERVER.replace('.', '\\.')}$`));
    await roomAppears(bobClient, roomId, 'invite');
    await bobClient.joinRoom(roomId);
    const bobRoom = await roomAppears(bobClient, roomId, 'join');
    assert.equal(bobRoom.name, 'Planning');
    const fromAlice = nextEvent(bobClient, (e) => e.getType() === 'm.room.message' && e.getContent().body === 'hello bob');
    const sentAt = Date.now();
    await aliceClient.sendTextMessage(roomId, 'hello bob');
    await fromAlice;
    assert.ok(Date.now() - sentAt < 2000);
    const fromBob = nextEvent(aliceClient, (e) => e.getType() === 'm.room.message' && e.getContent().body === 'hi alice');
    await bobClient.sendTextMessage(roomId, 'hi alice');
    assert.equal((await fromBob).getSender(), bob.userId);
    const create = aliceClient.getRoom(roomId)!.currentState.getStateEvents('m.room.create', '');
    assert.equal(create?.getContent().creator, alice.userId);
  });

  test('the same txnId twice gives one event', async () => {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn-once`;
    const first = await raw(base, 'PUT', path, { msgtype: 'm.text', body: 'only once' }, alice.accessToken);
    const second = await raw(base, 'PUT', path, { msgtype: 'm.text', body: 'only once' }, alice.accessToken);
    assert.equal(first.status, 200);
    assert.equal(first.json.event_id, second.json.event_id);
    const page = await aliceClient.createMessagesRequest(roomId, null, 20, Direction.Backward);
    assert.equal(page.chunk.filter((e) => e.content.body === 'only once').length, 1);
  });

  test('500 messages page back exactly, in order, to the room creation', async () => {
    const path = (i: number) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/bulk-${i}`;
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => raw(base, 'PUT', path(i + j), { msgtype: 'm.text', body: `bulk ${i + j}` }, bob.accessToken)));
    }
    // Sent 50 at a time: only each batch's order is fixed, so order by what the server says and check it is the same every time.
    const bodies: string[] = [];
    const ids: string[] = [];
    let from: string | null = null;
    for (;;) {
      const page = await aliceClient.createMessagesRequest(roomId, from, 100, Direction.Backward);
      for (const event of page.chunk) {
        ids.push(event.event_id);
        if (typeof event.content.body === 'string' && event.content.body.startsWith('bulk ')) bodies.push(event.content.body);
      }
      if (page.end === undefined || page.chunk.length === 0) break;
      from = page.end;
    }
    assert.equal(bodies.length, 500);
    assert.equal(new Set(bodies).size, 500);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.equal(ids.at(-1), aliceClient.getRoom(roomId)!.currentState.getStateEvents('m.room.create', '')!.getId(), 'ends at the room creation');
    // Each batch of 50 comes after the one before it.
    const batchOf = (body: string) => Math.floor(Number(body.slice(5)) / 50);
    const batches = bodies.map(batchOf).reverse();
    for (let i = 1; i < batches.length; i++) assert.ok(batches[i]! >= batches[i - 1]!, `batch order at ${i}`);
    // Forwards from the start gives the same events in the opposite order.
    const forward: string[] = [];
    let next: string | null = null;
    const start = await aliceClient.createMessagesRequest(roomId, null, 1000, Direction.Backward);
    const oldest = start.end;
    assert.equal(oldest, undefined, 'a page of 1000 reaches the creation');
    for (;;) {
      const page = await raw(base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=f&limit=150${next === null ? '' : `&from=${next}`}`, undefined, alice.accessToken);
      const chunk = page.json.chunk as Array<{ event_id: string }>;
      forward.push(...chunk.map((e) => e.event_id));
      if (chunk.length === 0) break;
      next = page.json.end as string;
    }
    assert.deepEqual(forward, [...ids].reverse());
  });

  test('a limited sync carries the room state and a prev_batch that pages back', async () => {
    const first = await raw(base, 'GET', '/_matrix/client/v3/sync?timeout=0', undefined, bob.accessToken);
    const since = first.json.next_batch as string;
    for (let i = 0; i < 12; i++) await raw(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/limited-${i}`, { msgtype: 'm.text', body: `limited ${i}` }, alice.accessToken);
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 5 } } }));
    const synced = await raw(base, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=0&filter=${filter}`, undefined, bob.accessToken);
    const room = (synced.json.rooms as { join: Record<string, { timeline: { limited: boolean; prev_batch: string; events: Array<{ content: { body: string } }> }; state: { events: Array<{ type: string }> } }> }).join[roomId]!;
    assert.equal(room.timeline.limited, true);
    assert.deepEqual(room.timeline.events.map((e) => e.content.body), ['limited 7', 'limited 8', 'limited 9', 'limited 10', 'limited 11']);
    assert.ok(room.state.events.some((e) => e.type === 'm.room.name'), 'the state comes with a limited timeline');
    const back = await raw(base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=7&from=${room.timeline.prev_batch}`, undefined, bob.accessToken);
    assert.deepEqual((back.json.chunk as Array<{ content: { body: string } }>).map((e) => e.content.body), ['limited 6', 'limited 5', 'limited 4', 'limited 3', 'limited 2', 'limited 1', 'limited 0']);
  });

  test('a display name change is a new member event that other clients see', async () => {
    await bobClient.setDisplayName('Bob B.');
    await syncedUntil(aliceClient, () => aliceClient.getRoom(roomId)!.getMember(bob.userId)?.name === 'Bob B.', 'the new display name at alice');
    const profile = await raw(base, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}`);
    assert.equal(profile.json.displayname, 'Bob B.');
  });

  test('aliases: create, resolve without auth, join by alias, delete', async () => {
    const other = await aliceClient.createRoom({ name: 'Lobby', preset: 'public_chat' as never, room_alias_name: 'lobby' });
    const alias = `#lobby:${SERVER}`;
    const resolved = await raw(base, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`);
    assert.deepEqual(resolved.json, { room_id: other.room_id, servers: [SERVER] });
    assert.equal((await bobClient.getRoomIdForAlias(alias)).room_id, other.room_id);
    const joined = await bobClient.joinRoom(alias);
    assert.equal(joined.roomId, other.room_id);
    await aliceClient.createAlias(`#second:${SERVER}`, other.room_id);
    await aliceClient.deleteAlias(`#second:${SERVER}`);
    const gone = await raw(base, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(`#second:${SERVER}`)}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.errcode, 'M_NOT_FOUND');
  });

  test('power levels: a user at 0 cannot rename, kick or ban until raised', async () => {
    await assert.rejects(bobClient.setRoomName(roomId, 'Mine now'), (error: { errcode?: string }) => error.errcode === 'M_FORBIDDEN');
    await assert.rejects(bobClient.kick(roomId, alice.userId), (error: { errcode?: string }) => error.errcode === 'M_FORBIDDEN');
    await aliceClient.setPowerLevel(roomId, bob.userId, 50);
    const renamed = nextEvent(aliceClient, (e) => e.getType() === 'm.room.name' && e.getContent().name === 'Renamed by Bob');
    await bobClient.setRoomName(roomId, 'Renamed by Bob');
    await renamed;
    await assert.rejects(bobClient.kick(roomId, alice.userId), (error: { errcode?: string }) => error.errcode === 'M_FORBIDDEN', 'not above the admin');
    const eve = await register(base, 'eve');
    await aliceClient.invite(roomId, eve.userId);
    const eveJoin = await raw(base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, eve.accessToken);
    assert.equal(eveJoin.status, 200);
    await bobClient.ban(roomId, eve.userId, 'spam');
    const again = await raw(base, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {}, eve.accessToken);
    assert.equal(again.json.errcode, 'M_FORBIDDEN');
    const send = await raw(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/banned`, { body: 'x' }, eve.accessToken);
    assert.equal(send.json.errcode, 'M_FORBIDDEN');
  });

  test('typing, read receipts, redactions, tags, /context, /joined_members, and leaving', async () => {
    const room = encodeURIComponent(roomId);
    const sync = async (since: string, token: string) => (await raw(base, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=5000`, undefined, token)).json;
    const start = (await raw(base, 'GET', '/_matrix/client/v3/sync?timeout=0', undefined, alice.accessToken)).json.next_batch as string;
    await raw(base, 'PUT', `/_matrix/client/v3/rooms/${room}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 10_000 }, bob.accessToken);
    const typed = await sync(start, alice.accessToken);
    const ephemeral = (typed.rooms as { join: Record<string, { ephemeral: { events: Array<{ type: string; content: { user_ids?: string[] } }> } }> }).join[roomId]!.ephemeral.events;
    assert.deepEqual(ephemeral.find((e) => e.type === 'm.typing')?.content.user_ids, [bob.userId]);
    const sent = await raw(base, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/to-redact`, { msgtype: 'm.text', body: 'a mistake' }, alice.accessToken);
    const eventId = sent.json.event_id as string;
    assert.equal((await raw(base, 'POST', `/_matrix/client/v3/rooms/${room}/receipt/m.read/${encodeURIComponent(eventId)}`, {}, bob.accessToken)).status, 200);
    const receipts = await sync(typed.next_batch as string, alice.accessToken);
    assert.match(JSON.stringify(receipts), new RegExp(`"m.receipt","content":\\{"\\${eventId}":\\{"m.read":\\{"${bob.userId}"`));
    assert.equal((await raw(base, 'PUT', `/_matrix/client/v3/rooms/${room}/redact/${encodeURIComponent(eventId)}/r1`, { reason: 'typo' }, alice.accessToken)).status, 200);
    const redacted = await raw(base, 'GET', `/_matrix/client/v3/rooms/${room}/event/${encodeURIComponent(eventId)}`, undefined, bob.accessToken);
    assert.deepEqual(redacted.json.content, {}, 'a redacted event keeps no content');
    assert.equal(((redacted.json.unsigned as { redacted_because?: { content: { reason: string } } }).redacted_because)?.content.reason, 'typo');
    const otherRedaction = await raw(base, 'PUT', `/_matrix/client/v3/rooms/${room}/redact/${encodeURIComponent(eventId)}/r2`, {}, carolToken());
    assert.equal(otherRedaction.status, 403);
    await raw(base, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/rooms/${room}/tags/u.work`, { order: 0.5 }, alice.accessToken);
    const tags = await raw(base, 'GET', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/rooms/${room}/tags`, undefined, alice.accessToken);
    assert.deepEqual(tags.json, { tags: { 'u.work': { order: 0.5 } } });
    const context = await raw(base, 'GET', `/_matrix/client/v3/rooms/${room}/context/${encodeURIComponent(eventId)}?limit=4`, undefined, alice.accessToken);
    assert.equal((context.json.event as { event_id: string }).event_id, eventId);
    assert.equal((context.json.events_before as unknown[]).length, 2);
    const members = await raw(base, 'GET', `/_matrix/client/v3/rooms/${room}/joined_members`, undefined, alice.accessToken);
    assert.equal((members.json.joined as Record<string, { display_name: string }>)[bob.userId]?.display_name, 'Bob B.');
    // Dave joins the public lobby and leaves it: his next sync has the room under leave.
    const dave = (await raw(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'dave', password: 'x' })).json.access_token as string;
    const lobby = (await raw(base, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(`#lobby:${SERVER}`)}`)).json.room_id as string;
    await raw(base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(lobby)}`, {}, dave);
    const before = (await raw(base, 'GET', '/_matrix/client/v3/sync?timeout=0', undefined, dave)).json.next_batch as string;
    await raw(base, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(lobby)}/leave`, {}, dave);
    const left = await sync(before, dave);
    assert.ok(Object.keys((left.rooms as { leave: Record<string, unknown> }).leave).includes(lobby));
    assert.deepEqual((await raw(base, 'GET', '/_matrix/client/v3/joined_rooms', undefined, dave)).json.joined_rooms, []);
  });

  test('errors are Matrix errors with the right status', async () => {
    const cases: Array<[string, string, unknown, string | undefined, number, string]> = [
      ['GET', '/_matrix/client/v3/no/such/endpoint', undefined, alice.accessToken, 404, 'M_UNRECOGNIZED'],
      ['GET', '/_matrix/client/v3/sync', undefined, undefined, 401, 'M_MISSING_TOKEN'],
      ['GET', '/_matrix/client/v3/sync', undefined, 'not-a-token', 401, 'M_UNKNOWN_TOKEN'],
      ['POST', '/_matrix/client/v3/createRoom', '{not json', alice.accessToken, 400, 'M_NOT_JSON'],
      ['POST', '/_matrix/client/v3/createRoom', '[1,2]', alice.accessToken, 400, 'M_BAD_JSON'],
      ['POST', '/_matrix/client/v3/createRoom', { name: 7 }, alice.accessToken, 400, 'M_BAD_JSON'],
      ['PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/big`, { body: 'x'.repeat(70_000) }, alice.accessToken, 413, 'M_TOO_LARGE'],
      ['GET', `/_matrix/client/v3/rooms/${encodeURIComponent('!nope:' + SERVER)}/messages`, undefined, alice.accessToken, 403, 'M_FORBIDDEN'],
      ['GET', `/_matrix/client/v3/directory/room/${encodeURIComponent('#nope:' + SERVER)}`, undefined, undefined, 404, 'M_NOT_FOUND'],
      ['GET', '/_matrix/client/v3/sync?since=garbage', undefined, alice.accessToken, 400, 'M_INVALID_PARAM'],
    ];
    for (const [method, path, body, token, status, errcode] of cases) {
      const response = await raw(base, method, path, body, token);
      assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.json)}`);
      assert.equal(response.json.errcode, errcode, `${method} ${path}`);
      assert.equal(typeof response.json.error, 'string', 'every error says what went wrong');
    }
  });

  test('bad requests, seeded at random, get Matrix errors and never crash the node', async (t) => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} repeats this run)`);
    let state = seed;
    const next = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    const pick = <T>(values: readonly T[]): T => values[next(values.length)]!;
    const room = encodeURIComponent(roomId);
    const templates = [
      'register', 'login', 'logout', 'account/whoami', 'devices', 'devices/X', 'createRoom', 'sync', 'joined_rooms', 'publicRooms', 'capabilities', 'pushrules/',
      `rooms/${room}/send/m.room.message/SEG`, `rooms/${room}/state/SEG`, `rooms/${room}/state/m.room.name/SEG`, `rooms/${room}/messages`, `rooms/SEG/join`,
      `rooms/${room}/invite`, `rooms/${room}/kick`, `rooms/${room}/redact/SEG/SEG`, `rooms/${room}/context/SEG`, `rooms/${room}/event/SEG`, `rooms/${room}/members`,
      `rooms/${room}/typing/SEG`, `rooms/${room}/receipt/SEG/SEG`, 'join/SEG', 'directory/room/SEG', 'directory/list/room/SEG', 'profile/SEG/displayname',
      'user/SEG/filter', 'user/SEG/filter/SEG', 'user/SEG/account_data/SEG', 'user/SEG/rooms/SEG/tags/SEG', 'SEG', 'SEG/SEG/SEG',
      'keys/upload', 'keys/query', 'keys/claim', 'keys/changes', 'sendToDevice/SEG/SEG',
    ];
    const segments = ['%', '%zz', '%E0%A4%A', '..', '', 'x'.repeat(5000), '%00', '%F0%9F%98%80', encodeURIComponent('!x:y'), encodeURIComponent('#a:b'), encodeURIComponent(alice.userId), '-1', 'null'];
    const queries = ['', '?since=s1_1', '?since=zz', '?timeout=-5', '?timeout=99999999999', '?limit=abc', '?limit=0', '?dir=x', '?from=t1_2_a_x', `?filter=${encodeURIComponent('{"room":{"timeline":{"limit":"many"}}}')}`, '?filter={', '?filter=999', '?kind=guest', '?access_token='];
    const bodies: unknown[] = [undefined, '', '{', 'null', '[]', '"text"', '123', '{"a":', { type: 5 }, { identifier: 'x' }, { user_id: 7 }, { auth: null }, { name: { deep: [1, 2] } }, { membership: 'knock' }, { typing: 'yes' }, { visibility: 'maybe' }, { room: 5 }, { device_keys: { x: 1 } }, { one_time_keys: { 'bad id': {} } }, { messages: { '@a:b': 5 } }, { device_keys: 'all' }, 'x'.repeat(2 * 1024 * 1024)];
    const tokens = [undefined, alice.accessToken, 'bogus', ''];
    for (let i = 0; i < 400; i++) {
      const path = '/_matrix/client/' + pick(['v3', 'r0', 'v1', 'v9']) + '/' + pick(templates).replace(/SEG/g, () => pick(segments)) + pick(queries);
      const method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
      const response = await raw(base, method, path, method === 'GET' ? undefined : pick(bodies), pick(tokens)).catch((error: Error) => ({ status: 0, json: { error: error.message } as Record<string, unknown> }));
      assert.ok(response.status !== 0 && response.status < 500, `seed ${seed}, request ${i}: ${method} ${path.slice(0, 200)} answered ${response.status} ${JSON.stringify(response.json).slice(0, 300)}`);
      if (response.status >= 400) {
        assert.equal(typeof response.json.errcode, 'string', `${method} ${path.slice(0, 200)}: errcode`);
        assert.equal(typeof response.json.error, 'string', `${method} ${path.slice(0, 200)}: error`);
      }
    }
    const alive = await raw(base, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/after-fuzz`, { msgtype: 'm.text', body: 'still here' }, alice.accessToken);
    assert.equal(alive.status, 200);
  });

  test('a restarted node keeps accounts, tokens and sync positions; the clients resume', async () => {
    const beforeRestart = await raw(base, 'GET', '/_matrix/client/v3/sync?timeout=0', undefined, bob.accessToken);
    const since = beforeRestart.json.next_batch as string;
    await node.stop();
    node = await startNode([...args, '--data', node.dataDir]);
    const still = await raw(base, 'GET', '/_matrix/client/v3/account/whoami', undefined, alice.accessToken);
    assert.equal(still.json.user_id, alice.userId, 'the token survives the restart');
    const quiet = await raw(base, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=0`, undefined, bob.accessToken);
    assert.deepEqual(quiet.json.rooms, { join: {}, invite: {}, leave: {}, knock: {} }, 'nothing new since the token taken before the restart');
    const after = nextEvent(bobClient, (e) => e.getContent().body === 'after the restart', 15_000);
    await aliceClient.sendTextMessage(roomId, 'after the restart');
    await after;
    const synced = await raw(base, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=0`, undefined, bob.accessToken);
    const events = (synced.json.rooms as { join: Record<string, { timeline: { events: Array<{ content: { body?: string } }> } }> }).join[roomId]!.timeline.events;
    assert.deepEqual(events.map((e) => e.content.body), ['after the restart']);
  });
});

describe('Matrix gateway: registration by token, and rate limits', () => {
  let node: NodeProcess;
  let base: string;
  before(async () => {
    node = await startNode(['--matrix', '--matrix-registration-token', 'open sesame', '--matrix-login-rate', '6', '--matrix-send-rate', '1']);
    base = node.url.replace(/\/$/, '');
  });
  after(() => node?.stop());

  test('registration asks for the token, refuses a wrong one and guests; logins and sends past the limit get M_LIMIT_EXCEEDED with retry_after_ms', async () => {
    const asked = await raw(base, 'POST', '/_matrix/client/v3/register', { username: 'zoe', password: 'pw' });
    assert.equal(asked.status, 401);
    assert.deepEqual(asked.json.flows, [{ stages: ['m.login.registration_token'] }]);
    const wrong = await raw(base, 'POST', '/_matrix/client/v3/register', { username: 'zoe', password: 'pw', auth: { type: 'm.login.registration_token', token: 'guess' } });
    assert.equal(wrong.status, 401);
    const guest = await raw(base, 'POST', '/_matrix/client/v3/register?kind=guest', {});
    assert.equal(guest.json.errcode, 'M_FORBIDDEN');
    const right = await raw(base, 'POST', '/_matrix/client/v3/register', { username: 'zoe', password: 'pw', auth: { type: 'm.login.registration_token', token: 'open sesame' } });
    assert.equal(right.status, 200, JSON.stringify(right.json));
    const token = right.json.access_token as string;
    // 6 a minute, 3 at once: the fourth login at once from this address is refused.
    const logins = [];
    for (let i = 0; i < 4; i++) logins.push(await raw(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'zoe', password: 'pw' }));
    const limited = logins.find((r) => r.status === 429);
    assert.ok(limited !== undefined, `statuses ${logins.map((r) => r.status).join()}`);
    assert.equal(limited.json.errcode, 'M_LIMIT_EXCEEDED');
    assert.ok(typeof limited.json.retry_after_ms === 'number' && limited.json.retry_after_ms > 0);
    const room = (await raw(base, 'POST', '/_matrix/client/v3/createRoom', {}, token)).json.room_id as string;
    const sends = [];
    for (let i = 0; i < 15; i++) sends.push(await raw(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/t${i}`, { body: String(i) }, token));
    const refused = sends.filter((r) => r.status === 429);
    assert.ok(refused.length > 0 && refused.every((r) => r.json.errcode === 'M_LIMIT_EXCEEDED' && (r.json.retry_after_ms as number) > 0));
  });
});
