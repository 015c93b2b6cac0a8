// What every endpoint of the gateway is given: the services, built once by gateway.ts.

import type { Logger } from 'pino';
import type { AccountStore } from './account-store.ts';
import type { KeyRelay } from './key-relay.ts';
import type { KeyStore } from './key-store.ts';
import type { RoomDirectory } from './room-directory.ts';
import type { EphemeralState } from './ephemeral.ts';
import type { ParsedFilters } from './filters.ts';
import type { SyncNotifier } from './notifier.ts';
import type { KeyedRateLimit } from './rate-limits.ts';
import type { MatrixRooms } from './rooms.ts';
import type { SyncFragments } from './sync-fragments.ts';

export type RegistrationMode = 'open' | 'token' | 'closed';

export interface MatrixSettings {
  /** The server part of user ids and room ids. */
  readonly serverName: string;
  readonly registration: RegistrationMode;
  readonly registrationToken: string | undefined;
  /** Logins and registrations per address per minute; 0 = no limit. */
  readonly loginRate: number;
  /** Events a user may send per second (ten times that in a burst); 0 = no limit. */
  readonly sendRate: number;
}

export const MAX_EVENT_BYTES = 65_536;

export interface MatrixContext {
  readonly settings: MatrixSettings;
  readonly accounts: AccountStore;
  readonly keys: KeyStore;
  readonly keyRelay: KeyRelay;
  readonly rooms: MatrixRooms;
  readonly directory: RoomDirectory;
  readonly notifier: SyncNotifier;
  readonly syncFragments: SyncFragments;
  readonly syncFilters: ParsedFilters;
  readonly ephemeral: EphemeralState;
  readonly loginLimit: KeyedRateLimit;
  readonly sendLimit: KeyedRateLimit;
  readonly log: Logger;
  readonly now: () => number;
  /** Rooms the peer-to-peer directory of public channels lists (with --p2p), by room id. */
  readonly networkPublicRooms: () => readonly string[];
  /** True once the node is stopping: long-polls answer at once. */
  readonly stopping: () => boolean;
}
