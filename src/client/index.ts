// The parley client SDK: the public API, for Node.js (22+) and browsers. Everything not
// exported here is internal. The Node-only file cursor store is a separate entry:
// src/client/file-cursor-store.ts. Protocol: docs/native-protocol.md.

export { ParleyClient } from './client.ts';
export type {
  ClientEvents,
  ClientState,
  Listed,
  ListPublicOptions,
  UnlistPublicOptions,
  Page,
  ParleyClientOptions,
  PublishOptions,
  PublishResult,
  QueryOptions,
  ScrollbackOptions,
} from './client.ts';
export { Subscription } from './subscription.ts';
export type { SubscribeFrom, SubscribeOptions, SubscriptionEvents } from './subscription.ts';
export type { Message } from './wire.ts';
export { ParleyError, CLIENT_ERROR_CODES } from './errors.ts';
export type { ClientErrorCode, ParleyErrorCode } from './errors.ts';
export { ERROR_CODES as PROTOCOL_ERROR_CODES, NATIVE_SUBPROTOCOL } from '../native/frames.ts';
export type { ErrorCode as ProtocolErrorCode } from '../native/frames.ts';
export { MemoryCursorStore } from './cursor-store.ts';
export type { CursorStore } from './cursor-store.ts';
export type { BackoffOptions } from '../timing/backoff.ts';
export type { OutboxLimits } from './outbox.ts';
export type { WebSocketConstructor, WebSocketLike } from './connection.ts';
export { mlesAuth } from '../access/auth.ts';
