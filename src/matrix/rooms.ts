// The rooms this node follows, each a parley channel (events.ts): their state, kept
// current by a hub member on each room's channel, so that events sent here and events
// replicated from peers arrive the same way, after they are stored. Each event gets a
// place in this node's stream when it arrives (kept in the account store, so /sync
// tokens survive a restart). Following a channel is what makes peering carry it.
//
// A user on another server learns of an invite through that server's inbox channel
// (`matrix-inbox/SERVER`), which every gateway follows for its own server name.
//
// An event is taken only from a node that speaks for its sender's server (origin-binding.ts):
// one whose origin is another server's node is refused, and one whose server no node has
// claimed yet waits for the claim. So is an inbox entry, for the server of who invited.

import type { Logger } from 'pino';
import type { Member, PublishCallback } from '../hub/hub.ts';
import type { AppendRequest, Store, StoredMessage } from '../store/store.ts';
import type { AccountStore } from './account-store.ts';
import { decodeEvent, encodeEvent, parseUserId, roomChannel, roomOfChannel, type RoomEvent, type StoredEvent } from './events.ts';
import { forbidden } from './errors.ts';
import { RoomState, type EventDraft } from './room-state.ts';
import type { OriginBinding } from './origin-binding.ts';

/** What the rooms need of the hub: a Hub has this shape. */
export interface RoomHub {
  subscribe(member: Member): void;
  leave(member: Member): void;
  publish(request: AppendRequest, except: undefined, done: PublishCallback): void;
}

export interface StreamEntry {
  readonly pos: number;
  readonly roomId: string;
  readonly event: RoomEvent;
}

export interface RoomsOptions {
  readonly hub: RoomHub;
  readonly store: Store;
  readonly accounts: AccountStore;
  readonly serverName: string;
  readonly binding: OriginBinding;
  readonly log: Logger;
  readonly now?: () => number;
  /** Resolves once peers have brought the channel up to date (peering's catch-up). */
  readonly catchUp: (channel: string) => Promise<void>;
  /**
   * A room event arrived (after it was stored and placed in the stream); `joinedChanged`
   * lists the users it made join or stop being joined (usually its own state key, but an
   * event that lands before others refolds the room's state).
   */
  readonly onEvent: (entry: StreamEntry, room: RoomState, joinedChanged: readonly string[]) => void;
}

export function inboxChannel(serverName: string): string {
  return `matrix-inbox/${serverName}`;
}

const READ_PAGE = 1000;
const NO_ROOMS: ReadonlySet<string> = new Set();
const ROOM_ID = /^![A-Za-z0-9._=\-]+:[^\s]+$/;

export class MatrixRooms {
  readonly #options: RoomsOptions;
  readonly #rooms = new Map<string, RoomState>();
  readonly #members = new Map<string, Member>();
  /** Depth handed to local events not yet stored, per room: sends in one turn stay in order. */
  readonly #pendingDepth = new Map<string, number>();
  readonly #stream: StreamEntry[] = [];
  /** The rooms each user is joined to: a long-poll waits on these. */
  readonly #joined = new Map<string, Set<string>>();
  readonly #now: () => number;
  #inbox: Member | undefined;
  #starting = true;

  constructor(options: RoomsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Follows every room channel in the store and this server's inbox (the binding has started). */
  start(): void {
    let after = 'matrix/!';
    for (;;) {
      const page = this.#options.store.channels(after, READ_PAGE);
      for (const summary of page) {
        const roomId = roomOfChannel(summary.channel);
        if (roomId !== undefined) this.follow(roomId);
      }
      const last = page.at(-1);
      if (last === undefined || !last.channel.startsWith('matrix/!')) break;
      after = last.channel;
    }
    const inbox = inboxChannel(this.#options.serverName);
    this.#readChannel(inbox, (message) => this.#onInbox(message));
    this.#inbox = { channel: inbox, deliver: ({ message }) => this.#onInbox(message) };
    this.#options.hub.subscribe(this.#inbox);
    this.#stream.sort((a, b) => a.pos - b.pos);
    this.#starting = false;
  }

  close(): void {
    for (const member of this.#members.values()) this.#options.hub.leave(member);
    if (this.#inbox !== undefined) this.#options.hub.leave(this.#inbox);
  }

  room(roomId: string): RoomState | undefined {
    return this.#rooms.get(roomId);
  }

  rooms(): IterableIterator<RoomState> {
    return this.#rooms.values();
  }

  /** Starts following a room's channel: reads what the store holds, then takes what arrives. */
  follow(roomId: string): RoomState {
    const known = this.#rooms.get(roomId);
    if (known !== undefined) return known;
    const room = new RoomState(roomId);
    this.#rooms.set(roomId, room);
    const channel = roomChannel(roomId);
    const positions = this.#options.accounts.streamPositions(channel);
    this.#readChannel(channel, (message) => {
      const pos = positions.get(message.seq);
      this.#take(room, message, pos);
    });
    const member: Member = { channel, deliver: ({ message }) => this.#take(room, message, undefined) };
    this.#members.set(roomId, member);
    this.#options.hub.subscribe(member);
    return room;
  }

  /** Follows a room and waits until the peers have brought it up to date. */
  async followAndCatchUp(roomId: string): Promise<RoomState> {
    const room = this.follow(roomId);
    await this.#options.catchUp(roomChannel(roomId));
    return room;
  }

  #readChannel(channel: string, take: (message: StoredMessage) => void): void {
    let after = 0;
    for (;;) {
      const page = this.#options.store.read(channel, { after, limit: READ_PAGE });
      for (const message of page) take(message);
      if (page.length < READ_PAGE) break;
      after = page.at(-1)!.seq;
    }
  }

  #take(room: RoomState, message: StoredMessage, knownPos: number | undefined): void {
    const event = decodeEvent(message.payload, room.roomId);
    if (typeof event === 'string') {
      this.#options.log.debug({ channel: message.channel, seq: message.seq, reason: event }, 'matrix: a message in a room channel is not an event; skipped');
      return;
    }
    const server = parseUserId(event.sender)!.server;
    this.#options.binding.admit(message, server, { kind: 'room event', sender: event.sender, room: room.roomId }, () => this.#takeEvent(room, message, event, knownPos));
  }

  #takeEvent(room: RoomState, message: StoredMessage, event: RoomEvent, knownPos: number | undefined): void {
    const joinedBefore = room.members('join');
    if (!room.add(event)) return;
    const joinedChanged = this.#indexJoined(room, joinedBefore);
    const pos = knownPos ?? this.#options.accounts.addToStream(message.channel, message.seq);
    const entry = { pos, roomId: room.roomId, event };
    // Start-up reads rooms one after another and sorts once; later, an event held for its
    // server's claim may come after later positions.
    if (this.#starting || (this.#stream.at(-1)?.pos ?? 0) < pos) this.#stream.push(entry);
    else this.#stream.splice(this.#firstAfter(pos), 0, entry);
    if (knownPos === undefined) this.#options.onEvent(entry, room, joinedChanged);
  }

  /** Updates the index of joined rooms from the room's members before an event; returns who changed. */
  #indexJoined(room: RoomState, before: readonly string[]): string[] {
    const after = room.members('join');
    // The list is cached until a member event or a refold: the same list means no change.
    if (after === before) return [];
    const was = new Set(before);
    const is = new Set(after);
    const changed: string[] = [];
    for (const user of after) {
      if (was.has(user)) continue;
      changed.push(user);
      let rooms = this.#joined.get(user);
      if (rooms === undefined) this.#joined.set(user, (rooms = new Set()));
      rooms.add(room.roomId);
    }
    for (const user of before) {
      if (is.has(user)) continue;
      changed.push(user);
      const rooms = this.#joined.get(user);
      rooms?.delete(room.roomId);
      if (rooms?.size === 0) this.#joined.delete(user);
    }
    return changed;
  }

  /** The ids of the rooms the user is joined to. */
  joinedRooms(userId: string): ReadonlySet<string> {
    return this.#joined.get(userId) ?? NO_ROOMS;
  }

  /** An invite notice `{"room_id", "user_id", "sender"}`: taken from a node that speaks for who invited. */
  #onInbox(message: StoredMessage): void {
    let record: { room_id?: unknown; user_id?: unknown; sender?: unknown };
    try {
      record = JSON.parse(Buffer.from(message.payload).toString('utf8')) as typeof record;
    } catch {
      return;
    }
    const { room_id: roomId, user_id: userId, sender } = record ?? {};
    const senderServer = typeof sender === 'string' ? parseUserId(sender)?.server : undefined;
    if (typeof roomId !== 'string' || !ROOM_ID.test(roomId) || typeof userId !== 'string' || senderServer === undefined) {
      this.#options.log.debug({ channel: message.channel, seq: message.seq }, 'matrix: a message in the inbox is not an invite notice (room_id, user_id, sender); skipped');
      return;
    }
    const about = { kind: 'invite notice', sender: sender as string, room: roomId, user: userId };
    if (parseUserId(userId)?.server !== this.#options.serverName) return this.#options.binding.refuse(message, about, `the invited user is not on ${this.#options.serverName}`);
    this.#options.binding.admit(message, senderServer, about, () => this.follow(roomId));
  }

  /** Stream entries after `pos`, oldest first. */
  since(pos: number): StreamEntry[] {
    return this.#stream.slice(this.#firstAfter(pos));
  }

  /** The index of the first stream entry after `pos`. */
  #firstAfter(pos: number): number {
    let low = 0;
    let high = this.#stream.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#stream[mid]!.pos <= pos) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Sends an event into a room after checking it against the room's state: resolves
   * once it is stored (and so in the room and the stream). Throws M_FORBIDDEN with
   * the reason when the room's rules refuse it.
   */
  send(draft: EventDraft): Promise<RoomEvent> {
    const room = this.#rooms.get(draft.room_id) ?? (draft.type === 'm.room.create' ? this.follow(draft.room_id) : undefined);
    if (room === undefined) return Promise.reject(forbidden(`${draft.room_id} is not a room this server knows`));
    const refusal = room.refusal(draft);
    if (refusal !== undefined) return Promise.reject(forbidden(refusal));
    const depth = Math.max(room.nextDepth(), (this.#pendingDepth.get(room.roomId) ?? 0) + 1);
    this.#pendingDepth.set(room.roomId, depth);
    const event: StoredEvent = { ...draft, depth, origin_server_ts: this.#now() };
    return this.#publish(roomChannel(room.roomId), draft.sender, encodeEvent(event)).then((message) => {
      if (this.#pendingDepth.get(room.roomId) === depth) this.#pendingDepth.delete(room.roomId);
      const decoded = decodeEvent(message.payload, room.roomId);
      if (typeof decoded === 'string') throw new Error(`an event this node encoded does not decode: ${decoded}`);
      return decoded;
    });
  }

  /** Tells a user's server (through its inbox channel) that `sender` invited them to a room. */
  async announce(sender: string, userId: string, roomId: string): Promise<void> {
    const server = parseUserId(userId)?.server;
    if (server === undefined || server === this.#options.serverName) return;
    await this.#publish(inboxChannel(server), sender, Buffer.from(JSON.stringify({ room_id: roomId, user_id: userId, sender })));
  }

  #publish(channel: string, uid: string, payload: Uint8Array): Promise<StoredMessage> {
    return new Promise((resolve, reject) =>
      this.#options.hub.publish({ channel, uid, binary: false, payload }, undefined, (result) => (result instanceof Error ? reject(result) : resolve(result.message))),
    );
  }
}
