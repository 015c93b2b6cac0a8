// /sync: what changed for a user since a token, room by room (joined, invited, left),
// with account data and typing and receipts; it waits (long-polls) up to `timeout`
// when nothing did. A room the user just joined, or the first sync, gets the room's
// state and the newest timeline events; a timeline cut short (`limited`) carries the
// state too and a `prev_batch` to page back from with /messages.

import type { Device } from './account-store.ts';
import { sharingUsers } from './api-keys.ts';
import { clientEvent, strippedState } from './client-events.ts';
import type { MatrixContext } from './context.ts';
import { invalidParam } from './errors.ts';
import type { RoomEvent } from './events.ts';
import { DEFAULT_SYNC_FILTER, eventMatches, roomMatches, type SyncFilter } from './filters.ts';
import type { RoomState } from './room-state.ts';
import { JsonText, type Reply, type Request } from './router.ts';
import type { StreamEntry } from './rooms.ts';
import { formatPosition, formatSyncToken, parseSyncToken, positionAfter, positionBefore, type SyncToken } from './tokens.ts';

const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMEOUT_MS = 60_000;

/** The filter, and its JSON text: answers made with the same filter text can share parts. */
interface GivenFilter {
  readonly filter: SyncFilter;
  readonly text: string;
}

function filterOf(ctx: MatrixContext, userId: string, text: string | null): GivenFilter {
  if (text === null) return { filter: DEFAULT_SYNC_FILTER, text: '' };
  if (text.startsWith('{')) return { filter: ctx.syncFilters.parse(text), text };
  const stored = ctx.accounts.filter(userId, text);
  if (stored === undefined) throw invalidParam(`no filter ${text} for ${userId}: create one with POST /user/{userId}/filter`);
  return { filter: ctx.syncFilters.parse(stored), text: stored };
}

/**
 * Whether nothing a /sync from `since` could show has happened: every change a user can
 * see takes a stream position (room events, account data, to-device messages, device
 * changes) or moves the ephemeral counter (typing, receipts). A client asking again right
 * after its answer is then put to wait without building an empty answer first.
 */
function nothingSince(ctx: MatrixContext, since: SyncToken): boolean {
  return since.stream >= ctx.accounts.lastPos() && !ctx.ephemeral.changedAfter(since.ephemeral);
}

export async function sync(ctx: MatrixContext, r: Request & { device: Device }): Promise<Reply> {
  const userId = r.device.userId;
  const sinceText = r.query.get('since');
  const since = sinceText === null ? undefined : parseSyncToken(sinceText);
  if (sinceText !== null && since === undefined) throw invalidParam('since is not a token this server gave');
  const filter = filterOf(ctx, userId, r.query.get('filter'));
  const timeoutText = r.query.get('timeout') ?? '0';
  if (!/^\d{1,10}$/.test(timeoutText)) throw invalidParam('timeout must be a whole number of milliseconds');
  const fullState = r.query.get('full_state') === 'true';
  const deadline = Date.now() + Math.min(Number(timeoutText), MAX_TIMEOUT_MS);
  for (;;) {
    const ended = deadline - Date.now() <= 0 || r.signal.aborted || ctx.stopping();
    if (since === undefined || fullState || ended || !nothingSince(ctx, since)) {
      const { response, empty } = buildSync(ctx, r.device, since, filter, fullState);
      if (!empty || since === undefined || ended) return response;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) continue;
    await ctx.notifier.wait(userId, ctx.rooms.joinedRooms(userId), remaining, r.signal);
  }
}

interface Built {
  readonly response: JsonText;
  readonly empty: boolean;
}

export function buildSync(ctx: MatrixContext, device: Device, since: SyncToken | undefined, given: GivenFilter, fullState: boolean): Built {
  const filter = given.filter;
  const { userId, deviceId } = device;
  const next: SyncToken = { stream: ctx.accounts.lastPos(), ephemeral: ctx.ephemeral.current() };
  const byRoom = new Map<string, StreamEntry[]>();
  if (since !== undefined) {
    for (const entry of ctx.rooms.since(since.stream)) {
      if (entry.pos > next.stream) break;
      let list = byRoom.get(entry.roomId);
      if (list === undefined) byRoom.set(entry.roomId, (list = []));
      list.push(entry);
    }
  }
  const accountData = since === undefined ? ctx.accounts.accountDataSince(userId, 0) : ctx.accounts.accountDataSince(userId, since.stream);
  const roomData = new Map<string, Array<Record<string, unknown>>>();
  const globalData: Array<Record<string, unknown>> = [];
  for (const entry of accountData) {
    if (entry.pos > next.stream) continue;
    const json = { type: entry.type, content: entry.content };
    if (entry.roomId === '') {
      if (eventMatches(filter.accountData, { type: entry.type, sender: userId })) globalData.push(json);
    } else {
      let list = roomData.get(entry.roomId);
      if (list === undefined) roomData.set(entry.roomId, (list = []));
      list.push(json);
    }
  }
  const join: Record<string, unknown> = {};
  const nextText = formatSyncToken(next);
  const sinceText = since === undefined ? '' : formatSyncToken(since);
  const invite: Record<string, unknown> = {};
  const leave: Record<string, unknown> = {};
  const now = ctx.now();
  for (const room of roomsToShow(ctx, since, fullState, byRoom, roomData)) {
    if (!roomMatches(filter.room, room.roomId)) continue;
    const membership = room.membership(userId);
    if (membership === undefined) continue;
    const entries = (byRoom.get(room.roomId) ?? []).filter((e) => room.accepted(e.event.event_id) !== undefined);
    const ownChange = entries.some((e) => e.event.type === 'm.room.member' && e.event.state_key === userId);
    if (membership === 'invite') {
      if (since === undefined || ownChange || fullState) {
        const own = room.stateEvent('m.room.member', userId)!;
        invite[room.roomId] = { invite_state: { events: [...strippedState(room), { type: own.type, state_key: own.state_key, content: own.content, sender: own.sender }] } };
      }
      continue;
    }
    if (membership === 'leave' || membership === 'ban') {
      if ((since !== undefined && ownChange) || (since === undefined && filter.room.includeLeave)) {
        const events = entries.map((e) => clientEvent(room, e.event, now));
        leave[room.roomId] = { timeline: { events, limited: false, prev_batch: prevBatch(room, entries[0]?.event) }, state: { events: [] }, account_data: { events: [] } };
      }
      continue;
    }
    const ephemeral = ephemeralEvents(ctx, room, since === undefined || ownChange ? 0 : since.ephemeral);
    const data = roomData.get(room.roomId) ?? [];
    const fresh = since === undefined || fullState || ownChange;
    if (!fresh && entries.length === 0 && ephemeral.length === 0 && data.length === 0) continue;
    const newEvents = fresh ? undefined : entries.map((e) => e.event);
    const membersChanged = fresh || entries.some((e) => e.event.type === 'm.room.member');
    const extras = { ephemeral, data, now, withSummary: membersChanged };
    const timelineLimit = filter.room.timeline.limit ?? DEFAULT_TIMELINE_LIMIT;
    // What only this user gets (the whole room, its own account data, a limited timeline's
    // lazy-loaded members, heroes without itself) is made for it; the rest is shared.
    const shared = newEvents !== undefined && !membersChanged && data.length === 0 && newEvents.length <= timelineLimit;
    join[room.roomId] = shared
      ? new JsonText(ctx.syncFragments.get(nextText, `${room.roomId}\u0000${sinceText}\u0000${given.text}`, () => joinedRoom(ctx, room, userId, newEvents, filter, extras)))
      : joinedRoom(ctx, room, userId, newEvents, filter, extras);
  }
  const joined = Object.entries(join)
    .map(([roomId, part]) => `${JSON.stringify(roomId)}:${part instanceof JsonText ? part.text : JSON.stringify(part)}`)
    .join(',');
  const toDevice = ctx.keys.toDevice(userId, deviceId, since?.stream ?? 0, next.stream).map(({ sender, type, content }) => ({ sender, type, content }));
  const changed = since === undefined ? [] : ctx.keys.changedSince(since.stream, () => sharingUsers(ctx, userId));
  const keyCounts = ctx.keys.oneTimeKeyCounts(userId, deviceId);
  const text =
    `{"next_batch":${JSON.stringify(nextText)},"rooms":{"join":{${joined}},"invite":${JSON.stringify(invite)},"leave":${JSON.stringify(leave)},"knock":{}},` +
    `"account_data":${JSON.stringify({ events: globalData })},"presence":{"events":[]},"to_device":${JSON.stringify({ events: toDevice })},` +
    `"device_lists":${JSON.stringify({ changed, left: [] })},"device_one_time_keys_count":${JSON.stringify(keyCounts)},` +
    `"device_unused_fallback_key_types":${JSON.stringify(ctx.keys.unusedFallbackAlgorithms(userId, deviceId))}}`;
  const empty =
    Object.keys(join).length === 0 && Object.keys(invite).length === 0 && Object.keys(leave).length === 0 && globalData.length === 0 && toDevice.length === 0 && changed.length === 0;
  return { response: new JsonText(text), empty };
}

/**
 * The rooms a /sync answer may hold: all of the node's for a first sync or full state
 * (the membership check then picks the user's), else only those where something changed
 * since the token: new events, the user's room account data, typing or receipts.
 */
function roomsToShow(ctx: MatrixContext, since: SyncToken | undefined, fullState: boolean, byRoom: ReadonlyMap<string, unknown>, roomData: ReadonlyMap<string, unknown>): Iterable<RoomState> {
  if (since === undefined || fullState) return ctx.rooms.rooms();
  const ids = new Set([...byRoom.keys(), ...roomData.keys(), ...ctx.ephemeral.changedRooms(since.ephemeral)]);
  const rooms: RoomState[] = [];
  for (const id of ids) {
    const room = ctx.rooms.room(id);
    if (room !== undefined) rooms.push(room);
  }
  return rooms;
}

function prevBatch(room: RoomState, first: RoomEvent | undefined): string {
  if (first !== undefined) return formatPosition(positionBefore(first));
  const last = room.events().at(-1);
  return last === undefined ? 's0_0' : formatPosition(positionAfter(last));
}

interface RoomExtras {
  readonly ephemeral: Array<Record<string, unknown>>;
  readonly data: Array<Record<string, unknown>>;
  readonly now: number;
  /** The member counts and heroes: on a room's first sync and when its members changed. */
  readonly withSummary: boolean;
}

/** A joined room's part: `newEvents` undefined for a room given whole (first sync, a new join). */
function joinedRoom(ctx: MatrixContext, room: RoomState, userId: string, newEvents: RoomEvent[] | undefined, filter: SyncFilter, extras: RoomExtras): Record<string, unknown> {
  const timelineFilter = filter.room.timeline;
  const limit = timelineFilter.limit ?? DEFAULT_TIMELINE_LIMIT;
  let timeline: RoomEvent[] = [];
  let limited = false;
  if (newEvents === undefined) {
    const all = room.events();
    let i = all.length - 1;
    for (; i >= 0 && timeline.length < limit; i--) if (eventMatches(timelineFilter, all[i]!)) timeline.push(all[i]!);
    timeline.reverse();
    limited = i >= 0;
  } else {
    const matching = newEvents.filter((e) => eventMatches(timelineFilter, e));
    limited = matching.length > limit;
    timeline = matching.slice(-limit);
  }
  let state: RoomEvent[] = [];
  if (newEvents === undefined || limited) {
    const inTimeline = new Set(timeline.map((e) => e.event_id));
    const senders = new Set([userId, ...timeline.map((e) => e.sender)]);
    state = [...room.state()].filter(
      (e) =>
        !inTimeline.has(e.event_id) &&
        eventMatches(filter.room.state, e) &&
        !(filter.room.lazyLoadMembers && e.type === 'm.room.member' && !senders.has(e.state_key!)),
    );
  }
  const part: Record<string, unknown> = {
    timeline: { events: timeline.map((e) => clientEvent(room, e, extras.now)), limited, prev_batch: prevBatch(room, timeline[0]) },
    state: { events: state.map((e) => clientEvent(room, e, extras.now)) },
    ephemeral: { events: extras.ephemeral },
    account_data: { events: extras.data },
    unread_notifications: { highlight_count: 0, notification_count: 0 },
  };
  if (extras.withSummary) {
    const joined = room.members('join');
    const heroes = joined.filter((u) => u !== userId).slice(0, 5);
    part.summary = { 'm.joined_member_count': joined.length, 'm.invited_member_count': room.members('invite').length, 'm.heroes': heroes };
  }
  return part;
}

function ephemeralEvents(ctx: MatrixContext, room: RoomState, since: number): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  const typing = ctx.ephemeral.typing(room.roomId);
  if (typing.changed > since) events.push({ type: 'm.typing', content: { user_ids: typing.users } });
  const receipts = ctx.ephemeral.receipts(room.roomId);
  if (receipts.changed > since && receipts.receipts.size > 0) {
    const content: Record<string, Record<string, Record<string, { ts: number }>>> = {};
    for (const [user, receipt] of receipts.receipts) {
      const read = ((content[receipt.eventId] ??= {})['m.read'] ??= {});
      read[user] = { ts: receipt.ts };
    }
    events.push({ type: 'm.receipt', content });
  }
  return events;
}
