// One room: its events in the order every node gives them (events.ts), and its state
// folded from them. Each event is checked against the state before it (membership and
// the basic power levels: who may invite, kick, ban, redact, send and change state);
// one that fails is kept but rejected, and changes nothing. The fold needs nothing but
// the events, so two nodes holding the same events hold the same state and reject the
// same events, whatever order the events reached them in. Pure: no I/O.

import { compareEvents, parseUserId, type JsonObject, type RoomEvent } from './events.ts';

export type Membership = 'join' | 'invite' | 'leave' | 'ban';

/** The event shape checked before it has an id (a local send). */
export type EventDraft = Omit<RoomEvent, 'event_id' | 'depth' | 'origin_server_ts'>;

const stateKeyOf = (type: string, stateKey: string): string => `${type}\u0000${stateKey}`;

const MEMBERSHIPS: readonly string[] = ['join', 'invite', 'leave', 'ban'];

/** An event as clients get it, made at `now` (client-events.ts). */
export interface ClientForm {
  readonly now: number;
  readonly redactedBy: string | undefined;
  readonly json: Record<string, unknown>;
}

export class RoomState {
  readonly roomId: string;
  /** The last client form made of each event, kept with the room it belongs to. */
  readonly clientForms = new WeakMap<RoomEvent, ClientForm>();
  /** Every event held, accepted or not, in room order. */
  readonly #events: RoomEvent[] = [];
  readonly #ids = new Set<string>();
  /** The accepted ones, in room order: what clients see. */
  #accepted: RoomEvent[] = [];
  #acceptedIds = new Map<string, RoomEvent>();
  #state = new Map<string, RoomEvent>();
  #redacted = new Map<string, string>();
  /** Users by membership, worked out when first asked after a member event: every /sync asks. */
  #membersCache: Map<Membership, string[]> | undefined;

  constructor(roomId: string) {
    this.roomId = roomId;
  }

  has(eventId: string): boolean {
    return this.#ids.has(eventId);
  }

  /**
   * Adds an event in room order and refolds the state when it lands before others.
   * Returns false for one already held.
   */
  add(event: RoomEvent): boolean {
    if (this.#ids.has(event.event_id)) return false;
    this.#ids.add(event.event_id);
    const last = this.#events.at(-1);
    if (last === undefined || compareEvents(last, event) < 0) {
      this.#events.push(event);
      this.#apply(event);
      return true;
    }
    const at = upperBound(this.#events, event);
    this.#events.splice(at, 0, event);
    this.#refold();
    return true;
  }

  #refold(): void {
    this.#accepted = [];
    this.#acceptedIds = new Map();
    this.#state = new Map();
    this.#redacted = new Map();
    this.#membersCache = undefined;
    for (const event of this.#events) this.#apply(event);
  }

  #apply(event: RoomEvent): void {
    if (this.refusal(event) !== undefined) return;
    this.#accepted.push(event);
    this.#acceptedIds.set(event.event_id, event);
    if (event.state_key !== undefined) this.#state.set(stateKeyOf(event.type, event.state_key), event);
    if (event.type === 'm.room.member') this.#membersCache = undefined;
    if (event.type === 'm.room.redaction') {
      const target = event.content.redacts;
      if (typeof target === 'string') this.#redacted.set(target, event.event_id);
    }
  }

  /** Accepted events in room order. */
  events(): readonly RoomEvent[] {
    return this.#accepted;
  }

  /** Whether the event was accepted (an unknown one was not). */
  accepted(eventId: string): RoomEvent | undefined {
    return this.#acceptedIds.get(eventId);
  }

  /** The id of the redaction that redacted this event, if one did. */
  redactedBy(eventId: string): string | undefined {
    return this.#redacted.get(eventId);
  }

  /** The depth a new event of this node takes: after everything it holds. */
  nextDepth(): number {
    return (this.#events.at(-1)?.depth ?? 0) + 1;
  }

  state(): IterableIterator<RoomEvent> {
    return this.#state.values();
  }

  stateEvent(type: string, stateKey = ''): RoomEvent | undefined {
    return this.#state.get(stateKeyOf(type, stateKey));
  }

  membership(userId: string): Membership | undefined {
    const membership = this.stateEvent('m.room.member', userId)?.content.membership;
    return typeof membership === 'string' && MEMBERSHIPS.includes(membership) ? (membership as Membership) : undefined;
  }

  /** Users with this membership. */
  members(membership: Membership = 'join'): readonly string[] {
    if (this.#membersCache === undefined) {
      const cache = new Map<Membership, string[]>(MEMBERSHIPS.map((m) => [m as Membership, []]));
      for (const event of this.#state.values()) {
        if (event.type === 'm.room.member') cache.get(event.content.membership as Membership)?.push(event.state_key!);
      }
      this.#membersCache = cache;
    }
    return this.#membersCache.get(membership)!;
  }

  creator(): string | undefined {
    return this.stateEvent('m.room.create')?.sender;
  }

  joinRule(): string {
    const rule = this.stateEvent('m.room.join_rules')?.content.join_rule;
    return typeof rule === 'string' ? rule : 'invite';
  }

  powerLevel(userId: string): number {
    const levels = this.stateEvent('m.room.power_levels')?.content;
    if (levels === undefined) return userId === this.creator() ? 100 : 0;
    const users = levels.users;
    const own = isObject(users) ? users[userId] : undefined;
    return typeof own === 'number' ? own : numberOr(levels.users_default, 0);
  }

  /** The level an action needs: invite, kick, ban, redact, or sending an event type. */
  requiredLevel(action: 'invite' | 'kick' | 'ban' | 'redact' | { type: string; state: boolean }): number {
    const levels = this.stateEvent('m.room.power_levels')?.content;
    if (typeof action === 'string') return numberOr(levels?.[action], action === 'invite' ? 0 : 50);
    const events = levels?.events;
    const own = isObject(events) ? events[action.type] : undefined;
    if (typeof own === 'number') return own;
    if (action.state) return levels === undefined ? 0 : numberOr(levels.state_default, 50);
    return numberOr(levels?.events_default, 0);
  }

  /** Why this event may not go into the room now, or undefined when it may. */
  refusal(event: EventDraft): string | undefined {
    const create = this.stateEvent('m.room.create');
    if (event.type === 'm.room.create') {
      if (create !== undefined || this.#accepted.length > 0) return 'the room exists already';
      if (event.state_key !== '') return 'm.room.create takes the state key ""';
      const server = parseUserId(event.sender)?.server;
      return this.roomId.endsWith(`:${server}`) ? undefined : 'only a user of the room\'s server can create it';
    }
    if (create === undefined) return 'the room has no m.room.create event';
    if (event.type === 'm.room.member') return this.#memberRefusal(event);
    if (this.membership(event.sender) !== 'join') return `${event.sender} is not in the room`;
    const isState = event.state_key !== undefined;
    const need = event.type === 'm.room.redaction' ? 0 : this.requiredLevel({ type: event.type, state: isState });
    const have = this.powerLevel(event.sender);
    if (have < need) return `sending ${event.type} needs power level ${need}; ${event.sender} has ${have}`;
    if (event.type === 'm.room.redaction') return this.#redactionRefusal(event, have);
    if (event.type === 'm.room.power_levels' && this.stateEvent('m.room.power_levels') !== undefined) {
      return this.#powerLevelsRefusal(event.content, have, event.sender);
    }
    return undefined;
  }

  #memberRefusal(event: EventDraft): string | undefined {
    const target = event.state_key;
    if (target === undefined || parseUserId(target) === undefined) return 'm.room.member needs a user id as its state key';
    const membership = event.content.membership;
    const current = this.membership(target);
    const sender = event.sender;
    const senderLevel = this.powerLevel(sender);
    switch (membership) {
      case 'join': {
        if (sender !== target) return 'only a user can join for themselves';
        if (current === 'ban') return `${target} is banned from the room`;
        if (current === 'join' || current === 'invite') return undefined;
        if (this.joinRule() === 'public') return undefined;
        // The creator's own first join, right after the create event.
        if (sender === this.creator() && this.members('join').length === 0) return undefined;
        return 'the room is invite-only and there is no invite';
      }
      case 'invite': {
        if (this.membership(sender) !== 'join') return `${sender} is not in the room`;
        if (current === 'join') return `${target} is already in the room`;
        if (current === 'ban') return `${target} is banned from the room`;
        const need = this.requiredLevel('invite');
        return senderLevel >= need ? undefined : `inviting needs power level ${need}; ${sender} has ${senderLevel}`;
      }
      case 'leave': {
        if (sender === target) return current === 'join' || current === 'invite' ? undefined : `${target} is not in the room`;
        if (this.membership(sender) !== 'join') return `${sender} is not in the room`;
        const action = current === 'ban' ? 'ban' : 'kick';
        const need = this.requiredLevel(action);
        if (senderLevel < need) return `${action === 'ban' ? 'unbanning' : 'kicking'} needs power level ${need}; ${sender} has ${senderLevel}`;
        if (action === 'kick' && current !== 'join' && current !== 'invite') return `${target} is not in the room`;
        return senderLevel > this.powerLevel(target) || action === 'ban' ? undefined : `${sender} cannot kick a user of the same or higher power level`;
      }
      case 'ban': {
        if (this.membership(sender) !== 'join') return `${sender} is not in the room`;
        const need = this.requiredLevel('ban');
        if (senderLevel < need) return `banning needs power level ${need}; ${sender} has ${senderLevel}`;
        return senderLevel > this.powerLevel(target) ? undefined : `${sender} cannot ban a user of the same or higher power level`;
      }
      default:
        return `membership ${JSON.stringify(membership)} is not supported (join, invite, leave, ban)`;
    }
  }

  #redactionRefusal(event: EventDraft, level: number): string | undefined {
    const target = event.content.redacts;
    if (typeof target !== 'string') return 'a redaction needs content.redacts';
    const redacted = this.#acceptedIds.get(target);
    if (redacted?.sender === event.sender) return undefined;
    const need = this.requiredLevel('redact');
    return level >= need ? undefined : `redacting another user's event needs power level ${need}`;
  }

  #powerLevelsRefusal(content: JsonObject, level: number, sender: string): string | undefined {
    const before = this.stateEvent('m.room.power_levels')!.content;
    const oldUsers = isObject(before.users) ? before.users : {};
    const newUsers = isObject(content.users) ? content.users : {};
    for (const user of new Set([...Object.keys(oldUsers), ...Object.keys(newUsers)])) {
      const was = numberOr(oldUsers[user], numberOr(before.users_default, 0));
      const now = numberOr(newUsers[user], numberOr(content.users_default, 0));
      if (was === now) continue;
      if (now > level || (was >= level && user !== sender)) return `${sender} cannot change the power level of ${user} from ${was} to ${now}`;
    }
    return undefined;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** The index after every event that sorts at or before `event`. */
function upperBound(events: readonly RoomEvent[], event: RoomEvent): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareEvents(events[mid]!, event) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
