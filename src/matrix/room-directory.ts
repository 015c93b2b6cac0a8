// Room aliases and the public room list of the whole network, carried like everything
// else: as messages in one channel (`matrix-directory`) that every gateway follows and
// peering replicates. Each record is JSON; for an alias, or a room's listing, the
// record with the latest (time, message id) wins, so every node that holds the same
// records agrees. A room listed as public is followed, so its name and members can
// be shown and it can be joined from any node.
//
// An alias `#name:SERVER` is taken only from a node that speaks for SERVER, and a room's
// listing only from one that speaks for the server of the user who set it (the message's
// uid): see origin-binding.ts.

import type { Member } from '../hub/hub.ts';
import type { Store, StoredMessage } from '../store/store.ts';
import { parseUserId } from './events.ts';
import type { OriginBinding } from './origin-binding.ts';
import type { RoomHub } from './rooms.ts';

export const DIRECTORY_CHANNEL = 'matrix-directory';

export interface AliasRecord {
  readonly alias: string;
  /** null: deleted. */
  readonly roomId: string | null;
  readonly creator: string;
  readonly servers: readonly string[];
}

interface Versioned<T> {
  readonly value: T;
  readonly ts: number;
  readonly id: string;
}

export interface DirectoryOptions {
  readonly hub: RoomHub;
  readonly store: Store;
  readonly binding: OriginBinding;
  /** A room became public: follow it. */
  readonly onPublic: (roomId: string) => void;
}

/** The server part of an alias `#name:server`. */
function aliasServer(alias: string): string | undefined {
  const colon = alias.indexOf(':');
  return alias.startsWith('#') && colon > 1 && colon < alias.length - 1 ? alias.slice(colon + 1) : undefined;
}

const newer = (a: { ts: number; id: string }, b: { ts: number; id: string } | undefined): boolean =>
  b === undefined || a.ts > b.ts || (a.ts === b.ts && a.id > b.id);

export class RoomDirectory {
  readonly #options: DirectoryOptions;
  readonly #aliases = new Map<string, Versioned<AliasRecord>>();
  readonly #visibility = new Map<string, Versioned<boolean>>();
  readonly #member: Member;

  constructor(options: DirectoryOptions) {
    this.#options = options;
    this.#member = { channel: DIRECTORY_CHANNEL, deliver: ({ message }) => this.#take(message) };
  }

  start(): void {
    let after = 0;
    for (;;) {
      const page = this.#options.store.read(DIRECTORY_CHANNEL, { after, limit: 1000 });
      for (const message of page) this.#take(message);
      if (page.length < 1000) break;
      after = page.at(-1)!.seq;
    }
    this.#options.hub.subscribe(this.#member);
  }

  close(): void {
    this.#options.hub.leave(this.#member);
  }

  #take(message: StoredMessage): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(Buffer.from(message.payload).toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof record !== 'object' || record === null) return;
    const version = { ts: message.ts, id: Buffer.from(message.id).toString('hex') };
    if (typeof record.alias === 'string' && (typeof record.room_id === 'string' || record.room_id === null) && typeof record.creator === 'string') {
      const servers = Array.isArray(record.servers) ? record.servers.filter((s): s is string => typeof s === 'string') : [];
      const value: AliasRecord = { alias: record.alias, roomId: record.room_id, creator: record.creator, servers };
      const server = aliasServer(value.alias);
      if (server === undefined) return;
      this.#options.binding.admit(message, server, { kind: 'alias', sender: value.alias, room: value.roomId, creator: value.creator }, () => {
        if (newer(version, this.#aliases.get(value.alias))) this.#aliases.set(value.alias, { value, ...version });
      });
    } else if (typeof record.room_id === 'string' && (record.visibility === 'public' || record.visibility === 'private')) {
      const roomId = record.room_id;
      const value = record.visibility === 'public';
      const server = parseUserId(message.uid)?.server;
      if (server === undefined) return;
      this.#options.binding.admit(message, server, { kind: 'room listing', sender: message.uid, room: roomId }, () => {
        if (!newer(version, this.#visibility.get(roomId))) return;
        this.#visibility.set(roomId, { value, ...version });
        if (value) this.#options.onPublic(roomId);
      });
    }
  }

  alias(alias: string): AliasRecord | undefined {
    const record = this.#aliases.get(alias)?.value;
    return record?.roomId === null ? undefined : record;
  }

  aliasesOf(roomId: string): string[] {
    return [...this.#aliases.values()].filter((v) => v.value.roomId === roomId).map((v) => v.value.alias);
  }

  isPublic(roomId: string): boolean {
    return this.#visibility.get(roomId)?.value === true;
  }

  publicRooms(): string[] {
    return [...this.#visibility].filter(([, v]) => v.value).map(([roomId]) => roomId).sort();
  }

  setAlias(record: AliasRecord): Promise<void> {
    return this.#publish(record.creator, { alias: record.alias, room_id: record.roomId, creator: record.creator, servers: record.servers });
  }

  setVisibility(userId: string, roomId: string, visible: boolean): Promise<void> {
    return this.#publish(userId, { room_id: roomId, visibility: visible ? 'public' : 'private' });
  }

  #publish(uid: string, record: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#options.hub.publish({ channel: DIRECTORY_CHANNEL, uid, binary: false, payload: Buffer.from(JSON.stringify(record)) }, undefined, (result) =>
        result instanceof Error ? reject(result) : resolve(),
      ),
    );
  }
}
