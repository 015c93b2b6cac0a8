// Sync and /messages filters (stored with POST /user/{id}/filter, or given inline):
// which rooms, which event types and senders, how many timeline events, and whether
// member events may be loaded lazily. Validated once here into a typed value. Pure.

import { badJson } from './errors.ts';
import type { RoomEvent } from './events.ts';

export interface EventFilter {
  readonly limit: number | undefined;
  readonly types: readonly string[] | undefined;
  readonly notTypes: readonly string[];
  readonly senders: readonly string[] | undefined;
  readonly notSenders: readonly string[];
}

export interface RoomFilter {
  readonly rooms: readonly string[] | undefined;
  readonly notRooms: readonly string[];
  readonly timeline: EventFilter;
  readonly state: EventFilter;
  readonly ephemeral: EventFilter;
  readonly accountData: EventFilter;
  readonly lazyLoadMembers: boolean;
  readonly includeLeave: boolean;
}

export interface SyncFilter {
  readonly room: RoomFilter;
  readonly accountData: EventFilter;
  readonly presence: EventFilter;
}

const EMPTY: EventFilter = { limit: undefined, types: undefined, notTypes: [], senders: undefined, notSenders: [] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw badJson(`filter: ${field} must be a list of strings`);
  return value;
}

export function parseEventFilter(value: unknown, field: string): EventFilter {
  if (value === undefined) return EMPTY;
  if (!isObject(value)) throw badJson(`filter: ${field} must be an object`);
  const limit = value.limit;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) throw badJson(`filter: ${field}.limit must be a whole number >= 0`);
  return {
    limit,
    types: strings(value.types, `${field}.types`),
    notTypes: strings(value.not_types, `${field}.not_types`) ?? [],
    senders: strings(value.senders, `${field}.senders`),
    notSenders: strings(value.not_senders, `${field}.not_senders`) ?? [],
  };
}

/** A filter from its JSON (a stored one, a request body or `?filter=`); throws M_BAD_JSON for a bad one. */
export function parseSyncFilter(value: unknown): SyncFilter {
  if (!isObject(value)) throw badJson('a filter must be a JSON object');
  const room = value.room === undefined ? {} : value.room;
  if (!isObject(room)) throw badJson('filter: room must be an object');
  const state = isObject(room.state) ? room.state : {};
  const timeline = isObject(room.timeline) ? room.timeline : {};
  return {
    room: {
      rooms: strings(room.rooms, 'room.rooms'),
      notRooms: strings(room.not_rooms, 'room.not_rooms') ?? [],
      timeline: parseEventFilter(room.timeline, 'room.timeline'),
      state: parseEventFilter(room.state, 'room.state'),
      ephemeral: parseEventFilter(room.ephemeral, 'room.ephemeral'),
      accountData: parseEventFilter(room.account_data, 'room.account_data'),
      lazyLoadMembers: state.lazy_load_members === true || timeline.lazy_load_members === true,
      includeLeave: room.include_leave === true,
    },
    accountData: parseEventFilter(value.account_data, 'account_data'),
    presence: parseEventFilter(value.presence, 'presence'),
  };
}

export const DEFAULT_SYNC_FILTER: SyncFilter = parseSyncFilter({});

/** `*` stands for a run of characters of every length, the empty one too, as in the spec's type filters. */
function matchesPattern(value: string, pattern: string): boolean {
  if (!pattern.includes('*')) return value === pattern;
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(value);
}

export function eventMatches(filter: EventFilter, event: Pick<RoomEvent, 'type' | 'sender'>): boolean {
  if (filter.notTypes.some((p) => matchesPattern(event.type, p))) return false;
  if (filter.types !== undefined && !filter.types.some((p) => matchesPattern(event.type, p))) return false;
  if (filter.notSenders.includes(event.sender)) return false;
  if (filter.senders !== undefined && !filter.senders.includes(event.sender)) return false;
  return true;
}

export function roomMatches(filter: RoomFilter, roomId: string): boolean {
  if (filter.notRooms.includes(roomId)) return false;
  return filter.rooms === undefined || filter.rooms.includes(roomId);
}

/** Filters parsed from their JSON text, kept: a client's long-polls give the same filter again and again. */
export class ParsedFilters {
  readonly #parsed = new Map<string, SyncFilter>();

  /** The filter of a JSON text; throws M_BAD_JSON for text that is not a filter. */
  parse(text: string): SyncFilter {
    let filter = this.#parsed.get(text);
    if (filter !== undefined) return filter;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw badJson('the filter parameter is not JSON');
    }
    filter = parseSyncFilter(json);
    if (this.#parsed.size >= 1000) this.#parsed.clear();
    this.#parsed.set(text, filter);
    return filter;
  }
}
