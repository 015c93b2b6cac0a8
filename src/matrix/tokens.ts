// The tokens clients hold: access tokens (random, looked up, revocable), /sync's
// `since` (a position in this node's stream of room events and account data, which is
// kept on disk, plus a clock-based counter for typing and receipts, which are not) and
// /messages' `from`/`to` (a place in a room's order, which every node shares). Pure.

import { randomBytes } from 'node:crypto';
import type { RoomEvent } from './events.ts';
import { compareEvents } from './events.ts';

export function newAccessToken(): string {
  return 'mpa_' + randomBytes(24).toString('base64url');
}

export function newDeviceId(): string {
  return randomBytes(6).toString('hex').toUpperCase();
}

export interface SyncToken {
  /** Events and account data up to this stream position were given. */
  readonly stream: number;
  /** Ephemeral data (typing, receipts) up to this counter was given. */
  readonly ephemeral: number;
}

export function formatSyncToken(token: SyncToken): string {
  return `s${token.stream}_${token.ephemeral}`;
}

export function parseSyncToken(text: string): SyncToken | undefined {
  const match = /^s(\d{1,15})_(\d{1,15})$/.exec(text);
  if (match === null) return undefined;
  return { stream: Number(match[1]), ephemeral: Number(match[2]) };
}

/**
 * A place in a room's order: before the event with this key (or after it, with
 * `after`). It names the event, not an index, so it stays valid when an event from a
 * peer lands earlier in the order, across restarts and on every node.
 */
export interface RoomPosition {
  readonly depth: number;
  readonly ts: number;
  readonly eventId: string;
  readonly after: boolean;
}

export function positionBefore(event: RoomEvent): RoomPosition {
  return { depth: event.depth, ts: event.origin_server_ts, eventId: event.event_id, after: false };
}

export function positionAfter(event: RoomEvent): RoomPosition {
  return { ...positionBefore(event), after: true };
}

export function formatPosition(position: RoomPosition): string {
  return `t${position.depth}_${position.ts}_${position.after ? 'a' : 'b'}_${position.eventId.slice(1)}`;
}

export function parsePosition(text: string): RoomPosition | undefined {
  const match = /^t(\d{1,15})_(\d{1,15})_([ab])_([A-Za-z0-9_-]{43})$/.exec(text);
  if (match === null) return undefined;
  return { depth: Number(match[1]), ts: Number(match[2]), after: match[3] === 'a', eventId: '$' + match[4]! };
}

/** Whether the event lies before the position in the room's order. */
export function isBefore(event: RoomEvent, position: RoomPosition): boolean {
  const order = compareEvents(event, { depth: position.depth, origin_server_ts: position.ts, event_id: position.eventId } as RoomEvent);
  return order < 0 || (order === 0 && position.after);
}
