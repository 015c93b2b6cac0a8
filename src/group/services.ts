// What the group layer's parts share, passed in rather than reached for: the local
// database and the group states kept over it, the relay, the cipher suite and MLS config, this installation's identity,
// the key-package directory, test hooks and the event sink.

import type { ClientConfig } from 'ts-mls';
import type { KeyPackageDirectory } from './directory.ts';
import type { GroupEvents } from './events.ts';
import type { GroupRecords } from './group-records.ts';
import type { GroupStates } from './group-states.ts';
import type { InstallationIdentity } from './identity.ts';
import type { LocalState } from './local-state.ts';
import type { CiphersuiteImpl } from './mls.ts';
import type { Relay } from './relay.ts';

/**
 * Points where a test can stop the client as a crash would (by throwing from the hook):
 * after an intent's payload is stored but before it is sent; after it is sent but
 * before it is read back; after a commit is applied but before its Welcome goes out.
 */
export type CrashPoint = 'stored-not-sent' | 'sent-not-read' | 'committed-no-welcome';

export interface GroupHooks {
  reached?(point: CrashPoint, detail: { group: string; intent: number }): void;
}

export interface Services {
  readonly local: LocalState;
  readonly records: GroupRecords;
  readonly states: GroupStates;
  readonly relay: Relay;
  readonly cs: CiphersuiteImpl;
  readonly config: ClientConfig;
  readonly identity: InstallationIdentity;
  readonly directory: KeyPackageDirectory;
  readonly hooks: GroupHooks;
  emit<K extends keyof GroupEvents>(event: K, value: GroupEvents[K]): void;
}
