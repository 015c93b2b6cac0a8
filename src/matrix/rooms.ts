// The rooms this node follows, each a parley channel (events.ts): their state, kept
// current by a hub member on each room's channel, so that events sent here and events
// replicated from peers arrive the same way, after they are stored. Each event gets a
// place in this node's stream when it arrives (kept in the account store, so /sync
// tokens survive a restart). Following a channel is what makes peering carry it.
//
// A user on another server learns of an invite through that server's inbox channel
// (`matrix-inbox/SERVER`), which every gateway follows for its own server name.
//
// An event is taken only from a node that speaks for its sender's server (server-names.ts):
// one whose origin is another server's node is refused, and one whose server no node has
// claimed yet waits for the claim.

import type { Logger } from 'pino';
import type { Member, PublishCallback } from '../hub/hub.ts';
import type { AppendRequest, Store, StoredMessage } from '../store/store.ts';
import type { AccountStore } from './account-store.ts';
import { decodeEvent, encodeEvent, parseUserId, roomChannel, roomOfChannel, type RoomEvent, type StoredEvent } from './events.ts';
import { forbidden } from './errors.ts';
import { RoomState, type EventDraft } from './room-state.ts';
import { parseClaim, SERVER_NAMES_CHANNEL, ServerNames } from './server-names.ts';

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
/** Events held for a server name no node has claimed yet; past this, more are refused. */
const MAX_HELD = 10_000;
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
  readonly #names = new ServerNames();
  #servers: Member | undefined;
  /** Events waiting for a node to claim their sender's server, by server name. */
  readonly #held = new Map<string, Array<{ room: RoomState; message: StoredMessage; knownPos: number | undefined }>>();
  #heldCount = 0;
  #forged = 0;
  #starting = true;

  constructor(options: RoomsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    // This node speaks for its own name whatever the channel says.
    const refusal = this.#names.claim(options.store.nodeId, options.serverName);
    if (refusal !== undefined) throw new Error(`the server name ${options.serverName} cannot be used: ${refusal}`);
  }

  /** Events refused because their origin does not speak for their sender's server. */
  forgedEvents(): number {
    return this.#forged;
  }

  /** Follows the server names, every room channel in the store and this server's inbox. */
  start(): void {
    this.#startServerNames();
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
    if (this.#servers !== undefined) this.#options.hub.leave(this.#servers);
  }

  /** Reads the claims of server names, and claims this node's own when it is not its id. */
  #startServerNames(): void {
    const { store, serverName } = this.#options;
    let claimed = false;
    this.#readChannel(SERVER_NAMES_CHANNEL, (message) => {
      if (message.origin === store.nodeId && parseClaim(message.payload) === serverName) claimed = true;
      this.#onClaim(message);
    });
    this.#servers = { channel: SERVER_NAMES_CHANNEL, deliver: ({ message }) => this.#onClaim(message) };
    this.#options.hub.subscribe(this.#servers);
    if (!claimed && serverName !== store.nodeId) {
      this.#publish(SERVER_NAMES_CHANNEL, 'matrix', Buffer.from(JSON.stringify({ server_name: serverName }))).catch((error: unknown) =>
        this.#options.log.error({ err: error }, 'matrix: the claim of this server name could not be stored; peers will hold its users\' events until it is'),
      );
    }
  }

  #onClaim(message: StoredMessage): void {
    const name = parseClaim(message.payload);
    if (name === undefined) return;
    const refusal = this.#names.claim(message.origin, name);
    if (refusal !== undefined) {
      if (message.origin !== this.#options.store.nodeId) this.#options.log.warn({ origin: message.origin, server: name, reason: refusal }, 'matrix: a node claimed a server name it may not have; refused');
      return;
    }
    const held = this.#held.get(name);
    if (held === undefined) return;
    this.#held.delete(name);
    this.#heldCount -= held.length;
    for (const { room, message: event, knownPos } of held) this.#take(room, event, knownPos);
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
    const verdict = this.#names.verdict(message.origin, server);
    if (verdict === 'unknown' && this.#heldCount < MAX_HELD) {
      let held = this.#held.get(server);
      if (held === undefined) this.#held.set(server, (held = []));
      held.push({ room, message, knownPos });
      this.#heldCount++;
      return;
    }
    if (verdict !== 'ok') {
      this.#forged++;
      this.#options.log.warn(
        { origin: message.origin, sender: event.sender, room: room.roomId, seq: message.seq, reason: verdict === 'forged' ? 'another node speaks for the server' : 'too many events wait for their server\'s claim' },
        'matrix: an event from a node that does not speak for its sender\'s server was refused',
      );
      return;
    }
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

  #onInbox(message: StoredMessage): void {
    let roomId: unknown;
    try {
      roomId = (JSON.parse(Buffer.from(message.payload).toString('utf8')) as { room_id?: unknown }).room_id;
    } catch {
      return;
    }
    if (typeof roomId === 'string' && ROOM_ID.test(roomId)) this.follow(roomId);
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

  /** Tells a user's server (through its inbox channel) to follow a room. */
  async announce(userId: string, roomId: string): Promise<void> {
    const server = parseUserId(userId)?.server;
    if (server === undefined || server === this.#options.serverName) return;
    await this.#publish(inboxChannel(server), 'matrix', Buffer.from(JSON.stringify({ room_id: roomId, user_id: userId })));
  }

  #publish(channel: string, uid: string, payload: Uint8Array): Promise<StoredMessage> {
    return new Promise((resolve, reject) =>
      this.#options.hub.publish({ channel, uid, binary: false, payload }, undefined, (result) => (result instanceof Error ? reject(result) : resolve(result.message))),
    );
  }
}
