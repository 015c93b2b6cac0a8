// End-to-end encrypted groups (MLS) for Node.js, on top of the client SDK. This entry is
// separate from src/client/index.ts so the browser bundle of the client stays as it is.

export { GroupClient } from './group-client.ts';
export type { GroupClientOptions, GroupReport, PendingIntent } from './group-client.ts';
export type { GroupEvents, GroupMessageEvent } from './events.ts';
export { GroupError, GROUP_ERROR_CODES } from './errors.ts';
export type { GroupErrorCode } from './errors.ts';
export type { GroupStatus, IntentKind, IntentRow, IntentState, Member, SkippedEnvelope, StoredMessage } from './group-records.ts';
export type { CrashPoint, GroupHooks } from './services.ts';
export type { Relay, RelayMessage } from './relay.ts';
export { ParleyRelay } from './relay.ts';
export { channels } from './channels.ts';
