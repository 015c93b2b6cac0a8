// The group layer's one error class and its catalogue of stable codes. Callers branch on
// `code`, never on the message text.

export const GROUP_ERROR_CODES = {
  /** The uid has no installation with a usable key package in the directory. */
  NO_KEY_PACKAGES: 'the user has no published key packages (it never ran a group command)',
  /** No local state for this group: not created here, or no Welcome received yet. */
  UNKNOWN_GROUP: 'unknown group',
  /** The group's channel already belongs to another group. */
  GROUP_EXISTS: 'a group with this name already exists',
  /** This installation is no longer a member (removed, or left). */
  NOT_MEMBER: 'this installation is not a member of the group',
  /** Only the group's admin (its creator) may do this (hand the ordering role over). */
  NOT_ADMIN: 'only the group\'s admin may do this',
  /** A uid named in remove() has no installation in the group. */
  UNKNOWN_MEMBER: 'the user is not a member of the group',
  /**
   * The change is submitted but the group's ordering node has not ordered it yet (it
   * may be unreachable): it stays queued and is applied once ordered.
   */
  PENDING: 'the change waits for the group\'s ordering node',
  /** An intent could not be published after several attempts. */
  INTENT_FAILED: 'the change could not be published',
  /** The local state directory or database cannot be used. */
  STATE: 'the local group state cannot be used',
  /** A name (uid, group) is not valid. */
  BAD_NAME: 'invalid name',
  /** The client was closed. */
  CLOSED: 'the group client is closed',
} as const;

export type GroupErrorCode = keyof typeof GROUP_ERROR_CODES;

export class GroupError extends Error {
  override readonly name = 'GroupError';
  readonly code: GroupErrorCode;
  readonly group: string | undefined;

  constructor(code: GroupErrorCode, message?: string, details: { group?: string; cause?: unknown } = {}) {
    super(message ?? GROUP_ERROR_CODES[code], details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.group = details.group;
  }
}
