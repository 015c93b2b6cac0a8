// The Mles v2 join header: the first frame of a connection, a text frame holding
// JSON {uid, channel, auth?}. Parsing is pure and total: every input gives either a
// typed header or a specific reason, never an exception.

import { nameError } from '../access/names.ts';

export interface MlesHeader {
  readonly uid: string;
  readonly channel: string;
  readonly auth: string | undefined;
}

export type HeaderResult =
  | { readonly ok: true; readonly header: MlesHeader }
  | { readonly ok: false; readonly error: string };

/** The WebSocket subprotocol Mles v2 clients offer. */
export const MLES_SUBPROTOCOL = 'mles-websocket';

/**
 * Longest header accepted, in bytes: room for the longest uid and channel, an auth and
 * a few fields more. Headers are stored and replayed to every joiner, so one of a
 * megabyte (any frame size was taken) cost every later join that much to read and send.
 */
export const MAX_HEADER_BYTES = 8192;


export function parseMlesHeader(text: string): HeaderResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'header is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'header must be a JSON object' };
  }
  const fields = value as Record<string, unknown>;
  const error = nameError('uid', fields.uid) ?? nameError('channel', fields.channel);
  if (error !== undefined) return { ok: false, error };
  const auth = fields.auth;
  if (auth !== undefined && auth !== null && typeof auth !== 'string') {
    return { ok: false, error: 'auth must be a string or null' };
  }
  return {
    ok: true,
    header: {
      uid: fields.uid as string,
      channel: fields.channel as string,
      auth: typeof auth === 'string' ? auth : undefined,
    },
  };
}

/**
 * The header as it is stored and replayed to later joiners: the client's own JSON,
 * unknown fields kept, but without `auth` (replaying it would hand a credential to
 * everyone who joins later). Frames without auth are replayed byte for byte.
 */
export function headerForReplay(text: string): string {
  const value = JSON.parse(text) as Record<string, unknown>;
  if (!('auth' in value)) return text;
  delete value.auth;
  return JSON.stringify(value);
}
