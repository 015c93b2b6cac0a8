// What a client asks around the rooms: versions and capabilities, push rules, stored
// filters, account data and tags, aliases and the public room directory, /sync.

import type { Device } from './account-store.ts';
import { clientEvent } from './client-events.ts';
import type { MatrixContext } from './context.ts';
import { badJson, forbidden, MatrixError, notFound } from './errors.ts';
import { parseSyncFilter } from './filters.ts';
import { refuseUnlessJoined, roomFor } from './membership.ts';
import type { Endpoint, Reply, Request } from './router.ts';
import { sync } from './sync.ts';

type Authed = Request & { device: Device };

/** Only versions whose features this server has. */
export const SPEC_VERSIONS = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6'];

function ownUser(r: Authed): string {
  if (r.params[0] !== r.device.userId) throw forbidden('a user can only read and change their own data');
  return r.params[0]!;
}

const RULE_SET = {
  override: [
    { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] },
    { rule_id: '.m.rule.suppress_notices', default: true, enabled: true, conditions: [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }], actions: [] },
  ],
  content: [],
  room: [],
  sender: [],
  underride: [
    { rule_id: '.m.rule.message', default: true, enabled: true, conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }], actions: ['notify'] },
  ],
};

function roomSummary(ctx: MatrixContext, roomId: string): Record<string, unknown> | undefined {
  const room = ctx.rooms.room(roomId);
  if (room?.stateEvent('m.room.create') === undefined) return undefined;
  const text = (type: string, field: string): string | undefined => {
    const value = room.stateEvent(type)?.content[field];
    return typeof value === 'string' ? value : undefined;
  };
  return {
    room_id: roomId,
    name: text('m.room.name', 'name'),
    topic: text('m.room.topic', 'topic'),
    canonical_alias: text('m.room.canonical_alias', 'alias'),
    avatar_url: text('m.room.avatar', 'url'),
    num_joined_members: room.members('join').length,
    world_readable: false,
    guest_can_join: text('m.room.guest_access', 'guest_access') === 'can_join',
    join_rule: room.joinRule(),
    room_type: room.stateEvent('m.room.create')?.content.type,
  };
}

function publicRooms(ctx: MatrixContext, r: Request): Reply {
  const limitValue = r.body.limit ?? r.query.get('limit');
  const limit = limitValue === undefined || limitValue === null ? 100 : Math.max(1, Math.min(500, Number(limitValue) || 100));
  const sinceValue = r.body.since ?? r.query.get('since');
  const offset = typeof sinceValue === 'string' && /^\d{1,9}$/.test(sinceValue) ? Number(sinceValue) : 0;
  const term = (r.body.filter as { generic_search_term?: unknown } | undefined)?.generic_search_term;
  let rooms: Array<Record<string, unknown>> = [...new Set([...ctx.directory.publicRooms(), ...ctx.networkPublicRooms()])].sort().flatMap((id) => {
    // A room another node announced is followed, so that its state arrives to be shown and joined.
    if (ctx.rooms.room(id) === undefined) ctx.rooms.follow(id);
    const summary = roomSummary(ctx, id);
    return summary === undefined ? [] : [summary];
  });
  if (typeof term === 'string' && term !== '') {
    const needle = term.toLowerCase();
    rooms = rooms.filter((room) => [room.name, room.topic, room.canonical_alias].some((v) => typeof v === 'string' && v.toLowerCase().includes(needle)));
  }
  const chunk = rooms.slice(offset, offset + limit);
  const json: Record<string, unknown> = { chunk, total_room_count_estimate: rooms.length };
  if (offset + limit < rooms.length) json.next_batch = String(offset + limit);
  if (offset > 0) json.prev_batch = String(Math.max(0, offset - limit));
  return json;
}

export function miscEndpoints(ctx: MatrixContext): Endpoint[] {
  const server = ctx.settings.serverName;
  return [
    { method: 'GET', path: 'sync', auth: 'required', handle: (r) => sync(ctx, r) },
    {
      method: 'GET',
      path: 'capabilities',
      auth: 'required',
      handle: () => ({
        capabilities: {
          'm.change_password': { enabled: false },
          'm.room_versions': { default: '10', available: { '10': 'stable' } },
          'm.set_displayname': { enabled: true },
          'm.set_avatar_url': { enabled: true },
          'm.3pid_changes': { enabled: false },
        },
      }),
    },
    { method: 'GET', path: 'pushrules', auth: 'required', handle: () => ({ global: RULE_SET }) },
    { method: 'GET', path: 'pushrules/global', auth: 'required', handle: () => RULE_SET },
    { method: 'GET', path: 'pushers', auth: 'required', handle: () => ({ pushers: [] }) },
    { method: 'GET', path: 'voip/turnServer', auth: 'required', handle: () => ({}) },
    { method: 'GET', path: 'thirdparty/protocols', auth: 'required', handle: () => ({}) },
    {
      method: 'POST',
      path: 'user/{userId}/filter',
      auth: 'required',
      handle: (r) => {
        const userId = ownUser(r);
        parseSyncFilter(r.body);
        return { filter_id: ctx.accounts.addFilter(userId, JSON.stringify(r.body)) };
      },
    },
    {
      method: 'GET',
      path: 'user/{userId}/filter/{filterId}',
      auth: 'required',
      handle: (r) => {
        const json = ctx.accounts.filter(ownUser(r), r.params[1]!);
        if (json === undefined) throw notFound(`no filter ${r.params[1]}`);
        return JSON.parse(json) as Record<string, unknown>;
      },
    },
    ...accountDataEndpoints(ctx),
    {
      method: 'GET',
      path: 'directory/room/{alias}',
      auth: 'none',
      handle: (r) => {
        const record = ctx.directory.alias(r.params[0]!);
        if (record === undefined) throw notFound(`no room has the alias ${r.params[0]}`);
        return { room_id: record.roomId, servers: record.servers.length > 0 ? record.servers : [server] };
      },
    },
    {
      method: 'PUT',
      path: 'directory/room/{alias}',
      auth: 'required',
      handle: async (r) => {
        const alias = r.params[0]!;
        if (!/^#[^:]+:.+$/.test(alias)) throw new MatrixError(400, 'M_INVALID_PARAM', 'an alias is #name:server');
        if (!alias.endsWith(`:${server}`)) throw new MatrixError(400, 'M_INVALID_PARAM', `aliases made here end in :${server}`);
        if (typeof r.body.room_id !== 'string') throw badJson('give room_id');
        if (ctx.directory.alias(alias) !== undefined) throw new MatrixError(409, 'M_UNKNOWN', `the alias ${alias} is taken`);
        const room = roomFor(ctx, r.body.room_id);
        if (room.membership(r.device.userId) !== 'join') throw forbidden('only a member of the room can give it an alias');
        await ctx.directory.setAlias({ alias, roomId: room.roomId, creator: r.device.userId, servers: [server] });
        return {};
      },
    },
    {
      method: 'DELETE',
      path: 'directory/room/{alias}',
      auth: 'required',
      handle: async (r) => {
        const record = ctx.directory.alias(r.params[0]!);
        if (record === undefined) throw notFound(`no room has the alias ${r.params[0]}`);
        // Other nodes take an alias only from the node that speaks for its server.
        if (!record.alias.endsWith(`:${server}`)) throw new MatrixError(400, 'M_INVALID_PARAM', `only aliases ending in :${server} can be deleted here; ask the alias's own server`);
        const room = ctx.rooms.room(record.roomId!);
        const admin = room !== undefined && room.powerLevel(r.device.userId) >= room.requiredLevel({ type: 'm.room.canonical_alias', state: true });
        if (record.creator !== r.device.userId && !admin) throw forbidden('only who made the alias, or a room admin, can delete it');
        await ctx.directory.setAlias({ ...record, roomId: null, creator: r.device.userId });
        return {};
      },
    },
    {
      method: 'GET',
      path: 'rooms/{roomId}/aliases',
      auth: 'required',
      handle: (r) => {
        const room = roomFor(ctx, r.params[0]!);
        refuseUnlessJoined(room, r.device.userId);
        return { aliases: ctx.directory.aliasesOf(room.roomId) };
      },
    },
    { method: 'GET', path: 'publicRooms', auth: 'optional', handle: (r) => publicRooms(ctx, r) },
    { method: 'POST', path: 'publicRooms', auth: 'optional', handle: (r) => publicRooms(ctx, r) },
    {
      method: 'GET',
      path: 'directory/list/room/{roomId}',
      auth: 'none',
      handle: (r) => {
        roomFor(ctx, r.params[0]!);
        return { visibility: ctx.directory.isPublic(r.params[0]!) ? 'public' : 'private' };
      },
    },
    {
      method: 'PUT',
      path: 'directory/list/room/{roomId}',
      auth: 'required',
      handle: async (r) => {
        const room = roomFor(ctx, r.params[0]!);
        const visibility = r.body.visibility;
        if (visibility !== 'public' && visibility !== 'private') throw badJson('visibility must be public or private');
        if (room.powerLevel(r.device.userId) < room.requiredLevel({ type: 'm.room.canonical_alias', state: true })) {
          throw forbidden('listing a room needs the power level to change its aliases');
        }
        await ctx.directory.setVisibility(r.device.userId, room.roomId, visibility === 'public');
        return {};
      },
    },
    {
      method: 'GET',
      path: 'rooms/{roomId}/initialSync',
      auth: 'required',
      handle: (r) => {
        const room = roomFor(ctx, r.params[0]!);
        const now = ctx.now();
        return { room_id: room.roomId, membership: room.membership(r.device.userId), state: [...room.state()].map((e) => clientEvent(room, e, now)) };
      },
    },
  ];
}

function accountDataEndpoints(ctx: MatrixContext): Endpoint[] {
  const get = (r: Authed, roomId: string, type: string): Reply => {
    const content = ctx.accounts.accountData(ownUser(r), roomId, type);
    if (content === undefined) throw notFound(`no account data of type ${type}`);
    return content;
  };
  const put = (r: Authed, roomId: string, type: string, content: Record<string, unknown>): Reply => {
    ctx.accounts.setAccountData(ownUser(r), roomId, type, content);
    ctx.notifier.wake([r.device.userId]);
    return {};
  };
  const tags = (r: Authed): Record<string, unknown> => {
    const stored = ctx.accounts.accountData(ownUser(r), r.params[1]!, 'm.tag');
    return (stored?.tags as Record<string, unknown> | undefined) ?? {};
  };
  return [
    { method: 'GET', path: 'user/{userId}/account_data/{type}', auth: 'required', handle: (r) => get(r, '', r.params[1]!) },
    { method: 'PUT', path: 'user/{userId}/account_data/{type}', auth: 'required', handle: (r) => put(r, '', r.params[1]!, r.body) },
    { method: 'GET', path: 'user/{userId}/rooms/{roomId}/account_data/{type}', auth: 'required', handle: (r) => get(r, r.params[1]!, r.params[2]!) },
    { method: 'PUT', path: 'user/{userId}/rooms/{roomId}/account_data/{type}', auth: 'required', handle: (r) => put(r, r.params[1]!, r.params[2]!, r.body) },
    { method: 'GET', path: 'user/{userId}/rooms/{roomId}/tags', auth: 'required', handle: (r) => ({ tags: tags(r) }) },
    {
      method: 'PUT',
      path: 'user/{userId}/rooms/{roomId}/tags/{tag}',
      auth: 'required',
      handle: (r) => put(r, r.params[1]!, 'm.tag', { tags: { ...tags(r), [r.params[2]!]: r.body } }),
    },
    {
      method: 'DELETE',
      path: 'user/{userId}/rooms/{roomId}/tags/{tag}',
      auth: 'required',
      handle: (r) => {
        const { [r.params[2]!]: _removed, ...rest } = tags(r);
        return put(r, r.params[1]!, 'm.tag', { tags: rest });
      },
    },
  ];
}
