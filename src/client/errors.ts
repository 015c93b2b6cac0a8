// The SDK's one error class and its catalogue of codes: the node's own `err` codes
// (docs/native-protocol.md, carried over unchanged) plus the client's. Callers branch on
// `code`, never on the message text.

import { ERROR_CODES } from '../native/frames.ts';
import type { ErrorCode } from '../native/frames.ts';

export const CLIENT_ERROR_CODES = {
  /** The client was closed (close()) before the operation finished. */
  CLOSED: 'the client is closed',
  /** The operation did not finish within its timeout. */
  TIMEOUT: 'timed out',
  /** The operation was cancelled through its AbortSignal. */
  ABORTED: 'aborted',
  /** The first connection could not be made (later drops are retried instead). */
  CONNECT_FAILED: 'could not connect to the node',
  /** The node closed the connection with a code that retrying would only repeat (44xx). */
  REFUSED: 'the node refused the connection',
  /** Too many publishes are waiting for their acks. */
  OUTBOX_FULL: 'too many publishes waiting for an ack',
  /** The publish frame is larger than the node accepts (welcome.max). */
  TOO_LARGE: 'the message is larger than the node accepts',
  /** The cursor store could not read or save a cursor. */
  CURSOR_STORE: 'the cursor store failed',
  /** The node sent a frame this client cannot understand. */
  PROTOCOL: 'unexpected frame from the node',
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;
/** Every code a ParleyError can carry. */
export type ParleyErrorCode = ErrorCode | ClientErrorCode;

export interface ParleyErrorDetails {
  readonly channel?: string | undefined;
  readonly cid?: string | undefined;
  readonly qid?: string | undefined;
  /** With GAP: the oldest seq the node still stores, and its newest. */
  readonly first?: number | undefined;
  readonly last?: number | undefined;
  /** With REFUSED and CONNECT_FAILED: the WebSocket close code, when there was one. */
  readonly closeCode?: number | undefined;
  /** With STORE_FAILED: why the node's store failed (full, unavailable, corrupt, timeout, failed). */
  readonly storeCode?: string | undefined;
  readonly cause?: unknown;
}

export class ParleyError extends Error {
  override readonly name = 'ParleyError';
  readonly code: ParleyErrorCode;
  readonly channel: string | undefined;
  readonly cid: string | undefined;
  readonly qid: string | undefined;
  readonly first: number | undefined;
  readonly last: number | undefined;
  readonly closeCode: number | undefined;
  readonly storeCode: string | undefined;

  constructor(code: ParleyErrorCode, message?: string, details: ParleyErrorDetails = {}) {
    super(message ?? describe(code), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.channel = details.channel;
    this.cid = details.cid;
    this.qid = details.qid;
    this.first = details.first;
    this.last = details.last;
    this.closeCode = details.closeCode;
    this.storeCode = details.storeCode;
  }
}

function describe(code: ParleyErrorCode): string {
  return code in CLIENT_ERROR_CODES ? CLIENT_ERROR_CODES[code as ClientErrorCode] : ERROR_CODES[code as ErrorCode];
}

/** Whether a string is one of the node's error codes. */
export function isProtocolErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}
