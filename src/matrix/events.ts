// Matrix events as parley stores them: one event is one message in its room's channel,
// its payload the event's canonical JSON (keys sorted, no spaces, UTF-8) without
// `event_id` and `unsigned`. The event id is the SHA-256 of those bytes, so every node
// derives the same id from the same message and a replica stored twice is one event.

import { createHash } from 'node:crypto';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What a room event holds in the store (and on every node that has it). */
export interface StoredEvent {
  readonly type: string;
  readonly room_id: string;
  readonly sender: string;
  readonly content: JsonObject;
  readonly origin_server_ts: number;
  /** Set for state events, absent for others. */
  readonly state_key?: string;
  /**
   * One more than the deepest event of the room its origin had seen: an event sent after
   * another one is ordered after it on every node, whatever the clocks say.
   */
  readonly depth: number;
}

/** A stored event with its id, as rooms keep it. */
export interface RoomEvent extends StoredEvent {
  readonly event_id: string;
}

/** JSON with object keys sorted at every level and no whitespace (Matrix's canonical JSON). */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(',')}}`;
}

/** `$` and the unpadded base64url SHA-256 of the stored bytes. */
export function eventIdOf(payload: Uint8Array): string {
  return '$' + createHash('sha256').update(payload).digest('base64url');
}

/** The bytes an event is stored as. */
export function encodeEvent(event: StoredEvent): Uint8Array {
  return Buffer.from(canonicalJson(event as unknown as JsonValue));
}

/** A stored message's payload as an event with its id, or why it is not one (a Mles client may write anything). */
export function decodeEvent(payload: Uint8Array, roomId: string): RoomEvent | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const event = parsed as Record<string, unknown>;
  if (typeof event.type !== 'string' || event.type.length === 0) return 'no type';
  if (event.room_id !== roomId) return 'room_id is not the channel\'s room';
  if (typeof event.sender !== 'string' || parseUserId(event.sender) === undefined) return 'sender is not a user id';
  if (typeof event.content !== 'object' || event.content === null || Array.isArray(event.content)) return 'content is not an object';
  if (!Number.isSafeInteger(event.origin_server_ts)) return 'origin_server_ts is not a whole number';
  if (!Number.isSafeInteger(event.depth) || (event.depth as number) < 1) return 'depth is not a whole number >= 1';
  if (event.state_key !== undefined && typeof event.state_key !== 'string') return 'state_key is not a string';
  return { ...(event as unknown as StoredEvent), event_id: eventIdOf(payload) };
}

/**
 * The order every node gives a room's events: by depth, then origin time, then event id.
 * It needs nothing but the events, so nodes holding the same events agree on it.
 */
export function compareEvents(a: RoomEvent, b: RoomEvent): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts - b.origin_server_ts;
  return a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}

export interface UserId {
  readonly localpart: string;
  readonly server: string;
}

/** Localparts as the spec's historical grammar allows, lowercase. */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;

/** `@localpart:server`, split; undefined when it is not a user id. */
export function parseUserId(text: string): UserId | undefined {
  const match = /^@([^:]+):(.+)$/.exec(text);
  if (match === null || text.length > 255) return undefined;
  return { localpart: match[1]!, server: match[2]! };
}

/** Whether a localpart may be registered here. */
export function isValidLocalpart(localpart: string): boolean {
  return LOCALPART.test(localpart) && localpart.length <= 200;
}

/** The parley channel that carries a room: Mles and native clients join this name to see it. */
export function roomChannel(roomId: string): string {
  return `matrix/${roomId}`;
}

/** The room a channel carries, if it carries one. */
export function roomOfChannel(channel: string): string | undefined {
  return channel.startsWith('matrix/!') ? channel.slice('matrix/'.length) : undefined;
}
