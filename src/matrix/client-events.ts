// Events as clients get them: with their id, age and redaction, without the depth that
// only orders them between nodes. Pure.

import type { JsonObject, RoomEvent } from './events.ts';
import type { RoomState } from './room-state.ts';

/** What a redaction leaves of content, per event type (the spec's rules, shortened). */
const KEPT_ON_REDACTION: Readonly<Record<string, readonly string[]>> = {
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'],
  'm.room.history_visibility': ['history_visibility'],
};

export function clientEvent(room: RoomState, event: RoomEvent, now: number): Record<string, unknown> {
  const redactedBy = room.redactedBy(event.event_id);
  // A new event goes out in a thousand /sync answers in the same millisecond: one copy for all.
  const made = room.clientForms.get(event);
  if (made !== undefined && made.now === now && made.redactedBy === redactedBy) return made.json;
  const json = makeClientEvent(room, event, now, redactedBy);
  room.clientForms.set(event, { now, redactedBy, json });
  return json;
}

function makeClientEvent(room: RoomState, event: RoomEvent, now: number, redactedBy: string | undefined): Record<string, unknown> {
  const { depth: _depth, ...rest } = event;
  const unsigned: Record<string, unknown> = { age: Math.max(0, now - event.origin_server_ts) };
  let content: JsonObject = event.content;
  if (redactedBy !== undefined) {
    const kept = KEPT_ON_REDACTION[event.type] ?? [];
    content = Object.fromEntries(Object.entries(event.content).filter(([key]) => kept.includes(key)));
    const redaction = room.accepted(redactedBy);
    if (redaction !== undefined) unsigned.redacted_because = clientEvent(room, redaction, now);
  }
  const json: Record<string, unknown> = { ...rest, content, unsigned };
  if (event.type === 'm.room.redaction') json.redacts = event.content.redacts;
  return json;
}

/** The state a client may see before it joins: the stripped state of an invite. */
export function strippedState(room: RoomState): Array<Record<string, unknown>> {
  const types = ['m.room.create', 'm.room.name', 'm.room.topic', 'm.room.join_rules', 'm.room.canonical_alias', 'm.room.avatar', 'm.room.encryption'];
  const events: RoomEvent[] = [];
  for (const type of types) {
    const event = room.stateEvent(type);
    if (event !== undefined) events.push(event);
  }
  return events.map((e) => ({ type: e.type, state_key: e.state_key, content: e.content, sender: e.sender }));
}
