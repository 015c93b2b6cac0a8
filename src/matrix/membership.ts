// Room actions several endpoints share: creating a room, changing a membership (with the
// profile a join carries), and telling a remote user's server about an invite.

import { randomBytes } from 'node:crypto';
import type { MatrixContext } from './context.ts';
import { badJson, forbidden, MatrixError, notFound } from './errors.ts';
import { parseUserId, type JsonObject, type RoomEvent } from './events.ts';
import type { Membership, RoomState } from './room-state.ts';

export function newRoomId(serverName: string): string {
  return `!${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}:${serverName}`;
}

export function memberContent(ctx: MatrixContext, userId: string, membership: Membership, extra: JsonObject = {}): JsonObject {
  const content: JsonObject = { membership, ...extra };
  if (membership === 'join') {
    const profile = ctx.accounts.profile(userId);
    if (profile?.displayname) content.displayname = profile.displayname;
    if (profile?.avatar_url) content.avatar_url = profile.avatar_url;
  }
  return content;
}

export async function setMembership(ctx: MatrixContext, sender: string, roomId: string, target: string, membership: Membership, extra: JsonObject = {}): Promise<RoomEvent> {
  if (parseUserId(target) === undefined) throw badJson(`${target} is not a user id (@name:server)`);
  const event = await ctx.rooms.send({ type: 'm.room.member', room_id: roomId, sender, state_key: target, content: memberContent(ctx, target, membership, extra) });
  if (membership === 'invite') await ctx.rooms.announce(sender, target, roomId);
  return event;
}

export function roomFor(ctx: MatrixContext, roomId: string): RoomState {
  const room = ctx.rooms.room(roomId);
  if (room === undefined || room.stateEvent('m.room.create') === undefined) throw notFound(`no room ${roomId} known here`);
  return room;
}

/** The room, for a user who may read it: one who is or was in it. */
export function readableRoom(ctx: MatrixContext, roomId: string, userId: string): RoomState {
  const room = ctx.rooms.room(roomId);
  const membership = room?.membership(userId);
  if (room === undefined || membership === undefined || membership === 'invite') throw forbidden(`${userId} is not in the room ${roomId}`);
  return room;
}

/** Resolves a room id or `#alias:server` to a room id. */
export function resolveRoom(ctx: MatrixContext, idOrAlias: string): string {
  if (idOrAlias.startsWith('!')) return idOrAlias;
  if (idOrAlias.startsWith('#')) {
    const record = ctx.directory.alias(idOrAlias);
    if (record?.roomId == null) throw notFound(`no room has the alias ${idOrAlias}`);
    return record.roomId;
  }
  throw new MatrixError(400, 'M_INVALID_PARAM', `${idOrAlias} is neither a room id (!id:server) nor an alias (#name:server)`);
}

export async function joinRoom(ctx: MatrixContext, userId: string, roomId: string): Promise<string> {
  let room = ctx.rooms.room(roomId);
  if (room?.stateEvent('m.room.create') === undefined) room = await ctx.rooms.followAndCatchUp(roomId);
  if (room.stateEvent('m.room.create') === undefined) throw notFound(`no room ${roomId} reached this server: check the id, or invite this user`);
  if (room.membership(userId) === 'join') return roomId;
  await setMembership(ctx, userId, roomId, userId, 'join');
  return roomId;
}

export interface CreateRoomRequest {
  readonly creator: string;
  readonly body: Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badJson(`${field} must be a string`);
  return value;
}

function objectField(body: Record<string, unknown>, field: string): JsonObject | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badJson(`${field} must be an object`);
  return value as JsonObject;
}

export async function createRoom(ctx: MatrixContext, { creator, body }: CreateRoomRequest): Promise<string> {
  const server = ctx.settings.serverName;
  const visibility = stringField(body, 'visibility') ?? 'private';
  const preset = stringField(body, 'preset') ?? (visibility === 'public' ? 'public_chat' : 'private_chat');
  if (!['public_chat', 'private_chat', 'trusted_private_chat'].includes(preset)) throw badJson(`preset must be public_chat, private_chat or trusted_private_chat`);
  const invites = body.invite ?? [];
  if (!Array.isArray(invites) || !invites.every((u): u is string => typeof u === 'string' && parseUserId(u) !== undefined)) throw badJson('invite must be a list of user ids');
  const aliasName = stringField(body, 'room_alias_name');
  const alias = aliasName === undefined ? undefined : `#${aliasName}:${server}`;
  if (alias !== undefined && ctx.directory.alias(alias) !== undefined) throw new MatrixError(400, 'M_ROOM_IN_USE', `the alias ${alias} is taken`);
  const initialState = body.initial_state ?? [];
  if (!Array.isArray(initialState)) throw badJson('initial_state must be a list of state events');
  const isDirect = body.is_direct === true;
  const roomId = newRoomId(server);
  const send = (type: string, content: JsonObject, stateKey = '') => ctx.rooms.send({ type, room_id: roomId, sender: creator, state_key: stateKey, content });

  await send('m.room.create', { creator, room_version: '10', ...objectField(body, 'creation_content') });
  await setMembership(ctx, creator, roomId, creator, 'join');
  const trusted = preset === 'trusted_private_chat';
  const users: JsonObject = { [creator]: 100 };
  if (trusted) for (const user of invites) users[user] = 100;
  await send('m.room.power_levels', {
    users,
    users_default: 0,
    events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.canonical_alias': 50, 'm.room.avatar': 50, 'm.room.tombstone': 100, 'm.room.server_acl': 100, 'm.room.encryption': 100 },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    ...objectField(body, 'power_level_content_override'),
  });
  await send('m.room.join_rules', { join_rule: preset === 'public_chat' ? 'public' : 'invite' });
  await send('m.room.history_visibility', { history_visibility: 'shared' });
  if (preset !== 'public_chat') await send('m.room.guest_access', { guest_access: 'can_join' });
  if (alias !== undefined) await send('m.room.canonical_alias', { alias });
  for (const state of initialState) {
    if (typeof state !== 'object' || state === null || typeof state.type !== 'string' || typeof state.content !== 'object') throw badJson('each initial_state entry needs type and content');
    await send(state.type, state.content as JsonObject, typeof state.state_key === 'string' ? state.state_key : '');
  }
  const name = stringField(body, 'name');
  if (name !== undefined) await send('m.room.name', { name });
  const topic = stringField(body, 'topic');
  if (topic !== undefined) await send('m.room.topic', { topic });
  for (const user of invites) await setMembership(ctx, creator, roomId, user, 'invite', isDirect ? { is_direct: true } : {});
  if (alias !== undefined) await ctx.directory.setAlias({ alias, roomId, creator, servers: [server] });
  if (visibility === 'public') await ctx.directory.setVisibility(creator, roomId, true);
  return roomId;
}

export function refuseUnlessJoined(room: RoomState, userId: string): void {
  if (room.membership(userId) !== 'join') throw forbidden(`${userId} is not in the room ${room.roomId}`);
}
