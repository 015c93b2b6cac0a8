// Rooms: create, membership (invite, join, leave, kick, ban, unban, forget), sending
// events with txnId idempotence, state, redactions, members, single events, context,
// /messages in both directions, typing and receipts.

import { clientEvent } from './client-events.ts';
import { MAX_EVENT_BYTES, type MatrixContext } from './context.ts';
import { badJson, forbidden, invalidParam, missingParam, notFound, tooLarge } from './errors.ts';
import { canonicalJson, type JsonObject, type RoomEvent } from './events.ts';
import { DEFAULT_SYNC_FILTER, eventMatches, parseEventFilter, type EventFilter } from './filters.ts';
import { createRoom, joinRoom, readableRoom, refuseUnlessJoined, resolveRoom, roomFor, setMembership } from './membership.ts';
import type { RoomState } from './room-state.ts';
import type { Endpoint, Reply, Request } from './router.ts';
import { formatPosition, isBefore, parsePosition, positionAfter, positionBefore, type RoomPosition } from './tokens.ts';
import type { Device } from './account-store.ts';

type Authed = Request & { device: Device };

function userField(body: Record<string, unknown>): string {
  const user = body.user_id;
  if (typeof user !== 'string') throw missingParam('give user_id');
  return user;
}

function reasonOf(body: Record<string, unknown>): JsonObject {
  return typeof body.reason === 'string' ? { reason: body.reason } : {};
}

/** Sends an event once per (device, txnId): a retry gets the first event's id. */
function sender(ctx: MatrixContext): (r: Authed, type: string, content: JsonObject, stateKey?: string) => Promise<RoomEvent | string> {
  const inFlight = new Map<string, Promise<RoomEvent>>();
  return async (r, type, content, stateKey) => {
    const roomId = r.params[0]!;
    const txnId = stateKey === undefined ? r.params.at(-1)! : undefined;
    const { userId, deviceId } = r.device;
    if (txnId !== undefined) {
      const sent = ctx.accounts.sentEvent(userId, deviceId, txnId);
      if (sent !== undefined) return sent;
      const pending = inFlight.get(`${userId} ${deviceId} ${txnId}`);
      if (pending !== undefined) return pending;
    }
    const draft = { type, room_id: roomId, sender: userId, content, ...(stateKey === undefined ? {} : { state_key: stateKey }) };
    if (Buffer.byteLength(canonicalJson(draft as unknown as JsonObject)) + 200 > MAX_EVENT_BYTES) throw tooLarge(MAX_EVENT_BYTES);
    ctx.sendLimit.take(userId);
    roomFor(ctx, roomId);
    const sending = ctx.rooms.send(draft);
    const key = `${userId} ${deviceId} ${txnId}`;
    if (txnId !== undefined) inFlight.set(key, sending);
    try {
      const event = await sending;
      if (txnId !== undefined) ctx.accounts.rememberSent(userId, deviceId, txnId, event.event_id);
      return event;
    } finally {
      inFlight.delete(key);
    }
  };
}

const idOf = (event: RoomEvent | string): string => (typeof event === 'string' ? event : event.event_id);

function roomFilter(r: Request): EventFilter & { lazy: boolean } {
  const text = r.query.get('filter');
  if (text === null) return { ...DEFAULT_SYNC_FILTER.room.timeline, lazy: false };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badJson('filter is not JSON');
  }
  const filter = parseEventFilter(json, 'filter');
  return { ...filter, lazy: (json as { lazy_load_members?: unknown }).lazy_load_members === true };
}

function limitOf(r: Request, fallback: number, max: number): number {
  const text = r.query.get('limit');
  if (text === null) return fallback;
  if (!/^\d{1,6}$/.test(text)) throw invalidParam('limit must be a whole number');
  return Math.min(max, Math.max(1, Number(text)));
}

function positionOf(text: string | null, name: string): RoomPosition | undefined {
  if (text === null || text.startsWith('s')) return undefined;
  const position = parsePosition(text);
  if (position === undefined) throw invalidParam(`${name} is not a token this server gave`);
  return position;
}

/** /messages: a page of the room's order from a position, backwards or forwards. */
export function messagesPage(ctx: MatrixContext, room: RoomState, r: Request): Reply {
  const dir = r.query.get('dir') ?? 'b';
  if (dir !== 'b' && dir !== 'f') throw invalidParam('dir must be b or f');
  const limit = limitOf(r, 10, 1000);
  const filter = roomFilter(r);
  const from = positionOf(r.query.get('from'), 'from');
  const to = positionOf(r.query.get('to'), 'to');
  const events = room.events();
  const now = ctx.now();
  const chunk: RoomEvent[] = [];
  let end: string | undefined;
  if (dir === 'b') {
    let i = events.length - 1;
    if (from !== undefined) while (i >= 0 && !isBefore(events[i]!, from)) i--;
    for (; i >= 0 && chunk.length < limit; i--) {
      const event = events[i]!;
      if (to !== undefined && isBefore(event, to)) break;
      if (eventMatches(filter, event)) chunk.push(event);
      end = formatPosition(positionBefore(event));
    }
    if (i < 0 || (to !== undefined && i >= 0 && isBefore(events[i]!, to))) end = undefined;
  } else {
    let i = 0;
    if (from !== undefined) while (i < events.length && isBefore(events[i]!, from)) i++;
    for (; i < events.length && chunk.length < limit; i++) {
      const event = events[i]!;
      if (to !== undefined && !isBefore(event, to)) break;
      if (eventMatches(filter, event)) chunk.push(event);
      end = formatPosition(positionAfter(event));
    }
    // Forwards, the end is where new events will come: a client may page on from it.
    if (end === undefined && from !== undefined) end = formatPosition(from);
  }
  const start = r.query.get('from') ?? (dir === 'b' ? (events.length > 0 ? formatPosition(positionAfter(events.at(-1)!)) : 's0_0') : 's0_0');
  const json: Record<string, unknown> = { chunk: chunk.map((e) => clientEvent(room, e, now)), start };
  if (end !== undefined) json.end = end;
  if (filter.lazy) {
    const senders = new Set(chunk.map((e) => e.sender));
    json.state = [...senders].flatMap((user) => {
      const member = room.stateEvent('m.room.member', user);
      return member === undefined ? [] : [clientEvent(room, member, now)];
    });
  }
  return json;
}

function stateKeyParam(r: Request): string {
  return r.params[2] ?? '';
}

export function roomEndpoints(ctx: MatrixContext): Endpoint[] {
  const send = sender(ctx);
  const membershipAction = (path: string, membership: 'invite' | 'leave' | 'ban', own: boolean): Endpoint => ({
    method: 'POST',
    path,
    auth: 'required',
    handle: async (r) => {
      const roomId = r.params[0]!;
      const target = own ? r.device.userId : userField(r.body);
      roomFor(ctx, roomId);
      await setMembership(ctx, r.device.userId, roomId, target, membership, reasonOf(r.body));
      return {};
    },
  });
  const stateGet = (r: Authed): Reply => {
    const room = readableRoom(ctx, r.params[0]!, r.device.userId);
    const event = room.stateEvent(r.params[1]!, stateKeyParam(r));
    if (event === undefined) throw notFound(`the room has no ${r.params[1]} state with key ${JSON.stringify(stateKeyParam(r))}`);
    return event.content;
  };
  const statePut = async (r: Authed): Promise<Reply> => {
    const event = await send(r, r.params[1]!, r.body as JsonObject, stateKeyParam(r));
    return { event_id: idOf(event) };
  };
  return [
    { method: 'POST', path: 'createRoom', auth: 'required', handle: async (r) => ({ room_id: await createRoom(ctx, { creator: r.device.userId, body: r.body }) }) },
    membershipAction('rooms/{roomId}/invite', 'invite', false),
    membershipAction('rooms/{roomId}/leave', 'leave', true),
    membershipAction('rooms/{roomId}/kick', 'leave', false),
    membershipAction('rooms/{roomId}/ban', 'ban', false),
    membershipAction('rooms/{roomId}/unban', 'leave', false),
    { method: 'POST', path: 'rooms/{roomId}/forget', auth: 'required', handle: () => ({}) },
    { method: 'POST', path: 'rooms/{roomId}/join', auth: 'required', handle: async (r) => ({ room_id: await joinRoom(ctx, r.device.userId, r.params[0]!) }) },
    { method: 'POST', path: 'join/{roomIdOrAlias}', auth: 'required', handle: async (r) => ({ room_id: await joinRoom(ctx, r.device.userId, resolveRoom(ctx, r.params[0]!)) }) },
    {
      method: 'PUT',
      path: 'rooms/{roomId}/send/{type}/{txnId}',
      auth: 'required',
      handle: async (r) => ({ event_id: idOf(await send(r, r.params[1]!, r.body as JsonObject)) }),
    },
    { method: 'GET', path: 'rooms/{roomId}/state/{type}', auth: 'required', handle: stateGet },
    { method: 'GET', path: 'rooms/{roomId}/state/{type}/{stateKey}', auth: 'required', handle: stateGet },
    { method: 'PUT', path: 'rooms/{roomId}/state/{type}', auth: 'required', handle: statePut },
    { method: 'PUT', path: 'rooms/{roomId}/state/{type}/{stateKey}', auth: 'required', handle: statePut },
    {
      method: 'GET',
      path: 'rooms/{roomId}/state',
      auth: 'required',
      handle: (r) => {
        const room = readableRoom(ctx, r.params[0]!, r.device.userId);
        const now = ctx.now();
        return { status: 200, json: [...room.state()].map((e) => clientEvent(room, e, now)) as unknown as Record<string, unknown> };
      },
    },
    {
      method: 'PUT',
      path: 'rooms/{roomId}/redact/{eventId}/{txnId}',
      auth: 'required',
      handle: async (r) => {
        const room = readableRoom(ctx, r.params[0]!, r.device.userId);
        if (room.accepted(r.params[1]!) === undefined) throw notFound(`no event ${r.params[1]} in the room`);
        const content: JsonObject = { redacts: r.params[1]!, ...reasonOf(r.body) };
        return { event_id: idOf(await send(r, 'm.room.redaction', content)) };
      },
    },
    {
      method: 'GET',
      path: 'rooms/{roomId}/members',
      auth: 'required',
      handle: (r) => {
        const room = readableRoom(ctx, r.params[0]!, r.device.userId);
        const only = r.query.get('membership');
        const not = r.query.get('not_membership');
        const now = ctx.now();
        const chunk = [...room.state()]
          .filter((e) => e.type === 'm.room.member')
          .filter((e) => (only === null || e.content.membership === only) && (not === null || e.content.membership !== not))
          .map((e) => clientEvent(room, e, now));
        return { chunk };
      },
    },
    {
      method: 'GET',
      path: 'rooms/{roomId}/joined_members',
      auth: 'required',
      handle: (r) => {
        const room = readableRoom(ctx, r.params[0]!, r.device.userId);
        const joined: Record<string, unknown> = {};
        for (const user of room.members('join')) {
          const content = room.stateEvent('m.room.member', user)!.content;
          joined[user] = { display_name: content.displayname ?? null, avatar_url: content.avatar_url ?? null };
        }
        return { joined };
      },
    },
    {
      method: 'GET',
      path: 'joined_rooms',
      auth: 'required',
      handle: (r) => ({ joined_rooms: [...ctx.rooms.rooms()].filter((room) => room.membership(r.device.userId) === 'join').map((room) => room.roomId) }),
    },
    {
      method: 'GET',
      path: 'rooms/{roomId}/event/{eventId}',
      auth: 'required',
      handle: (r) => {
        const room = readableRoom(ctx, r.params[0]!, r.device.userId);
        const event = room.accepted(r.params[1]!);
        if (event === undefined) throw notFound(`no event ${r.params[1]} in the room`);
        return clientEvent(room, event, ctx.now());
      },
    },
    {
      method: 'GET',
      path: 'rooms/{roomId}/context/{eventId}',
      auth: 'required',
      handle: (r) => {
        const room = readableRoom(ctx, r.params[0]!, r.device.userId);
        const events = room.events();
        const at = events.findIndex((e) => e.event_id === r.params[1]);
        if (at < 0) throw notFound(`no event ${r.params[1]} in the room`);
        const limit = limitOf(r, 10, 100);
        const before = Math.floor(limit / 2);
        const now = ctx.now();
        const first = Math.max(0, at - before);
        const last = Math.min(events.length, at + 1 + (limit - before));
        return {
          event: clientEvent(room, events[at]!, now),
          events_before: events.slice(first, at).reverse().map((e) => clientEvent(room, e, now)),
          events_after: events.slice(at + 1, last).map((e) => clientEvent(room, e, now)),
          start: formatPosition(positionBefore(events[first]!)),
          end: formatPosition(positionAfter(events[last - 1]!)),
          state: [...room.state()].map((e) => clientEvent(room, e, now)),
        };
      },
    },
    { method: 'GET', path: 'rooms/{roomId}/messages', auth: 'required', handle: (r) => messagesPage(ctx, readableRoom(ctx, r.params[0]!, r.device.userId), r) },
    {
      method: 'PUT',
      path: 'rooms/{roomId}/typing/{userId}',
      auth: 'required',
      handle: (r) => {
        if (r.params[1] !== r.device.userId) throw forbidden('a user can only say whether they themselves are typing');
        const room = roomFor(ctx, r.params[0]!);
        refuseUnlessJoined(room, r.device.userId);
        if (typeof r.body.typing !== 'boolean') throw missingParam('give typing: true or false');
        const timeout = typeof r.body.timeout === 'number' ? Math.min(r.body.timeout, 120_000) : 30_000;
        ctx.ephemeral.setTyping(room.roomId, r.device.userId, r.body.typing, timeout);
        ctx.notifier.wakeRoom(room.roomId);
        return {};
      },
    },
    {
      method: 'POST',
      path: 'rooms/{roomId}/receipt/{type}/{eventId}',
      auth: 'required',
      handle: (r) => {
        const room = roomFor(ctx, r.params[0]!);
        refuseUnlessJoined(room, r.device.userId);
        if (!['m.read', 'm.read.private', 'm.fully_read'].includes(r.params[1]!)) throw invalidParam('receipt type must be m.read, m.read.private or m.fully_read');
        if (r.params[1] === 'm.read') {
          ctx.ephemeral.setReceipt(room.roomId, r.device.userId, { eventId: r.params[2]!, ts: ctx.now() });
          ctx.notifier.wakeRoom(room.roomId);
        } else if (r.params[1] === 'm.fully_read') {
          ctx.accounts.setAccountData(r.device.userId, room.roomId, 'm.fully_read', { event_id: r.params[2]! });
          ctx.notifier.wake([r.device.userId]);
        }
        return {};
      },
    },
    {
      method: 'POST',
      path: 'rooms/{roomId}/read_markers',
      auth: 'required',
      handle: (r) => {
        const room = roomFor(ctx, r.params[0]!);
        refuseUnlessJoined(room, r.device.userId);
        const read = r.body['m.read'];
        const fully = r.body['m.fully_read'];
        if (typeof read === 'string') ctx.ephemeral.setReceipt(room.roomId, r.device.userId, { eventId: read, ts: ctx.now() });
        if (typeof fully === 'string') ctx.accounts.setAccountData(r.device.userId, room.roomId, 'm.fully_read', { event_id: fully });
        ctx.notifier.wakeRoom(room.roomId);
        return {};
      },
    },
  ];
}
