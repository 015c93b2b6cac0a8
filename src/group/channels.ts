// The relay channels the group layer uses, in one place. Everything under `mls/` is
// opaque to the node: it only orders and stores the bytes.
//
// - mls/dir/<uid>                  one record per installation of uid (identity key),
//                                  discoverable by uid alone
// - mls/kp/<uid>/<installation>    that installation's key packages and retirements
// - mls/inbox/<uid>/<installation> Welcomes addressed to that installation
// - mls/group/<name>               a group's genesis record, commits, proposals and
//                                  application messages, in the order everyone applies

import { GroupError } from './errors.ts';

const NAME = /^[\x21-\x7e]{1,200}$/;

export function checkGroupName(name: string): void {
  if (!NAME.test(name)) throw new GroupError('BAD_NAME', 'a group name is 1-200 printable ASCII characters without spaces');
}

export function checkUid(uid: string): void {
  if (!NAME.test(uid) || uid.includes('/')) throw new GroupError('BAD_NAME', 'a uid for groups is 1-200 printable ASCII characters without spaces or "/"');
}

export const channels = {
  directory: (uid: string): string => `mls/dir/${uid}`,
  keyPackages: (uid: string, installation: string): string => `mls/kp/${uid}/${installation}`,
  inbox: (uid: string, installation: string): string => `mls/inbox/${uid}/${installation}`,
  group: (name: string): string => `mls/group/${name}`,
} as const;
