// The Matrix client-server gateway, composed: the account store, the rooms (parley
// channels), the directory, the long-poll notifier and the endpoints, served as one
// HTTP Route under /_matrix/client/ and /.well-known/matrix/client. Built by the node
// only with --matrix; everything it needs is passed in.

import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Route } from '../http/handlers.ts';
import { MAX_ABOUT, type PublicChannel } from '../p2p/directory.ts';
import type { Store } from '../store/store.ts';
import { parseUserId, roomChannel, roomOfChannel } from './events.ts';
import { AccountStore } from './account-store.ts';
import { accountEndpoints } from './api-account.ts';
import { keyEndpoints, sharingUsers } from './api-keys.ts';
import { KeyRelay } from './key-relay.ts';
import { KeyStore } from './key-store.ts';
import { OriginBinding } from './origin-binding.ts';
import { miscEndpoints, SPEC_VERSIONS } from './api-misc.ts';
import { profileEndpoints } from './api-profile.ts';
import { roomEndpoints } from './api-rooms.ts';
import type { MatrixContext, MatrixSettings } from './context.ts';
import { EphemeralState } from './ephemeral.ts';
import { ParsedFilters } from './filters.ts';
import { SyncNotifier } from './notifier.ts';
import { SyncFragments } from './sync-fragments.ts';
import { KeyedRateLimit } from './rate-limits.ts';
import { RoomDirectory } from './room-directory.ts';
import { CLIENT_PREFIX, MatrixRouter, type Reply, type Request } from './router.ts';
import { MatrixRooms, type RoomHub } from './rooms.ts';

export interface MatrixGatewayOptions {
  readonly settings: MatrixSettings;
  readonly hub: RoomHub;
  readonly store: Store;
  /** Where matrix.db goes; undefined keeps accounts in memory (with --memory). */
  readonly dataDir: string | undefined;
  readonly catchUp: (channel: string) => Promise<void>;
  readonly log: Logger;
  readonly now?: () => number;
  /** A room became public (listed in the room directory): the p2p directory announces it soon. */
  readonly onPublicRoom?: (roomId: string) => void;
  /** The peer-to-peer directory of public channels, once --p2p runs. */
  readonly networkDirectory?: () => readonly { readonly channel: string }[] | undefined;
}

export interface MatrixGateway {
  readonly route: Route;
  /** Public rooms made here, as channels for the peer-to-peer directory to announce. */
  publicChannels(): PublicChannel[];
  /** Long-polling /sync requests waiting now. */
  waiting(): number;
  /** Room events, device keys, to-device messages, invite notices and aliases refused because the node they came from does not speak for their sender's server. */
  forgedEvents(): number;
  /** Answers the waiting long-polls: the node is stopping. */
  stop(): void;
  /** Leaves the hub and closes the account store, once the listeners are closed. */
  close(): void;
}

const WELL_KNOWN = '/.well-known/matrix/client';
const VERSIONS_PATH = '/_matrix/client/versions';
/** Request bodies taken; an event is limited separately (M_TOO_LARGE past 65,536 bytes). */
const MAX_BODY = 1024 * 1024;

export function startMatrixGateway(options: MatrixGatewayOptions): MatrixGateway {
  const { settings, log } = options;
  const now = options.now ?? Date.now;
  const databasePath = options.dataDir === undefined ? ':memory:' : join(options.dataDir, 'matrix.db');
  const accounts = new AccountStore(databasePath);
  const keys = new KeyStore(databasePath, () => accounts.takePos());
  const binding = new OriginBinding({ hub: options.hub, store: options.store, serverName: settings.serverName, log });
  const keyRelay = new KeyRelay({
    hub: options.hub,
    store: options.store,
    keys,
    serverName: settings.serverName,
    binding,
    onChange: (users) => {
      const concerned = new Set<string>();
      for (const user of users) for (const other of sharingUsers(ctx, user)) concerned.add(other);
      notifier.wake(concerned);
    },
  });
  const notifier = new SyncNotifier();
  const rooms = new MatrixRooms({
    hub: options.hub,
    store: options.store,
    accounts,
    serverName: settings.serverName,
    binding,
    log,
    now,
    catchUp: options.catchUp,
    onEvent: (entry, room, joinedChanged) => {
      const concerned = new Set(joinedChanged);
      if (entry.event.type === 'm.room.member' && entry.event.state_key !== undefined) {
        // Whose devices this node must know: the servers of everyone it shares a room with.
        const server = parseUserId(entry.event.state_key)?.server;
        if (server !== undefined) keyRelay.followServer(server);
        // An invite, kick or ban concerns its target, who is not (or no longer) joined.
        concerned.add(entry.event.state_key);
      }
      // Only joined users see a room's events; invited and departed ones see their own change.
      notifier.wakeRoom(room.roomId);
      notifier.wake(concerned);
    },
  });
  const directory = new RoomDirectory({ hub: options.hub, store: options.store, binding, onPublic: (roomId) => {
      rooms.follow(roomId);
      options.onPublicRoom?.(roomId);
    },
  });
  const ctx: MatrixContext = {
    settings,
    accounts,
    keys,
    keyRelay,
    rooms,
    directory,
    notifier,
    syncFragments: new SyncFragments(),
    syncFilters: new ParsedFilters(),
    ephemeral: new EphemeralState(now),
    loginLimit: new KeyedRateLimit(Math.max(3, Math.ceil(settings.loginRate / 6)), settings.loginRate / 60),
    sendLimit: new KeyedRateLimit(settings.sendRate * 10, settings.sendRate),
    log,
    now,
    stopping: () => stopping,
    networkPublicRooms: () => (options.networkDirectory?.() ?? []).flatMap((entry) => {
      const roomId = roomOfChannel(entry.channel);
      return roomId === undefined ? [] : [roomId];
    }),
  };
  let stopping = false;
  // The claims of server names first: every channel read after them is checked against them.
  binding.start();
  rooms.start();
  directory.start();
  keyRelay.start();
  for (const room of rooms.rooms()) {
    for (const membership of ['join', 'invite'] as const) {
      for (const user of room.members(membership)) {
        const server = parseUserId(user)?.server;
        if (server !== undefined) keyRelay.followServer(server);
      }
    }
  }
  const versions = () => ({ versions: SPEC_VERSIONS, unstable_features: {} });
  const wellKnown = (request: Request) => ({ 'm.homeserver': { base_url: `http://${request.host ?? 'localhost'}` } });
  const router = new MatrixRouter({
    endpoints: [...accountEndpoints(ctx), ...roomEndpoints(ctx), ...profileEndpoints(ctx), ...miscEndpoints(ctx), ...keyEndpoints(ctx)],
    deviceOf: (token) => accounts.deviceOf(token),
    log,
    maxBody: MAX_BODY,
    unversioned: new Map<string, (request: Request) => Reply>([
      [VERSIONS_PATH, versions],
      [VERSIONS_PATH + '/', versions],
      [WELL_KNOWN, wellKnown],
    ]),
  });
  const route: Route = {
    paths: ['/_matrix/client/{path}', WELL_KNOWN],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'],
    matches: (path) => path.startsWith(CLIENT_PREFIX) || path === WELL_KNOWN,
    handle: (req, res) => router.handle(req, res),
  };
  return {
    route,
    publicChannels: () =>
      directory.publicRooms().flatMap((roomId) => {
        if (!roomId.endsWith(`:${settings.serverName}`)) return [];
        const name = rooms.room(roomId)?.stateEvent('m.room.name')?.content.name;
        return [{ channel: roomChannel(roomId), about: (typeof name === 'string' ? name : roomId).slice(0, MAX_ABOUT) }];
      }),
    waiting: () => notifier.waiting(),
    forgedEvents: () => binding.forged(),
    stop() {
      stopping = true;
      notifier.wakeAll();
    },
    close() {
      stopping = true;
      notifier.wakeAll();
      rooms.close();
      directory.close();
      keyRelay.close();
      binding.close();
      keys.close();
      accounts.close();
    },
  };
}
