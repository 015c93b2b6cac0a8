// The typed events a GroupClient emits. Each is emitted after the change it reports has
// been saved, so a listener that reads the database sees it.

import type { GroupError } from './errors.ts';
import type { IntentKind, IntentState, Member, StoredMessage } from './group-records.ts';

/** A message of a group, as stored: its sender verified through MLS. */
export type GroupMessageEvent = StoredMessage;

export interface GroupEvents {
  message: GroupMessageEvent;
  /** A commit changed the group: members added and removed, the new epoch. */
  membership: { readonly group: string; readonly seq: number; readonly epoch: number; readonly by: Member; readonly added: readonly Member[]; readonly removed: readonly Member[] };
  /** This installation joined a group from a Welcome. */
  joined: { readonly group: string; readonly epoch: number; readonly after: number };
  /** This installation is no longer a member (removed by someone, or its leave took effect). */
  removed: { readonly group: string; readonly seq: number; readonly left: boolean };
  /** An envelope that could not be applied and was passed over. */
  skipped: { readonly group: string; readonly seq: number; readonly problem: string; readonly detail: string };
  /**
   * The group's ordering node (or a node between it and this one) broke the order: a
   * gap, or two different records for one place. Commits are no longer applied (members
   * would disagree); messages still are. See `parley group status`.
   */
  misbehaviour: { readonly group: string; readonly seq: number; readonly problem: string; readonly detail: string };
  intent: { readonly group: string; readonly id: number; readonly kind: IntentKind; readonly state: IntentState; readonly error?: string | undefined };
  error: GroupError;
}
