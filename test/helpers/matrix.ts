// Matrix clients for the gateway's end-to-end tests: the real matrix-js-sdk, quietened,
// and a raw JSON client for what the SDK hides (status codes, errcodes, txn ids).

import { ClientEvent, createClient, MatrixEventEvent, RoomEvent, type MatrixClient, type MatrixEvent, type Room } from 'matrix-js-sdk';
import { logger as sdkLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';

/** The SDK logs every request; a test shows only its own failures. */
export const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => quietLogger,
};
const logger = quietLogger;
// Modules that log through the SDK's shared loglevel logger, not the client's; its
// child loggers take the root's method factory (and set their own level).
const root = sdkLogger as unknown as { methodFactory: () => () => void; setLevel(level: string): void };
root.methodFactory = () => () => {};
root.setLevel('silent');

// The SDK leaves long timers behind after stopClient (its capability poll, 6 h, and the
// timeout of each aborted request, 15 s to 110 s), which would keep the test process
// alive long after the tests end. Timers that long never decide a test here: unref them.
const setTimeoutAsGiven = globalThis.setTimeout;
globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = setTimeoutAsGiven(callback, ms, ...args);
  if ((ms ?? 0) >= 10_000) timer.unref();
  return timer;
}) as typeof setTimeout;

export interface RawResponse {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

/** One request to the client-server API; the body is sent as given when it is a string. */
export async function raw(base: string, method: string, path: string, body?: unknown, token?: string): Promise<RawResponse> {
  const response = await fetch(new URL(path, base), {
    method,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: response.status, json };
}

export interface Account {
  readonly userId: string;
  readonly accessToken: string;
  readonly deviceId: string;
}

/** Registers through the SDK: the 401 round trip, then the dummy stage. */
export async function register(base: string, username: string, password = 'secret password'): Promise<Account> {
  const client = createClient({ baseUrl: base, logger });
  let session: string | undefined;
  try {
    await client.registerRequest({ username, password });
  } catch (error) {
    session = (error as { data?: { session?: string } }).data?.session;
  }
  const result = await client.register(username, password, session ?? null, { type: 'm.login.dummy', session });
  return { userId: result.user_id, accessToken: result.access_token!, deviceId: result.device_id! };
}

/** A started SDK client, resolved once it is PREPARED. */
export async function startClient(base: string, account: Account, options: { lazyLoadMembers?: boolean } = {}): Promise<MatrixClient> {
  const client = createClient({ baseUrl: base, accessToken: account.accessToken, userId: account.userId, deviceId: account.deviceId, logger });
  const prepared = new Promise<void>((resolve, reject) => {
    client.on(ClientEvent.Sync, (state) => {
      if (state === 'PREPARED') resolve();
      if (state === 'ERROR') reject(new Error('the first sync failed'));
    });
  });
  await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: options.lazyLoadMembers ?? false });
  await prepared;
  return client;
}

/** Resolves with the first live timeline event in a room that matches. */
export function nextEvent(client: MatrixClient, match: (event: MatrixEvent, room: Room | undefined) => boolean, timeoutMs = 5000): Promise<MatrixEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(RoomEvent.Timeline, listener);
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (event: MatrixEvent, room: Room | undefined, toStartOfTimeline: boolean | undefined): void => {
      if (toStartOfTimeline === true || !match(event, room)) return;
      clearTimeout(timer);
      client.off(RoomEvent.Timeline, listener);
      resolve(event);
    };
    client.on(RoomEvent.Timeline, listener);
  });
}

/** Resolves once the client's room object exists (after a sync brought it). */
export function roomAppears(client: MatrixClient, roomId: string, membership: 'invite' | 'join', timeoutMs = 5000): Promise<Room> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const room = client.getRoom(roomId);
      if (room?.getMyMembership() !== membership) return false;
      clearTimeout(timer);
      client.off(ClientEvent.Sync, check);
      client.off(ClientEvent.Room, check);
      resolve(room);
      return true;
    };
    const timer = setTimeout(() => {
      client.off(ClientEvent.Sync, check);
      client.off(ClientEvent.Room, check);
      reject(new Error(`${client.getUserId()} did not see ${roomId} as ${membership} within ${timeoutMs} ms`));
    }, timeoutMs);
    if (check()) return;
    client.on(ClientEvent.Sync, check);
    client.on(ClientEvent.Room, check);
  });
}

/** Resolves once `check` holds, asked now and after each sync the client processes. */
export function syncedUntil(client: MatrixClient, check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const listener = (): void => {
      if (!check()) return;
      clearTimeout(timer);
      client.off(ClientEvent.Sync, listener);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off(ClientEvent.Sync, listener);
      reject(new Error(`${what}: not within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on(ClientEvent.Sync, listener);
    listener();
  });
}

/** A started client with its crypto (the Rust crypto, WebAssembly) on, resolved once PREPARED. */
export async function cryptoClient(base: string, account: Account): Promise<MatrixClient> {
  const client = createClient({ baseUrl: base, accessToken: account.accessToken, userId: account.userId, deviceId: account.deviceId, logger });
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise<void>((resolve) => client.on(ClientEvent.Sync, (state) => state === 'PREPARED' && resolve()));
  await client.startClient({ initialSyncLimit: 10 });
  await prepared;
  return client;
}

/** The first event in the room whose decrypted body matches. */
export function decrypted(client: MatrixClient, roomId: string, body: string, timeoutMs = 15_000): Promise<MatrixEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${client.getUserId()} did not decrypt "${body}" within ${timeoutMs} ms`)), timeoutMs);
    const check = (event: MatrixEvent): void => {
      if (event.getRoomId() !== roomId || event.getContent().body !== body) return;
      clearTimeout(timer);
      resolve(event);
    };
    client.on(RoomEvent.Timeline, (event) => {
      check(event);
      event.once(MatrixEventEvent.Decrypted, () => check(event));
    });
  });
}
