// Typing notices and read receipts: kept in memory only (a restart forgets who was
// typing; receipts are sent again by clients), each change counted on a clock-based
// counter so a `since` token from before a restart still sorts before new changes.

export interface Receipt {
  readonly eventId: string;
  readonly ts: number;
  readonly threadId?: string | undefined;
}

interface RoomEphemeral {
  typing: Map<string, number>;
  typingChanged: number;
  receipts: Map<string, Receipt>;
  receiptsChanged: number;
}

export class EphemeralState {
  readonly #rooms = new Map<string, RoomEphemeral>();
  /** Rooms where someone is typing: the only ones whose notices can expire. */
  readonly #typingRooms = new Set<string>();
  readonly #now: () => number;
  #counter: number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#counter = now();
  }

  current(): number {
    return this.#counter;
  }

  #room(roomId: string): RoomEphemeral {
    let room = this.#rooms.get(roomId);
    if (room === undefined) this.#rooms.set(roomId, (room = { typing: new Map(), typingChanged: 0, receipts: new Map(), receiptsChanged: 0 }));
    return room;
  }

  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs: number): void {
    const room = this.#room(roomId);
    if (typing) room.typing.set(userId, this.#now() + timeoutMs);
    else room.typing.delete(userId);
    if (room.typing.size > 0) this.#typingRooms.add(roomId);
    else this.#typingRooms.delete(roomId);
    room.typingChanged = ++this.#counter;
  }

  /** Whether something changed after `since` (a typing notice that expired counts). */
  changedAfter(since: number): boolean {
    if (this.#typingRooms.size > 0) for (const roomId of [...this.#typingRooms]) this.typing(roomId);
    return this.#counter > since;
  }

  /** The rooms whose typing notices or receipts changed after `since`. */
  changedRooms(since: number): string[] {
    if (!this.changedAfter(since)) return [];
    const rooms: string[] = [];
    for (const [roomId, room] of this.#rooms) if (room.typingChanged > since || room.receiptsChanged > since) rooms.push(roomId);
    return rooms;
  }

  /** Users typing now; expired ones are dropped (and count as a change). */
  typing(roomId: string): { users: string[]; changed: number } {
    const room = this.#rooms.get(roomId);
    if (room === undefined) return { users: [], changed: 0 };
    const now = this.#now();
    for (const [user, until] of room.typing) {
      if (until <= now) {
        room.typing.delete(user);
        room.typingChanged = ++this.#counter;
      }
    }
    if (room.typing.size === 0) this.#typingRooms.delete(roomId);
    return { users: [...room.typing.keys()], changed: room.typingChanged };
  }

  setReceipt(roomId: string, userId: string, receipt: Receipt): void {
    const room = this.#room(roomId);
    room.receipts.set(userId, receipt);
    room.receiptsChanged = ++this.#counter;
  }

  receipts(roomId: string): { receipts: ReadonlyMap<string, Receipt>; changed: number } {
    const room = this.#rooms.get(roomId);
    return room === undefined ? { receipts: new Map(), changed: 0 } : { receipts: room.receipts, changed: room.receiptsChanged };
  }
}
